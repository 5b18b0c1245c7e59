// Package mail renders accountpw's emails and delivers them through one of
// three providers: SendGrid's v3 API, SMTP, or the log (for development).
// Every failure a provider reports is a *SendError that says whether to
// retry, never carrying the message body, the recipient or a token.
//
// Rendering (Renderer) takes the structure of each email from templates/ and
// its words from one go-i18n message file per language; an operator may
// replace either from mail.templates_dir, checked when the Renderer is built.
// The language of a request is negotiated here (Negotiate) from the
// languages models.Languages lists.
//
// It imports models, config, templates, sendgrid-go, go-mail, go-i18n (with
// its TOML decoder) and golang.org/x/text and x/net/idna.
package mail

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// Mailer delivers one rendered message. Implementations: SendGrid, SMTP, the
// log mailer (development) and test fakes.
type Mailer interface {
	// Send delivers m. A failure the queue should classify is a *SendError;
	// any other error is treated as temporary.
	Send(ctx context.Context, m models.Message) error
}

// SendError is a classified delivery failure.
type SendError struct {
	// Permanent failures are never retried (dead letter at once).
	Permanent bool
	// RetryAfter, when positive, is the provider's requested wait (429).
	RetryAfter time.Duration
	// Status is the provider's status (HTTP or SMTP code), 0 if none.
	Status int
	// Reason is the provider's error text; never contains the message body.
	Reason string
}

func (e *SendError) Error() string { return "send: " + e.Reason }

// New returns the Mailer of cfg's provider; the log provider writes to log.
// cfg must have passed Validate. Errors: an SMTP client that cannot be set
// up.
func New(cfg config.Mail, log *slog.Logger) (Mailer, error) {
	switch cfg.Provider {
	case config.ProviderSendGrid:
		return NewSendGrid(cfg), nil
	case config.ProviderSMTP:
		return NewSMTP(cfg)
	}
	from := cfg.Sender()
	return NewLog(log, from.String()), nil
}

// maxReason caps SendError.Reason: enough for a provider's explanation, too
// short to smuggle a message body into a log line.
const maxReason = 300

// tokenParam matches a reset token wherever a provider might echo a link.
var tokenParam = regexp.MustCompile(`token=[^\s&"'<>]*`)

// cleanReason makes provider text safe for SendError.Reason, which is logged:
// every secret (recipient, password) and any token= value is replaced,
// control characters become spaces, and the result is cut at maxReason bytes
// on a rune boundary.
func cleanReason(s string, secrets ...string) string {
	s = tokenParam.ReplaceAllString(s, "token=[redacted]")
	for _, secret := range secrets {
		if secret != "" {
			// Servers echo addresses in their own case.
			s = regexp.MustCompile("(?i)"+regexp.QuoteMeta(secret)).ReplaceAllLiteralString(s, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
