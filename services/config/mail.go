package config

import (
	"net/mail"
	"strings"
	"time"
)

// Mail providers.
const (
	ProviderLog      = "log"
	ProviderSendGrid = "sendgrid"
	ProviderSMTP     = "smtp"
)

// SMTP TLS policies.
const (
	SMTPTLSMandatory     = "mandatory"
	SMTPTLSOpportunistic = "opportunistic"
	SMTPTLSNone          = "none"
)

// Defaults of the mail section.
const (
	DefaultProvider        = ProviderLog
	DefaultFrom            = "no-reply@localhost"
	DefaultFromName        = "accountpw"
	DefaultSupportContact  = "your administrator"
	DefaultWorkers         = 4
	DefaultRetryCap        = 10 * time.Minute
	DefaultSendGridBaseURL = "https://api.sendgrid.com"
	DefaultSendTimeout     = 10 * time.Second
	DefaultSMTPPort        = 587
	DefaultSMTPTLS         = SMTPTLSMandatory
)

// Mail configures how emails are sent.
type Mail struct {
	Provider string `yaml:"provider" env:"PROVIDER"`
	From     string `yaml:"from" env:"FROM"`
	FromName string `yaml:"from_name" env:"FROM_NAME"`
	// SupportContact is named in "password changed" notices.
	SupportContact string `yaml:"support_contact" env:"SUPPORT_CONTACT"`
	// AllowLogProvider permits the log mailer with PostgreSQL (test
	// environments only).
	AllowLogProvider bool `yaml:"allow_log_provider" env:"ALLOW_LOG_PROVIDER"`
	// Workers is how many messages one process sends at once.
	Workers int `yaml:"workers" env:"WORKERS"`
	// RetryCap is the longest wait between delivery attempts.
	RetryCap time.Duration `yaml:"retry_cap" env:"RETRY_CAP"`
	SendGrid SendGrid      `yaml:"sendgrid" envPrefix:"SENDGRID_"`
	SMTP     SMTP          `yaml:"smtp" envPrefix:"SMTP_"`
}

// SendGrid configures the SendGrid v3 API.
type SendGrid struct {
	APIKey  string        `yaml:"-" env:"API_KEY"`
	BaseURL string        `yaml:"base_url" env:"BASE_URL"`
	Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
}

// SMTP configures a submission server.
type SMTP struct {
	Host     string        `yaml:"host" env:"HOST"`
	Port     int           `yaml:"port" env:"PORT"`
	Username string        `yaml:"username" env:"USERNAME"`
	Password string        `yaml:"-" env:"PASSWORD"`
	TLS      string        `yaml:"tls" env:"TLS"`
	HELO     string        `yaml:"helo" env:"HELO"`
	Timeout  time.Duration `yaml:"timeout" env:"TIMEOUT"`
}

// DefaultMail returns the mail section's defaults.
func DefaultMail() Mail {
	return Mail{
		Provider: DefaultProvider, From: DefaultFrom, FromName: DefaultFromName,
		SupportContact: DefaultSupportContact, Workers: DefaultWorkers, RetryCap: DefaultRetryCap,
		SendGrid: SendGrid{BaseURL: DefaultSendGridBaseURL, Timeout: DefaultSendTimeout},
		SMTP:     SMTP{Port: DefaultSMTPPort, TLS: DefaultSMTPTLS, Timeout: DefaultSendTimeout},
	}
}

// Validate checks the section, including the settings of the chosen
// provider.
func (m Mail) Validate() error {
	var p problems
	if _, err := mail.ParseAddress(m.From); err != nil {
		p.add("mail.from %q is not an email address: %v", m.From, err)
	}
	if strings.TrimSpace(m.SupportContact) == "" {
		p.add("mail.support_contact must name who to contact; notices cannot be sent without it")
	}
	if m.Workers < 1 {
		p.add("mail.workers must be at least 1, got %d", m.Workers)
	}
	if m.RetryCap <= 0 {
		p.add("mail.retry_cap must be positive, got %s", m.RetryCap)
	}
	switch m.Provider {
	case ProviderLog:
	case ProviderSendGrid:
		if m.SendGrid.APIKey == "" {
			p.add("mail.provider sendgrid needs ACCOUNTPW_MAIL_SENDGRID_API_KEY")
		}
		if m.SendGrid.Timeout <= 0 {
			p.add("mail.sendgrid.timeout must be positive, got %s", m.SendGrid.Timeout)
		}
		if m.SendGrid.BaseURL == "" {
			p.add("mail.sendgrid.base_url must be set")
		}
	case ProviderSMTP:
		if err := m.SMTP.Validate(); err != nil {
			p = append(p, err)
		}
	default:
		p.add("mail.provider must be log, sendgrid or smtp, got %q", m.Provider)
	}
	return p.err()
}

// SubmissionPort is Port, or when it is 0 the port its TLS policy implies:
// 25 without TLS (a local sink), else 587.
func (s SMTP) SubmissionPort() int {
	switch {
	case s.Port != 0:
		return s.Port
	case s.TLS == SMTPTLSNone:
		return 25
	}
	return 587
}

// Validate checks the SMTP settings.
func (s SMTP) Validate() error {
	var p problems
	if s.Host == "" {
		p.add("mail.provider smtp needs mail.smtp.host")
	}
	switch s.TLS {
	case SMTPTLSMandatory, SMTPTLSOpportunistic, SMTPTLSNone:
	default:
		p.add("mail.smtp.tls must be mandatory, opportunistic or none, got %q", s.TLS)
	}
	if s.Port < 0 || s.Port > 65535 {
		p.add("mail.smtp.port must be 0–65535 (0: 25 without TLS, else 587), got %d", s.Port)
	}
	if s.Timeout <= 0 {
		p.add("mail.smtp.timeout must be positive, got %s", s.Timeout)
	}
	return p.err()
}
