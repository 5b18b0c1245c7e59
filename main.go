// Command accountpw serves PUT /api/v1/account/password: reset a forgotten
// password by email, or change a known one with a bearer session.
//
// main.go holds the configuration, the subcommands and the wiring. The
// project's fixed top level allows no other Go file here, so it is longer
// than the house style's 250 lines; each part is a separate section.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/accountpw/accountpw/handlers"
	"github.com/accountpw/accountpw/services"
	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"
)

// processWide is set by main: run may then change process-wide settings
// (the Go memory limit) that tests calling run must not inherit.
var processWide bool

func main() {
	processWide = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "accountpw:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- config

// Config is the whole configuration: defaults in code, then config.yaml
// (unknown keys are an error), then ACCOUNTPW_* environment variables.
// Fields tagged yaml:"-" are secrets and come only from the environment.
type Config struct {
	HTTP struct {
		Addr               string        `yaml:"addr" env:"ADDR"`
		TrustedProxies     []string      `yaml:"trusted_proxies" env:"TRUSTED_PROXIES"`
		CORSAllowedOrigins []string      `yaml:"cors_allowed_origins" env:"CORS_ALLOWED_ORIGINS"`
		TLSCert            string        `yaml:"tls_cert" env:"TLS_CERT"`
		TLSKey             string        `yaml:"tls_key" env:"TLS_KEY"`
		ShutdownTimeout    time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
		ChangePasswordURL  string        `yaml:"change_password_url" env:"CHANGE_PASSWORD_URL"`
	} `yaml:"http" envPrefix:"HTTP_"`
	Database struct {
		URL     string `yaml:"-" env:"URL"` // may carry a password
		Path    string `yaml:"path" env:"PATH"`
		Migrate bool   `yaml:"migrate" env:"MIGRATE"`
	} `yaml:"database" envPrefix:"DATABASE_"`
	Reset struct {
		URL      string        `yaml:"url" env:"URL"`
		TokenTTL time.Duration `yaml:"token_ttl" env:"TOKEN_TTL"`
	} `yaml:"reset" envPrefix:"RESET_"`
	Mail struct {
		Provider         string        `yaml:"provider" env:"PROVIDER"`
		From             string        `yaml:"from" env:"FROM"`
		FromName         string        `yaml:"from_name" env:"FROM_NAME"`
		SupportContact   string        `yaml:"support_contact" env:"SUPPORT_CONTACT"`
		AllowLogProvider bool          `yaml:"allow_log_provider" env:"ALLOW_LOG_PROVIDER"`
		Workers          int           `yaml:"workers" env:"WORKERS"`
		RetryCap         time.Duration `yaml:"retry_cap" env:"RETRY_CAP"`
		SendGrid         struct {
			APIKey  string        `yaml:"-" env:"API_KEY"`
			BaseURL string        `yaml:"base_url" env:"BASE_URL"`
			Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
		} `yaml:"sendgrid" envPrefix:"SENDGRID_"`
		SMTP struct {
			Host     string        `yaml:"host" env:"HOST"`
			Port     int           `yaml:"port" env:"PORT"`
			Username string        `yaml:"username" env:"USERNAME"`
			Password string        `yaml:"-" env:"PASSWORD"`
			TLS      string        `yaml:"tls" env:"TLS"`
			HELO     string        `yaml:"helo" env:"HELO"`
			Timeout  time.Duration `yaml:"timeout" env:"TIMEOUT"`
		} `yaml:"smtp" envPrefix:"SMTP_"`
	} `yaml:"mail" envPrefix:"MAIL_"`
	Auth struct {
		JWTSecret string `yaml:"-" env:"JWT_SECRET"`
		JWKSURL   string `yaml:"jwks_url" env:"JWKS_URL"`
		Issuer    string `yaml:"issuer" env:"ISSUER"`
		Audience  string `yaml:"audience" env:"AUDIENCE"`
	} `yaml:"auth" envPrefix:"AUTH_"`
	Password struct {
		Memory       uint32        `yaml:"argon2_memory_kib" env:"ARGON2_MEMORY_KIB"`
		Time         uint32        `yaml:"argon2_time" env:"ARGON2_TIME"`
		Threads      uint8         `yaml:"argon2_threads" env:"ARGON2_THREADS"`
		HashSlots    int           `yaml:"hash_slots" env:"HASH_SLOTS"`
		HashWait     time.Duration `yaml:"hash_wait" env:"HASH_WAIT"`
		Pepper       string        `yaml:"-" env:"PEPPER"`
		PepperID     string        `yaml:"pepper_id" env:"PEPPER_ID"`
		OldPeppers   string        `yaml:"-" env:"OLD_PEPPERS"` // "id:secret,id:secret"
		MinScore     int           `yaml:"min_score" env:"MIN_SCORE"`
		ContextWords []string      `yaml:"context_words" env:"CONTEXT_WORDS"`
		BreachCheck  struct {
			Enabled    bool          `yaml:"enabled" env:"ENABLED"`
			BaseURL    string        `yaml:"base_url" env:"BASE_URL"`
			Timeout    time.Duration `yaml:"timeout" env:"TIMEOUT"`
			FailClosed bool          `yaml:"fail_closed" env:"FAIL_CLOSED"`
		} `yaml:"breach_check" envPrefix:"BREACH_CHECK_"`
	} `yaml:"password" envPrefix:"PASSWORD_"`
	Limits struct {
		// Disabled turns every rate limit off: only for benchmarks and load
		// tests on a private machine, never in production.
		Disabled            bool          `yaml:"disabled" env:"DISABLED"`
		ClientPerMinute     int           `yaml:"client_per_minute" env:"CLIENT_PER_MINUTE"`
		ResetIPPerMinute    int           `yaml:"reset_per_ip_per_minute" env:"RESET_PER_IP_PER_MINUTE"`
		ResetIPPerHour      int           `yaml:"reset_per_ip_per_hour" env:"RESET_PER_IP_PER_HOUR"`
		ResetAddressPer15m  int           `yaml:"reset_per_address_per_15m" env:"RESET_PER_ADDRESS_PER_15M"`
		ResetAddressPer24h  int           `yaml:"reset_per_address_per_24h" env:"RESET_PER_ADDRESS_PER_24H"`
		TokenFailuresPer15m int           `yaml:"token_failures_per_ip_per_15m" env:"TOKEN_FAILURES_PER_IP_PER_15M"`
		ChangeFailures      int           `yaml:"change_failures" env:"CHANGE_FAILURES"`
		ChangeBackoff       time.Duration `yaml:"change_backoff" env:"CHANGE_BACKOFF"`
		ChangeBackoffMax    time.Duration `yaml:"change_backoff_max" env:"CHANGE_BACKOFF_MAX"`
	} `yaml:"limits" envPrefix:"LIMITS_"`
	Log struct {
		Level        string `yaml:"level" env:"LEVEL"`
		PseudonymKey string `yaml:"-" env:"PSEUDONYM_KEY"`
	} `yaml:"log" envPrefix:"LOG_"`
}

// defaults returns the configuration before config.yaml and the environment.
func defaults() Config {
	var c Config
	c.HTTP.Addr = ":8080"
	c.HTTP.ShutdownTimeout = 15 * time.Second
	c.Database.Path = services.DefaultSQLitePath
	c.Database.Migrate = true
	c.Reset.URL = "http://localhost:8080/password-reset"
	c.Reset.TokenTTL = 30 * time.Minute
	c.Mail.Provider = "log"
	c.Mail.From = "no-reply@localhost"
	c.Mail.FromName = "accountpw"
	c.Mail.SupportContact = "your administrator"
	c.Mail.Workers = 4
	c.Mail.RetryCap = 10 * time.Minute
	c.Mail.SendGrid.BaseURL = "https://api.sendgrid.com"
	c.Mail.SendGrid.Timeout = 10 * time.Second
	c.Mail.SMTP.Port = 587
	c.Mail.SMTP.TLS = "mandatory"
	c.Mail.SMTP.Timeout = 10 * time.Second
	c.Password.Memory = 64 * 1024
	c.Password.Time = 3
	c.Password.Threads = 4
	c.Password.HashWait = 200 * time.Millisecond
	c.Password.PepperID = "1"
	c.Password.MinScore = 3
	c.Password.ContextWords = []string{"accountpw"}
	c.Password.BreachCheck.BaseURL = "https://api.pwnedpasswords.com"
	c.Password.BreachCheck.Timeout = 2 * time.Second
	c.Limits.ClientPerMinute = 120
	c.Limits.ResetIPPerMinute, c.Limits.ResetIPPerHour = 10, 50
	c.Limits.ResetAddressPer15m, c.Limits.ResetAddressPer24h = 3, 10
	c.Limits.TokenFailuresPer15m = 10
	c.Limits.ChangeFailures = 10
	c.Limits.ChangeBackoff, c.Limits.ChangeBackoffMax = time.Minute, time.Hour
	c.Log.Level = "info"
	return c
}

// loadConfig reads path (if it exists; a missing default path is fine) and
// the environment over the defaults, then checks the result. Every problem
// is reported together.
func loadConfig(path string, explicit bool, getenv func(string) string) (Config, error) {
	c := defaults()
	var problems []error
	if f, err := os.Open(path); err == nil {
		dec := yaml.NewDecoder(f)
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			problems = append(problems, fmt.Errorf("%s: %w", path, err))
		}
		f.Close()
	} else if explicit || !errors.Is(err, os.ErrNotExist) {
		problems = append(problems, fmt.Errorf("config: %w", err))
	}
	opts := env.Options{Prefix: "ACCOUNTPW_", Environment: map[string]string{}}
	params, err := env.GetFieldParamsWithOptions(&c, opts)
	if err != nil {
		return c, err
	}
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			opts.Environment[p.Key] = v
		}
	}
	if err := env.ParseWithOptions(&c, opts); err != nil {
		problems = append(problems, err)
	}
	problems = append(problems, c.check()...)
	return c, errors.Join(problems...)
}

