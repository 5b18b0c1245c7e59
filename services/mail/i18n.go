package mail

import (
	"errors"
	"fmt"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/accountpw/accountpw/models"
)

// Negotiate returns the supported language that best fits a request's
// Accept-Language value, or "" when none does (the default then applies at
// send time). The result is a tag from Languages, never the raw header, so it
// is safe to store with a job.
func Negotiate(acceptLanguage string) string { return models.Languages.Negotiate(acceptLanguage) }

// Languages returns the tags the emails are written in.
func Languages() []string { return models.Languages.Tags() }

// messageFile is the path of a language's message file, in templates.FS and
// under mail.templates_dir.
func messageFile(lang string) string { return "i18n/email." + lang + ".toml" }

// words is what a message may refer to. Every message gets all of it, so an
// operator's message file is checked with the same data it will get. Only
// the fields its message id is about are set (see email.en.toml).
type words struct {
	Product, ProductURL, Email, SupportContact string
	Link, ValidFor                             string // reset email
	At, IP, RequestLink                        string // notice
	// Date parts for date_time.
	Day, Year, Hour     int
	Month, Time, Minute string
	// Duration parts for duration_pair and the plurals.
	Major, Minor string
	Count        int
}

// catalog holds the messages of every language.
type catalog struct {
	bundle     *i18n.Bundle
	localizers map[string]*i18n.Localizer
	ids        map[string]bool // the message ids of the built-in English file
	plural     map[string]bool // ids whose messages have plural forms
}

func newCatalog() *catalog {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	return &catalog{bundle: b, localizers: map[string]*i18n.Localizer{}, ids: map[string]bool{}, plural: map[string]bool{}}
}

// add parses one message file of lang and returns its message ids. A
// built-in file defines the ids (the English one, read first) or must have
// exactly them; an operator's file may only change messages that exist.
// Errors name name.
func (c *catalog) add(lang, name string, buf []byte, builtin bool) ([]string, error) {
	f, err := i18n.ParseMessageFileBytes(buf, name, map[string]i18n.UnmarshalFunc{"toml": toml.Unmarshal})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	first := builtin && len(c.ids) == 0
	ids := make([]string, 0, len(f.Messages))
	for _, m := range f.Messages {
		if first {
			c.ids[m.ID] = true
			c.plural[m.ID] = m.One != ""
		} else if !c.ids[m.ID] {
			return nil, fmt.Errorf("%s: unknown message id %q", name, m.ID)
		}
		ids = append(ids, m.ID)
	}
	if builtin && len(ids) != len(c.ids) {
		// Every id is known and none repeats (TOML refuses duplicate keys),
		// so a short count means a message is missing: it would quietly fall
		// back to English.
		return nil, fmt.Errorf("%s: has %d of the %d messages", name, len(ids), len(c.ids))
	}
	if err := c.bundle.AddMessages(language.Make(lang), f.Messages...); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if c.localizers[lang] == nil {
		c.localizers[lang] = i18n.NewLocalizer(c.bundle, lang)
	}
	return ids, nil
}

// text renders message id in lang with data. A message that lang lacks is an
// error, never a silent English fallback.
func (c *catalog) text(lang, id string, data words) (string, error) {
	lc := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if c.plural[id] {
		lc.PluralCount = data.Count
	}
	loc := c.localizers[lang]
	if loc == nil {
		return "", fmt.Errorf("no messages in language %q", lang)
	}
	s, tag, err := loc.LocalizeWithTag(lc)
	if err != nil {
		return "", fmt.Errorf("message %q (%s): %w", id, lang, err)
	}
	if tag.String() != lang {
		return "", fmt.Errorf("message %q has no %s text", id, lang)
	}
	return s, nil
}

// duration says how long d is in lang, never more than it is: whole hours
// and minutes from an hour on ("1 hour 30 minutes"), minutes and seconds from
// a minute on, else seconds; whatever is left over is dropped, so the email
// never promises more time than the link has.
func (c *catalog) duration(lang string, d time.Duration) (string, error) {
	unit := func(id string, n int) (string, error) { return c.text(lang, id, words{Count: n}) }
	var major, minor string
	var err, err2 error
	switch {
	case d >= time.Hour:
		major, err = unit("duration_hours", int(d/time.Hour))
		if m := int(d % time.Hour / time.Minute); m > 0 {
			minor, err2 = unit("duration_minutes", m)
		}
	case d >= time.Minute:
		major, err = unit("duration_minutes", int(d/time.Minute))
		if s := int(d % time.Minute / time.Second); s > 0 {
			minor, err2 = unit("duration_seconds", s)
		}
	default:
		major, err = unit("duration_seconds", int(d/time.Second))
	}
	if err := errors.Join(err, err2); err != nil {
		return "", fmt.Errorf("duration: %w", err)
	}
	if minor == "" {
		return major, nil
	}
	return c.text(lang, "duration_pair", words{Major: major, Minor: minor})
}

// dateTime says when t was in lang, in UTC to the minute.
func (c *catalog) dateTime(lang string, t time.Time) (string, error) {
	t = t.UTC()
	month, err := c.text(lang, fmt.Sprintf("month_%d", t.Month()), words{})
	if err != nil {
		return "", err
	}
	return c.text(lang, "date_time", words{Day: t.Day(), Month: month, Year: t.Year(), Hour: t.Hour(),
		Minute: fmt.Sprintf("%02d", t.Minute()), Time: fmt.Sprintf("%d:%02d", t.Hour(), t.Minute())})
}
