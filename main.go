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
	"github.com/accountpw/accountpw/services/config"
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
		path = config.DefaultFile
	}
	cfg, err := config.Load(path, explicit, getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	rest := fs.Args()
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	level, _ := cfg.Log.SlogLevel()
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
func open(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*app, error) {
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

func (a *app) wire(ctx context.Context, cfg config.Config, log *slog.Logger) error {
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
func limitsConfig(cfg config.Config) services.LimitsConfig {
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

func hasherConfig(cfg config.Config) services.HasherConfig {
	hc := services.HasherConfig{
		Params: services.HashParams{Memory: cfg.Password.Memory, Time: cfg.Password.Time, Threads: cfg.Password.Threads},
		Slots:  cfg.Password.HashSlots, Wait: cfg.Password.HashWait,
	}
	if cfg.Password.Pepper != "" {
		hc.Pepper, hc.PepperID = []byte(cfg.Password.Pepper), cfg.Password.PepperID
	}
	peppers, _ := cfg.Password.Peppers() // validated by config.Load
	for id, key := range peppers {
		if id != hc.PepperID || hc.Pepper == nil {
			if hc.OldPeppers == nil {
				hc.OldPeppers = map[string][]byte{}
			}
			hc.OldPeppers[id] = key
		}
	}
	return hc
}

func newMailer(cfg config.Config, log *slog.Logger) (services.Mailer, error) {
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
func secrets(cfg config.Config) (jwtSecret, pseudoKey []byte, err error) {
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

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
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
	proxies, _ := cfg.HTTP.TrustedProxyPrefixes() // validated by config.Load
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

func usersCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
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

func tokenCmd(cfg config.Config, args []string, stdout io.Writer) error {
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

func mailCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
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
