package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/templates"
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

// ResetEmail is the data of a reset email.
type ResetEmail struct {
	MessageID string
	To        string
	Link      string
	ValidFor  time.Duration
}

// NoticeEmail is the data of a "your password was changed" notice.
type NoticeEmail struct {
	MessageID      string
	To             string
	Change         string // "reset" or "change"
	At             time.Time
	IP             string
	SupportContact string
}

// The templates are parsed once; a broken template stops the binary at start
// rather than at the first reset request.
var (
	resetText  = texttemplate.Must(texttemplate.ParseFS(templates.FS, "reset.txt.tmpl"))
	resetHTML  = htmltemplate.Must(htmltemplate.ParseFS(templates.FS, "reset.html.tmpl"))
	noticeText = texttemplate.Must(texttemplate.ParseFS(templates.FS, "notice.txt.tmpl"))
	noticeHTML = htmltemplate.Must(htmltemplate.ParseFS(templates.FS, "notice.html.tmpl"))
)

// RenderReset renders the reset email from templates. The link goes into the
// text part verbatim and into the HTML part escaped by html/template. It
// returns an error when To or Link is empty or ValidFor is not positive.
func RenderReset(d ResetEmail) (models.Message, error) {
	if d.To == "" || d.Link == "" || d.ValidFor <= 0 {
		return models.Message{}, errors.New("render reset email: to, link and a positive validity are required")
	}
	view := struct{ Link, ValidFor string }{d.Link, humanDuration(d.ValidFor)}
	return render(models.MessageReset, d.MessageID, d.To, resetText, resetHTML, view)
}

// RenderNotice renders the password-changed notice from templates. It holds
// no token, no link and no password (R-MAIL-5). It returns an error when To or
// SupportContact is empty or Change is neither "reset" nor "change".
func RenderNotice(d NoticeEmail) (models.Message, error) {
	action := map[string]string{"reset": "reset", "change": "changed"}[d.Change]
	if d.To == "" || d.SupportContact == "" || action == "" {
		return models.Message{}, errors.New(`render notice email: to, support contact and a change of "reset" or "change" are required`)
	}
	view := struct{ Action, At, IP, SupportContact string }{
		action, d.At.UTC().Format(time.RFC1123), d.IP, d.SupportContact,
	}
	return render(models.MessageNotice, d.MessageID, d.To, noticeText, noticeHTML, view)
}

func render(kind, id, to string, text *texttemplate.Template, html *htmltemplate.Template, view any) (models.Message, error) {
	var subject, body, page bytes.Buffer
	if err := text.ExecuteTemplate(&subject, "subject", view); err != nil {
		return models.Message{}, fmt.Errorf("render %s subject: %w", kind, err)
	}
	if err := text.Execute(&body, view); err != nil {
		return models.Message{}, fmt.Errorf("render %s text: %w", kind, err)
	}
	if err := html.Execute(&page, view); err != nil {
		return models.Message{}, fmt.Errorf("render %s html: %w", kind, err)
	}
	return models.Message{
		ID: id, Kind: kind, To: to,
		Subject: strings.TrimSpace(subject.String()),
		Text:    body.String(),
		HTML:    page.String(),
	}, nil
}

// humanDuration says how long a link lasts in words: whole hours as hours
// ("1 hour", "2 hours"), anything else in minutes rounded up, so the mail
// never promises more time than the token has.
func humanDuration(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
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
