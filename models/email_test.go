package models

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateEmail(t *testing.T) {
	t.Parallel()
	label := strings.Repeat("d", 63)
	domain250 := strings.Join([]string{label, label, label, strings.Repeat("d", 59)}, ".") // 63×3 + 59 + 3 dots = 251
	for _, tc := range []struct {
		name, email string
		valid       bool
	}{
		{"short", "a@b.co", true},
		{"plain", "mike@example.org", true},
		{"apostrophe", "o'brien@x.io", true},
		{"plus tag", "mike+reset@example.org", true},
		{"dotless i in the local part", "mıke@example.org", true},
		{"upper case", "MIKE@Example.ORG", true},
		{"single-label domain", "a@localhost", true},
		{"64-byte local part", strings.Repeat("l", 64) + "@b.c", true},
		{"254 bytes", "ab@" + domain250[:251], true},
		{"no at sign", "a", false},
		{"two at signs together", "a@@b.c", false},
		{"two at signs apart", "a@b@c", false},
		{"255 bytes", "abc@" + domain250[:251], false},
		{"65-byte local part", strings.Repeat("l", 65) + "@b.c", false},
		{"quoted local part", `"x"@b.c`, false},
		{"backslash", `a\b@c.d`, false},
		{"trailing CRLF", "a@b.c\r\n", false},
		{"CRLF in the local part", "a\r\nBcc: x@b.c", false},
		{"NUL", "a\x00@b.c", false},
		{"space", "a b@c.d", false},
		{"angle brackets", "<a>@b.c", false},
		{"label starting with a hyphen", "a@-b.c", false},
		{"label ending with a hyphen", "a@b-.c", false},
		{"empty label", "a@b..c", false},
		{"trailing dot", "a@b.c.", false},
		{"64-byte label", "a@" + label + "d.c", false},
		{"no domain", "a@", false},
		{"no local part", "@b.c", false},
		{"underscore in the domain", "a@b_c.d", false},
		{"non-ASCII domain", "a@exämple.org", false},
		{"invalid UTF-8", "a\xff@b.c", false},
		{"empty", "", false},
	} {
		err := ValidateEmail(tc.email)
		if got := err == nil; got != tc.valid {
			t.Errorf("%s (%d bytes): got valid %v (%v), want %v", tc.name, len(tc.email), got, err, tc.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("%s: got %v, want ErrInvalidEmail", tc.name, err)
		}
	}
}

func TestEmailKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, email, want string }{
		{"lower case unchanged", "mike@example.org", "mike@example.org"},
		{"ASCII upper case folded", "MIKE@Example.ORG", "mike@example.org"},
		{"dotless i kept", "mıke@example.org", "mıke@example.org"},
		{"dotted capital I kept", "MİKE@example.org", "mİke@example.org"},
		{"fullwidth m kept", "ｍike@example.org", "ｍike@example.org"},
		{"sharp s kept", "STRAßE@example.org", "straße@example.org"},
	} {
		if got := EmailKey(tc.email); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// The 2016 GitHub reset bug: look-alikes must not share mike's key.
	for _, lookalike := range []string{"mıke@example.org", "ｍike@example.org", "MİKE@example.org"} {
		if EmailKey(lookalike) == EmailKey("mike@example.org") {
			t.Errorf("%q: got the key of mike@example.org, want a different key", lookalike)
		}
	}
}
