package config

import (
	"errors"
	"fmt"
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
		Webhook:  Webhook{}, // no URL: no events
	}
}

// Validate checks every section and the rules that span sections, and
// returns all problems joined, or nil.
func (c *Config) Validate() error {
	problems := []error{
		c.HTTP.Validate(), c.Database.Validate(), c.Reset.Validate(), c.Mail.Validate(),
		c.Auth.Validate(), c.Password.Validate(), c.Limits.Validate(), c.Log.Validate(),
		c.Webhook.Validate(),
	}
	if c.Mail.Provider == ProviderLog && c.Database.Postgres() && !c.Mail.AllowLogProvider {
		// The log mailer prints reset links and addresses: fine for the
		// embedded default, a leak anywhere real data lives.
		problems = append(problems, errors.New("mail.provider log prints reset links and addresses to the log; with PostgreSQL choose sendgrid or smtp (or set mail.allow_log_provider for a test environment)"))
	}
	if c.Database.Postgres() && c.Auth.JWTSecret == "" && c.Auth.JWKSURL == "" {
		problems = append(problems, errors.New("with PostgreSQL, set ACCOUNTPW_AUTH_JWT_SECRET or ACCOUNTPW_AUTH_JWKS_URL"))
	}
	return errors.Join(problems...)
}

// problems collects the failures of one section's Validate.
type problems []error

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Errorf(format, a...)) }

func (p problems) err() error { return errors.Join(p...) }
