package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// ResetEmail is the data of a reset email.
type ResetEmail struct {
	MessageID string
	To        string
	// Language is the tag to write in; see Renderer.Language.
	Language string
	Link     string
	ValidFor time.Duration
}

// NoticeEmail is the data of a "your password was changed" notice.
type NoticeEmail struct {
	MessageID string
	To        string
	Language  string
	Change    models.PasswordMethod
	At        time.Time
	IP        string
	// RequestLink is the page that sends a new reset link, offered to
	// whoever did not make the change (config.Config.RequestPageURL).
	RequestLink string
}

// Renderer writes the emails in every supported language from the templates
// and message files: the built-in ones, or an operator's replacements from
// mail.templates_dir. It is safe for concurrent use.
type Renderer struct {
	product, productURL, support, lang string
	cat                                *catalog
	tpl                                *emailTemplates
}

// NewRenderer loads the templates and messages for the mail section cfg
// (which must have passed Validate) and renders every email in every
// language once with sample data, so that a template or message file that
// does not parse or does not render stops the service at start, the error
// naming the file, instead of failing a send. Errors: that one, or an
// unreadable mail.templates_dir or a file there that accountpw does not read.
func NewRenderer(cfg config.Mail) (*Renderer, error) {
	src, err := findOverrides(cfg.TemplatesDir)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	cat, err := loadCatalog(src)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	tpl, err := parseTemplates(src)
	if err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	r := &Renderer{product: strings.TrimSpace(cfg.ProductName), productURL: cfg.ProductURL,
		support: strings.TrimSpace(cfg.SupportContact), lang: cfg.DefaultLocale, cat: cat, tpl: tpl}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("mail templates: %w", err)
	}
	return r, nil
}

// Language returns the supported tag of the first preference that names a
// supported language (an account's locale, say, then the language stored
// with a request), else the configured mail.default_locale. Empty, malformed
// and unsupported preferences are skipped.
func (r *Renderer) Language(prefs ...string) string {
	for _, p := range prefs {
		if tag := models.Languages.Match(p); tag != "" {
			return tag
		}
	}
	return r.lang
}

// RenderReset renders the reset email in d.Language (see Language). The link
// goes into the text part verbatim and into the HTML part, as a button and
// as visible text, escaped by html/template. It returns an error when To or
// Link is empty or ValidFor is under a second (a link's lifetime is stated in
// whole seconds, never rounded up).
func (r *Renderer) RenderReset(d ResetEmail) (models.Message, error) {
	if d.To == "" || d.Link == "" || d.ValidFor < time.Second {
		return models.Message{}, errors.New("render reset email: to, link and a validity of at least a second are required")
	}
	lang := r.Language(d.Language)
	validFor, err := r.cat.duration(lang, d.ValidFor)
	if err != nil {
		return models.Message{}, fmt.Errorf("render reset email: %w", err)
	}
	w := r.words(d.To)
	w.Link, w.ValidFor = d.Link, validFor
	return r.render(models.MessageReset, d.MessageID, d.To, view{words: w, Lang: lang, cat: r.cat},
		r.tpl.resetText, r.tpl.resetHTML)
}

// RenderNotice renders the password-changed notice in d.Language. It holds
// no token and no password: a notice must be safe to read by whoever holds
// the mailbox; its one link is d.RequestLink. It returns an error when To or
// RequestLink is empty or Change is neither models.MethodReset nor
// models.MethodChange.
func (r *Renderer) RenderNotice(d NoticeEmail) (models.Message, error) {
	if d.To == "" || d.RequestLink == "" || (d.Change != models.MethodReset && d.Change != models.MethodChange) {
		return models.Message{}, errors.New(`render notice email: to, a request link and a change of "reset" or "change" are required`)
	}
	lang := r.Language(d.Language)
	at, err := r.cat.dateTime(lang, d.At)
	if err != nil {
		return models.Message{}, fmt.Errorf("render notice email: %w", err)
	}
	w := r.words(d.To)
	w.At, w.IP, w.RequestLink = at, d.IP, d.RequestLink
	return r.render(models.MessageNotice, d.MessageID, d.To, view{words: w, Lang: lang, Change: string(d.Change), cat: r.cat},
		r.tpl.noticeText, r.tpl.noticeHTML)
}

func (r *Renderer) words(to string) words {
	return words{Product: r.product, ProductURL: r.productURL, Email: to, SupportContact: r.support}
}

// view is what the templates see: the words, the language, the kind of
// change (notice) and T, which renders a message of the language.
type view struct {
	words
	Lang   string
	Change string
	cat    *catalog
}

// T renders message id in the view's language with the view's words.
func (v view) T(id string) (string, error) { return v.cat.text(v.Lang, id, v.words) }

func (r *Renderer) render(kind, id, to string, v view, text *texttemplate.Template, html *htmltemplate.Template) (models.Message, error) {
	var subject, body, page bytes.Buffer
	if err := text.ExecuteTemplate(&subject, "subject", v); err != nil {
		return models.Message{}, fmt.Errorf("render %s subject: %s: %w", kind, r.tpl.origin[text.Name()], err)
	}
	if err := text.Execute(&body, v); err != nil {
		return models.Message{}, fmt.Errorf("render %s text: %s: %w", kind, r.tpl.origin[text.Name()], err)
	}
	if err := html.Execute(&page, v); err != nil {
		return models.Message{}, fmt.Errorf("render %s html: %s: %w", kind, r.tpl.origin[html.Name()], err)
	}
	return models.Message{
		ID: id, Kind: kind, To: to, Language: v.Lang,
		// One line: a subject is a header.
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    body.String(),
		HTML:    page.String(),
	}, nil
}

// check renders every email in every language with sample data: each must
// render, have a subject, and the reset email must hold its link in both
// parts. It reports the first failure: the same broken file would fail
// every language alike.
func (r *Renderer) check() error {
	for _, lang := range Languages() {
		m, err := r.RenderReset(ResetEmail{To: "person@example.com", Language: lang, Link: sampleLink,
			ValidFor: 90 * time.Minute})
		switch {
		case err != nil:
		case m.Subject == "":
			err = fmt.Errorf("%s: the subject is empty", r.tpl.origin[resetTextFile])
		case !strings.Contains(m.Text, sampleLink):
			err = fmt.Errorf("%s: the text must show the link ({{.Link}})", r.tpl.origin[resetTextFile])
		case !strings.Contains(m.HTML, `href="`+sampleLink+`"`):
			err = fmt.Errorf(`%s: the HTML must link to the reset page (href="{{.Link}}")`, r.tpl.origin[resetHTMLFile])
		}
		if err != nil {
			return wrapLang(lang, err)
		}
		for _, change := range []models.PasswordMethod{models.MethodReset, models.MethodChange} {
			m, err := r.RenderNotice(NoticeEmail{To: "person@example.com", Language: lang, Change: change,
				At: time.Date(2030, 1, 2, 9, 5, 0, 0, time.UTC), IP: "192.0.2.1", RequestLink: sampleRequestLink})
			if err == nil && m.Subject == "" {
				err = fmt.Errorf("%s: the subject is empty", r.tpl.origin[noticeTextFile])
			}
			if err != nil {
				return wrapLang(lang, err)
			}
		}
	}
	return nil
}

func wrapLang(lang string, err error) error { return fmt.Errorf("in %s: %w", lang, err) }
