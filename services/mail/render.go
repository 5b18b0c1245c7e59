package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/templates"
)

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
	Change         models.PasswordMethod
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
// no token, no link and no password: a notice must be safe to read by whoever
// holds the mailbox. It returns an error when To or SupportContact is empty
// or Change is neither models.MethodReset nor models.MethodChange.
func RenderNotice(d NoticeEmail) (models.Message, error) {
	action := map[models.PasswordMethod]string{models.MethodReset: "reset", models.MethodChange: "changed"}[d.Change]
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