func (c *Config) check() []error {
	var p []error
	bad := func(format string, a ...any) { p = append(p, fmt.Errorf(format, a...)) }
	if c.Reset.TokenTTL <= 0 || c.Reset.TokenTTL > time.Hour {
		bad("reset.token_ttl must be more than 0 and at most 60m, got %s", c.Reset.TokenTTL)
	}
	if u, err := url.Parse(c.Reset.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		bad("reset.url must be an absolute http(s) URL without a query, got %q", c.Reset.URL)
	} else if u.Scheme == "http" && !loopback(u.Hostname()) {
		bad("reset.url must use https (plain http only for localhost), got %q", c.Reset.URL)
	}
	switch c.Mail.Provider {
	case "log":
		// The log mailer prints reset links and addresses: fine for the
		// embedded default, a leak anywhere real data lives.
		if c.Database.URL != "" && !c.Mail.AllowLogProvider {
			bad("mail.provider log prints reset links and addresses to the log; with PostgreSQL choose sendgrid or smtp (or set mail.allow_log_provider for a test environment)")
		}
	case "sendgrid":
		if c.Mail.SendGrid.APIKey == "" {
			bad("mail.provider sendgrid needs ACCOUNTPW_MAIL_SENDGRID_API_KEY")
		}
	case "smtp":
		if c.Mail.SMTP.Host == "" {
			bad("mail.provider smtp needs mail.smtp.host")
		}
		if t := c.Mail.SMTP.TLS; t != "mandatory" && t != "opportunistic" && t != "none" {
			bad("mail.smtp.tls must be mandatory, opportunistic or none, got %q", t)
		}
	default:
		bad("mail.provider must be log, sendgrid or smtp, got %q", c.Mail.Provider)
	}
	if c.Database.URL != "" && c.Auth.JWTSecret == "" && c.Auth.JWKSURL == "" {
		bad("with PostgreSQL, set ACCOUNTPW_AUTH_JWT_SECRET or ACCOUNTPW_AUTH_JWKS_URL")
	}
	if c.Auth.JWTSecret != "" && c.Auth.JWKSURL != "" {
		bad("set only one of ACCOUNTPW_AUTH_JWT_SECRET and ACCOUNTPW_AUTH_JWKS_URL")
	}
	if c.Auth.JWTSecret != "" && len(c.Auth.JWTSecret) < 32 {
		bad("ACCOUNTPW_AUTH_JWT_SECRET must have at least 32 bytes")
	}
	if strings.TrimSpace(c.Mail.SupportContact) == "" {
		bad("mail.support_contact must name who to contact; notices cannot be sent without it")
	}
	for name, n := range map[string]int{"client_per_minute": c.Limits.ClientPerMinute,
		"reset_per_ip_per_minute": c.Limits.ResetIPPerMinute, "reset_per_ip_per_hour": c.Limits.ResetIPPerHour,
		"reset_per_address_per_15m": c.Limits.ResetAddressPer15m, "reset_per_address_per_24h": c.Limits.ResetAddressPer24h,
		"token_failures_per_ip_per_15m": c.Limits.TokenFailuresPer15m, "change_failures": c.Limits.ChangeFailures} {
		if n < 1 {
			bad("limits.%s must be at least 1, got %d", name, n)
		}
	}
	if c.Limits.ChangeFailures > 99 {
		bad("limits.change_failures must stay below 100 (NIST SP 800-63B-4 §3.2.2)")
	}
	if c.Limits.ChangeBackoff <= 0 || c.Limits.ChangeBackoffMax < c.Limits.ChangeBackoff {
		bad("limits.change_backoff must be positive and at most limits.change_backoff_max")
	}
	if c.Password.MinScore < 1 || c.Password.MinScore > 4 {
		bad("password.min_score must be 1–4, got %d", c.Password.MinScore)
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		bad("%v", err)
	}
	if _, err := parsePrefixes(c.HTTP.TrustedProxies); err != nil {
		bad("http.trusted_proxies: %v", err)
	}
	for _, o := range c.HTTP.CORSAllowedOrigins {
		if u, err := url.Parse(o); o == "null" || o == "*" || err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			bad("http.cors_allowed_origins: %q is not an exact origin like https://app.example.com", o)
		}
	}
	if u := c.HTTP.ChangePasswordURL; u != "" {
		p, err := url.Parse(u)
		local := strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//")
		if err != nil || !(local || (p.Scheme == "https" || p.Scheme == "http") && p.Host != "") {
			bad("http.change_password_url must be a local path like /password-reset/request or an absolute http(s) URL, got %q", u)
		}
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		bad("http.tls_cert and http.tls_key go together")
	}
	if c.Password.Pepper != "" && len(c.Password.Pepper) < 32 {
		bad("ACCOUNTPW_PASSWORD_PEPPER must have at least 32 bytes")
	}
	return p
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("log.level must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ---------------------------------------------------------------- run

const usage = `usage: accountpw [--config PATH] [serve | migrate | users create --email E --password-stdin |
                 token --user-id ID [--ttl 15m] | mail failed | mail retry ID]`

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("accountpw", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "", "configuration file (default ./config.yaml if present)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	path, explicit := *cfgPath, *cfgPath != ""
	if !explicit {
		path = "config.yaml"
	}
	cfg, err := loadConfig(path, explicit, getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	rest := fs.Args()
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	level, _ := parseLevel(cfg.Log.Level)
	if cmd != "serve" {
		// One-shot commands print their result on stdout; only problems
		// may join it there.
		level = max(level, slog.LevelWarn)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: level}))
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		a, err := open(ctx, cfg, log, true)
		if err != nil {
			return err
		}
		defer a.close()
		log.Info("migrated")
		return nil
	case "users":
		return usersCmd(ctx, cfg, log, rest, stdin, stdout)
	case "token":
		return tokenCmd(cfg, rest, stdout)
	case "mail":
		return mailCmd(ctx, cfg, log, rest, stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// app is the wired service.
type app struct {
	db        *services.DB
	queue     *services.Queue
	passwords *services.Passwords
	limits    *services.Limits
	secret    []byte
}

func (a *app) close() { a.db.Close() }

// open connects, migrates when asked, and wires every service.
func open(ctx context.Context, cfg Config, log *slog.Logger, migrate bool) (*app, error) {
	db, err := services.OpenDB(cfg.Database.URL, cfg.Database.Path, log)
	if err != nil {
		return nil, err
	}
	a := &app{db: db}
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := a.wire(ctx, cfg, log); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) wire(ctx context.Context, cfg Config, log *slog.Logger) error {
	secret, pseudoKey, err := secrets(cfg)
	if err != nil {
		return err
	}
	a.secret = secret
	hasher, err := services.NewHasher(hasherConfig(cfg))
	if err != nil {
		return err
	}
	mailer, err := newMailer(cfg, log)
	if err != nil {
		return err
	}
	pseudo := services.NewPseudonymizer(pseudoKey)
	a.limits = services.NewLimits(a.db, limitsConfig(cfg), time.Now)
	a.queue, err = services.NewQueue(a.db, services.QueueConfig{
		Housekeeping: func(ctx context.Context) error { _, err := a.limits.Cleanup(ctx); return err },
		Mailer:       mailer, ResetURL: cfg.Reset.URL, TokenTTL: cfg.Reset.TokenTTL,
		SupportContact: cfg.Mail.SupportContact, Workers: cfg.Mail.Workers, RetryCap: cfg.Mail.RetryCap,
		Pseudonym: pseudo.Email,
	}, log)
	if err != nil {
		return err
	}
	sessions, err := services.NewSessions(ctx, a.db.Gorm, services.SessionsConfig{
		Secret: secret, JWKSURL: cfg.Auth.JWKSURL, Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience,
	})
	if err != nil {
		return err
	}
	a.passwords = services.NewPasswords(services.PasswordsDeps{
		DB: a.db, Hasher: hasher, Queue: a.queue, Sessions: sessions, Pseudo: pseudo, Log: log,
		Policy: services.NewPolicy(services.PolicyConfig{MinScore: cfg.Password.MinScore, ContextWords: cfg.Password.ContextWords,
			Slots: cfg.Password.HashSlots, Wait: cfg.Password.HashWait,
			HIBP: services.HIBPConfig{Enabled: cfg.Password.BreachCheck.Enabled, BaseURL: cfg.Password.BreachCheck.BaseURL,
				Timeout: cfg.Password.BreachCheck.Timeout, FailClosed: cfg.Password.BreachCheck.FailClosed}}),
		Limits: a.limits,
	})
	return nil
}

// limitsConfig maps the configuration onto the limiter's windows.
func limitsConfig(cfg Config) services.LimitsConfig {
	l := cfg.Limits
	r := func(n int, per time.Duration) services.Rate { return services.Rate{Max: n, Per: per} }
	return services.LimitsConfig{
		Disabled:         l.Disabled,
		Client:           r(l.ClientPerMinute, time.Minute),
		ResetClient:      r(l.ResetIPPerMinute, time.Minute),
		ResetClientLong:  r(l.ResetIPPerHour, time.Hour),
		ResetAddress:     r(l.ResetAddressPer15m, 15*time.Minute),
		ResetAddressLong: r(l.ResetAddressPer24h, 24*time.Hour),
		TokenFailures:    r(l.TokenFailuresPer15m, 15*time.Minute),
		ChangeFailures:   r(l.ChangeFailures, 24*time.Hour),
		ChangeBackoff:    l.ChangeBackoff, ChangeBackoffMax: l.ChangeBackoffMax,
	}
}

func hasherConfig(cfg Config) services.HasherConfig {
	hc := services.HasherConfig{
		Params: services.HashParams{Memory: cfg.Password.Memory, Time: cfg.Password.Time, Threads: cfg.Password.Threads},
		Slots:  cfg.Password.HashSlots, Wait: cfg.Password.HashWait,
	}
	if cfg.Password.Pepper != "" {
		hc.Pepper, hc.PepperID = []byte(cfg.Password.Pepper), cfg.Password.PepperID
	}
	for _, kv := range strings.Split(cfg.Password.OldPeppers, ",") {
		if id, key, ok := strings.Cut(strings.TrimSpace(kv), ":"); ok {
			if hc.OldPeppers == nil {
				hc.OldPeppers = map[string][]byte{}
			}
			hc.OldPeppers[id] = []byte(key)
		}
	}
	return hc
}

func newMailer(cfg Config, log *slog.Logger) (services.Mailer, error) {
	m := cfg.Mail
	switch m.Provider {
	case "sendgrid":
		return services.NewSendGrid(services.SendGridConfig{APIKey: m.SendGrid.APIKey, BaseURL: m.SendGrid.BaseURL,
			From: m.From, FromName: m.FromName, Timeout: m.SendGrid.Timeout}), nil
	case "smtp":
		return services.NewSMTP(services.SMTPConfig{Host: m.SMTP.Host, Port: m.SMTP.Port, Username: m.SMTP.Username,
			Password: m.SMTP.Password, TLS: m.SMTP.TLS, From: m.From, HELO: m.SMTP.HELO, Timeout: m.SMTP.Timeout})
	}
	return services.NewLogMailer(log, m.From), nil
}

// secrets returns the HS256 secret and the log pseudonym key. On the
// embedded default a missing secret is generated once into the data
// directory (mode 0600) so that serve and token agree across restarts.
func secrets(cfg Config) (jwtSecret, pseudoKey []byte, err error) {
	if cfg.Auth.JWTSecret != "" {
		jwtSecret = []byte(cfg.Auth.JWTSecret)
	} else if cfg.Auth.JWKSURL == "" {
		if jwtSecret, err = fileSecret(filepath.Join(filepath.Dir(cfg.Database.Path), "jwt_secret")); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case cfg.Log.PseudonymKey != "":
		pseudoKey = []byte(cfg.Log.PseudonymKey)
	case jwtSecret != nil:
		m := hmac.New(sha256.New, jwtSecret)
		m.Write([]byte("accountpw log pseudonym key"))
		pseudoKey = m.Sum(nil)
	default:
		pseudoKey = make([]byte, 32)
		_, _ = rand.Read(pseudoKey)
	}
	return jwtSecret, pseudoKey, nil
}

func fileSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 64 {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	b := []byte(hex.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return os.ReadFile(path) // another process won the race
	}
	if err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return nil, fmt.Errorf("generate JWT secret: %w", err)
	}
	return b, nil
}

// ---------------------------------------------------------------- serve

func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	if processWide && os.Getenv("GOMEMLIMIT") == "" {
		// argon2id allocates its whole matrix per hash; without a limit the
		// garbage collector lets freed matrices pile up to twice the live
		// heap. The soft limit keeps the process near its hashing budget.
		slots := cfg.Password.HashSlots
		if slots <= 0 {
			slots = runtime.GOMAXPROCS(0)
		}
		debug.SetMemoryLimit(int64(slots)*int64(cfg.Password.Memory)<<10 + 48<<20)
	}
	a, err := open(ctx, cfg, log, cfg.Database.Migrate)
	if err != nil {
		return err
	}
	defer a.close()
	proxies, _ := parsePrefixes(cfg.HTTP.TrustedProxies)
	e := handlers.New(a.passwords, handlers.Options{
		Logger: log, TrustedProxies: proxies, CORSOrigins: cfg.HTTP.CORSAllowedOrigins,
		TLS: cfg.HTTP.TLSCert != "", ChangePasswordURL: cfg.HTTP.ChangePasswordURL,
	})
	srv := &http.Server{
		Handler: e, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := a.queue.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.HTTP.TLSCert != "" {
			srv.TLSConfig = tlsConfig()
			errc <- srv.ServeTLS(ln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.Bool("tls", cfg.HTTP.TLSCert != ""),
		slog.Bool("postgres", a.db.Postgres), slog.String("mail_provider", cfg.Mail.Provider))

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	// Stop accepting, finish in-flight requests, then let in-flight sends
	// finish; each within the shutdown bound.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", serr)
	}
	if qerr := a.queue.Stop(sctx); qerr != nil {
		log.Warn("queue stopped with jobs in flight; they will be retried", slog.String("error", qerr.Error()))
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// tlsConfig allows TLS 1.2 and 1.3 only, with Go's default (AEAD, forward
// secret) cipher suites.
func tlsConfig() *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12} }

// ---------------------------------------------------------------- commands

func usersCmd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: accountpw users create --email E --password-stdin")
	}
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "address of the account")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := fs.Parse(args[1:]); err != nil || *email == "" || !*fromStdin {
		return errors.New("usage: accountpw users create --email E --password-stdin")
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	a, err := open(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.passwords.CreateUser(ctx, *email, line)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return json.NewEncoder(stdout).Encode(map[string]string{"id": u.ID, "email": u.Email})
}

func tokenCmd(cfg Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("user-id", "", "account id (the sub claim)")
	ttl := fs.Duration("ttl", 15*time.Minute, "lifetime")
	if err := fs.Parse(args); err != nil || *id == "" || *ttl <= 0 {
		return errors.New("usage: accountpw token --user-id ID [--ttl 15m]")
	}
	secret, _, err := secrets(cfg)
	if err != nil {
		return err
	}
	if secret == nil {
		return errors.New("token: no HS256 secret is configured (JWKS mode)")
	}
	tok, err := services.IssueToken(secret, *id, cfg.Auth.Issuer, cfg.Auth.Audience, time.Now(), *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func mailCmd(ctx context.Context, cfg Config, log *slog.Logger, args []string, stdout io.Writer) error {
	const u = "usage: accountpw mail failed | accountpw mail retry ID"
	if len(args) == 0 {
		return errors.New(u)
	}
	a, err := open(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer a.close()
	switch {
	case args[0] == "failed" && len(args) == 1:
		dl, err := a.queue.DeadLetters(ctx, 100)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, d := range dl {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	case args[0] == "retry" && len(args) == 2:
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return errors.New(u)
		}
		if err := a.queue.Retry(ctx, id); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "message %d queued again\n", id)
		return err
	}
	return errors.New(u)
}
