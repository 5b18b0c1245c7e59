package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/accountpw/accountpw/models"
)

// Config is the whole configuration. Fields tagged yaml:"-" are secrets and
// come only from the environment.
type Config struct {
	HTTP     HTTP     `yaml:"http" envPrefix:"HTTP_"`
	Database Database `yaml:"database" envPrefix:"DATABASE_"`
	Reset    Reset    `yaml:"reset" envPrefix:"RESET_"`
	Mail     Mail     `yaml:"mail" envPrefix:"MAIL_"`
	Auth     Auth     `yaml:"auth" envPrefix:"AUTH_"`
	Password Password `yaml:"password" envPrefix:"PASSWORD_"`
	Limits   Limits   `yaml:"limits" envPrefix:"LIMITS_"`
	Log      Log      `yaml:"log" envPrefix:"LOG_"`
	Webhook  Webhook  `yaml:"webhook" envPrefix:"WEBHOOK_"`
	Metrics  Metrics  `yaml:"metrics" envPrefix:"METRICS_"`
	Admin    Admin    `yaml:"admin" envPrefix:"ADMIN_"`
}

// Default returns the configuration before config.yaml and the environment.
func Default() Config {
	return Config{
		HTTP:     DefaultHTTP(),
		Database: DefaultDatabase(),
		Reset:    DefaultReset(),
		Mail:     DefaultMail(),
		Auth:     Auth{},
		Password: DefaultPassword(),
		Limits:   DefaultLimits(),
		Log:      DefaultLog(),
		Webhook:  DefaultWebhook(),
		Metrics:  DefaultMetrics(),
		Admin:    Admin{}, // no address: no admin API
	}
}

// Validate checks every section and the rules that span sections, and
// returns all problems joined, or nil. A problem that names a config.yaml key
// also names its environment variable (see withEnvNames).
func (c *Config) Validate() error {
	problems := []error{
		c.HTTP.Validate(), c.Database.Validate(), c.Reset.Validate(), c.Mail.Validate(),
		c.Auth.Validate(), c.Password.Validate(), c.Limits.Validate(), c.Log.Validate(),
		c.Webhook.Validate(), c.Metrics.Validate(), c.Admin.Validate(),
	}
	if c.Admin.Enabled() && !strings.HasSuffix(c.Admin.Addr, ":0") &&
		(c.Admin.Addr == c.HTTP.Addr || c.Metrics.Enabled() && c.Admin.Addr == c.Metrics.Addr) {
		// One port per listener: the public one must never answer the admin API.
		problems = append(problems, errors.New("admin.addr must differ from http.addr and metrics.addr"))
	}
	if c.Mail.Provider == ProviderLog && c.Database.Postgres() && !c.Mail.AllowLogProvider {
		// The log mailer prints reset links and addresses: fine for the
		// embedded default, a leak anywhere real data lives.
		problems = append(problems, errors.New("mail.provider log prints reset links and addresses to the log; with PostgreSQL choose sendgrid or smtp (or, in a test environment only, set mail.allow_log_provider: true, ACCOUNTPW_MAIL_ALLOW_LOG_PROVIDER=true)"))
	}
	if err := models.CheckServiceURL(c.RequestPageURL(), true); err != nil && c.Reset.Validate() == nil {
		// The notice emails this link: it must be as trustworthy as reset.url.
		problems = append(problems, fmt.Errorf("http.change_password_url is linked from the notice email: %w", err))
	}
	if c.Database.Postgres() && c.Auth.JWTSecret == "" && c.Auth.JWKSURL == "" {
		problems = append(problems, errors.New("with PostgreSQL, set ACCOUNTPW_AUTH_JWT_SECRET or ACCOUNTPW_AUTH_JWKS_URL"))
	}
	return withEnvNames(errors.Join(problems...))
}

// keyPattern matches what may be a config.yaml key in a message: words
// joined by dots ("mail.smtp.host").
var keyPattern = regexp.MustCompile(`[a-z][a-z0-9_]*(\.[a-z0-9_]+)+`)

// withEnvNames adds the environment name after the first mention of each
// config.yaml key on every line of err ("http.addr" becomes "http.addr
// (ACCOUNTPW_HTTP_ADDR)"), unless the line names it already. The sections
// word their problems by YAML key; the names are added here, from the table
// the loader itself reads, so whoever set a variable sees its name and the
// two can never disagree.
func withEnvNames(err error) error {
	if err == nil {
		return nil
	}
	names := map[string]string{}
	for _, v := range Variables() {
		if v.Key != "" {
			names[v.Key] = v.Name
		}
	}
	var out []error
	for line := range strings.Lines(err.Error()) {
		line = strings.TrimSuffix(line, "\n")
		done := map[string]bool{}
		line = keyPattern.ReplaceAllStringFunc(line, func(key string) string {
			name, ok := names[key]
			if !ok || done[key] || strings.Contains(line, name) {
				return key
			}
			done[key] = true
			return key + " (" + name + ")"
		})
		out = append(out, errors.New(line))
	}
	return errors.Join(out...)
}

// RequestPageURL is the page where a person asks for a reset link, which the
// "password changed" notice offers to whoever did not make the change: an
// absolute http.change_password_url, else that local path (or the built-in
// request page when it is empty) on the origin of reset.url. It comes only
// from configuration, never from a request.
func (c *Config) RequestPageURL() string {
	if u, err := url.Parse(c.HTTP.ChangePasswordURL); err == nil && u.IsAbs() {
		return c.HTTP.ChangePasswordURL
	}
	path := c.HTTP.ChangePasswordURL
	if path == "" {
		path = models.RequestPagePath
	}
	base, err := url.Parse(c.Reset.URL)
	if err != nil {
		return path
	}
	return base.Scheme + "://" + base.Host + path
}

// problems collects the failures of one section's Validate.
type problems []error

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Errorf(format, a...)) }

func (p problems) err() error { return errors.Join(p...) }
