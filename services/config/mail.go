package config

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accountpw/accountpw/models"
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
	DefaultProvider = ProviderLog
	DefaultFrom     = "no-reply@localhost"
	// DefaultFromName is empty: the sender's display name is then the
	// product name (see Mail.Sender).
	DefaultFromName     = ""
	DefaultProductName  = "accountpw"
	DefaultProductURL   = ""
	DefaultLocale       = "en"
	DefaultTemplatesDir = ""
	// DefaultSupportContact is empty: the notice then tells the reader, in
	// their language, to contact their administrator.
	DefaultSupportContact  = ""
	DefaultWorkers         = 100
	DefaultRetryCap        = 10 * time.Minute
	DefaultSendGridBaseURL = "https://api.sendgrid.com"
	DefaultSendTimeout     = 10 * time.Second
	DefaultSMTPPort        = 587
	DefaultSMTPTLS         = SMTPTLSMandatory
)

// MaxProductName bounds mail.product_name, which goes into every subject.
const MaxProductName = 64

// MaxWorkers bounds mail.workers: each worker may hold a database
// connection and an outgoing HTTP or SMTP connection at once.
const MaxWorkers = 1000

// Mail configures how emails are sent.
type Mail struct {
	Provider string `yaml:"provider" env:"PROVIDER"`
	From     string `yaml:"from" env:"FROM"`
	// FromName is the sender's display name; see Sender.
	FromName string `yaml:"from_name" env:"FROM_NAME"`
	// ProductName names the product in every subject, greeting and footer,
	// so the recipient knows at a glance which account an email is about.
	ProductName string `yaml:"product_name" env:"PRODUCT_NAME"`
	// ProductURL, when set, is the product's home page, linked in the
	// footer.
	ProductURL string `yaml:"product_url" env:"PRODUCT_URL"`
	// DefaultLocale is the language of an email when neither the account
	// nor the request names a supported one; one of models.Languages.
	DefaultLocale string `yaml:"default_locale" env:"DEFAULT_LOCALE"`
	// TemplatesDir, when set, holds files that replace built-in email
	// templates by name and message files that amend the built-in texts;
	// they are checked when the service starts.
	TemplatesDir string `yaml:"templates_dir" env:"TEMPLATES_DIR"`
	// SupportContact is named in "password changed" notices as who to
	// contact (an address, a phone number, a team); empty means "your
	// administrator" in the email's language.
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
		ProductName: DefaultProductName, ProductURL: DefaultProductURL, DefaultLocale: DefaultLocale,
		TemplatesDir: DefaultTemplatesDir, SupportContact: DefaultSupportContact,
		Workers: DefaultWorkers, RetryCap: DefaultRetryCap,
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
	if hasControl(m.FromName) {
		p.add("mail.from_name must not contain control characters")
	}
	switch name := strings.TrimSpace(m.ProductName); {
	case name == "":
		p.add("mail.product_name must name the product; it is in every subject")
	case utf8.RuneCountInString(name) > MaxProductName || hasControl(name):
		p.add("mail.product_name must be at most %d characters on one line", MaxProductName)
	}
	if m.ProductURL != "" {
		if err := models.CheckServiceURL(m.ProductURL, false); err != nil {
			p.add("mail.product_url: %v", err)
		}
	}
	if !models.Languages.Has(m.DefaultLocale) {
		p.add("mail.default_locale must be one of %s, got %q", strings.Join(models.Languages.Tags(), ", "), m.DefaultLocale)
	}
	if m.SupportContact != "" && strings.TrimSpace(m.SupportContact) == "" {
		p.add("mail.support_contact is blank; name who to contact, or leave it empty for \"your administrator\"")
	}
	if m.Workers < 1 || m.Workers > MaxWorkers {
		p.add("mail.workers must be 1–%d, got %d", MaxWorkers, m.Workers)
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

// Sender is the From of every email: the address of From, with the display
// name FromName if set, else the name written in From ("Name <addr>"), else
// ProductName. So an operator who sets nothing gets the product's name, and
// an explicit from_name always wins. Validate must have accepted m.
func (m Mail) Sender() mail.Address {
	a, err := mail.ParseAddress(m.From)
	if err != nil {
		return mail.Address{Address: m.From, Name: strings.TrimSpace(m.ProductName)}
	}
	switch {
	case strings.TrimSpace(m.FromName) != "":
		a.Name = strings.TrimSpace(m.FromName)
	case a.Name == "":
		a.Name = strings.TrimSpace(m.ProductName)
	}
	return *a
}

// hasControl reports whether s holds a control character, which has no place
// in a header value (a line break would start a new header).
func hasControl(s string) bool { return strings.ContainsFunc(s, unicode.IsControl) }

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
