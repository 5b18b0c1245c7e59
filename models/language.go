package models

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"
)

// MaxAcceptLanguage caps the Accept-Language value accountpw reads, in bytes.
// Browsers send well under 100; anything longer is cut at the last whole
// entry, so a client cannot make a request carry or parse an unbounded
// header into the queue.
const MaxAcceptLanguage = 256

// maxLanguageRanges is how many entries of an Accept-Language value are
// considered at most.
const maxLanguageRanges = 16

// maxLocale bounds an account's stored locale: the longest sensible BCP 47
// tag (language, script, region and a variant) fits easily.
const maxLocale = 35

// LanguageSet is a list of supported languages (BCP 47 tags) and the rule that
// picks one of them for a request or an account.
type LanguageSet struct {
	tags    []string
	matcher language.Matcher
}

// Languages are the languages accountpw writes its emails and pages in: every
// email has a message file and the pages a string file for each of them.
var Languages = NewLanguageSet("en", "de", "fr", "es")

// NewLanguageSet returns the set of tags. It panics on a tag that is not
// well-formed BCP 47: the list is fixed in code, never configured.
func NewLanguageSet(tags ...string) *LanguageSet {
	parsed := make([]language.Tag, len(tags))
	for i, t := range tags {
		parsed[i] = language.MustParse(t)
	}
	return &LanguageSet{tags: slices.Clone(tags), matcher: language.NewMatcher(parsed)}
}

// Tags returns the supported tags in their order.
func (s *LanguageSet) Tags() []string { return slices.Clone(s.tags) }

// Has reports whether tag is exactly one of the supported tags.
func (s *LanguageSet) Has(tag string) bool { return slices.Contains(s.tags, tag) }

// Negotiate returns the supported tag that best fits an Accept-Language value
// (RFC 9110 §12.5.4), or "" when none does: the value is capped at
// MaxAcceptLanguage bytes and 16 entries, entries that do not parse or have
// q=0 are skipped (one bad entry does not discard the others), the rest are
// ordered by weight, and the first one with a supported language wins
// ("de-AT" gets "de"). The wildcard "*" names no language.
func (s *LanguageSet) Negotiate(acceptLanguage string) string {
	type ranged struct {
		tag language.Tag
		q   float32
	}
	var prefs []ranged
	for i, part := range strings.Split(CapAcceptLanguage(acceptLanguage), ",") {
		if i >= maxLanguageRanges {
			break
		}
		tags, q, err := language.ParseAcceptLanguage(part)
		if err != nil || len(tags) != 1 || q[0] <= 0 || tags[0] == language.Und {
			continue
		}
		prefs = append(prefs, ranged{tags[0], q[0]})
	}
	slices.SortStableFunc(prefs, func(a, b ranged) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	// One entry at a time, so that the order decides: the matcher alone may
	// prefer a later entry it matches more exactly.
	for _, p := range prefs {
		if tag := s.match(p.tag); tag != "" {
			return tag
		}
	}
	return ""
}

// Match returns the supported tag for one well-formed tag ("de-AT" → "de"),
// or "" when it is empty, malformed or of an unsupported language.
func (s *LanguageSet) Match(tag string) string {
	if tag == "" || len(tag) > maxLocale {
		return ""
	}
	t, err := language.Parse(tag)
	if err != nil {
		return ""
	}
	return s.match(t)
}

func (s *LanguageSet) match(t language.Tag) string {
	_, i, conf := s.matcher.Match(t)
	if conf < language.High {
		// Low means a different language that speakers of t may be able to
		// read: a guess, not the person's choice, so the default is better.
		return ""
	}
	return s.tags[i]
}

// ErrUnsupportedLocale is wrapped by ParseLocale for a locale that is not a
// supported language.
var ErrUnsupportedLocale = errors.New("not a supported language")

// ParseLocale checks an account's locale: "" (none), or a well-formed BCP 47
// tag of a supported language, returned in canonical form ("de-at" →
// "de-AT"). A region or script is kept, so that adding that variant later
// needs no data change.
func (s *LanguageSet) ParseLocale(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if len(v) > maxLocale {
		return "", fmt.Errorf("locale is longer than %d bytes: %w", maxLocale, ErrUnsupportedLocale)
	}
	t, err := language.Parse(v)
	if err != nil {
		return "", fmt.Errorf("locale %q is not a BCP 47 tag: %w", v, ErrUnsupportedLocale)
	}
	if s.match(t) == "" {
		return "", fmt.Errorf("locale %q: %w (one of %s)", v, ErrUnsupportedLocale, strings.Join(s.tags, ", "))
	}
	return t.String(), nil
}

// CapAcceptLanguage cuts an Accept-Language value to MaxAcceptLanguage bytes,
// dropping the entry the cut would break.
func CapAcceptLanguage(v string) string {
	if len(v) <= MaxAcceptLanguage {
		return v
	}
	v = v[:MaxAcceptLanguage]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		return v[:i]
	}
	return ""
}
