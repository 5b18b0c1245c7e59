package models

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPasswordShape(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, password string
		want           error
	}{
		{"empty", "", ErrPasswordTooShort},
		{"14 code points", strings.Repeat("a", 14), ErrPasswordTooShort},
		{"15 code points", strings.Repeat("a", 15), nil},
		{"15 code points, 45 bytes", strings.Repeat("漢", 15), nil},
		{"14 code points, 56 bytes", strings.Repeat("🌀", 14), ErrPasswordTooShort},
		{"128 code points", strings.Repeat("a", 128), nil},
		{"128 emoji, 512 bytes", strings.Repeat("🌀", 128), nil},
		{"129 code points", strings.Repeat("a", 129), ErrPasswordTooLong},
		{"spaces count", " " + strings.Repeat("a", 13) + " ", nil},
		{"NUL", "abc\x00" + strings.Repeat("a", 16), ErrPasswordInvalidCharacter},
		{"tab", "abc\t" + strings.Repeat("a", 16), ErrPasswordInvalidCharacter},
		{"line feed", strings.Repeat("a", 16) + "\n", ErrPasswordInvalidCharacter},
		{"DEL", strings.Repeat("a", 16) + "\x7f", ErrPasswordInvalidCharacter},
		{"C1 NEL", strings.Repeat("a", 16) + "\u0085", ErrPasswordInvalidCharacter},
		{"C1 APC", strings.Repeat("a", 16) + "\u009f", ErrPasswordInvalidCharacter},
		{"control character in a short password", "a\x00", ErrPasswordInvalidCharacter},
		{"no-break space is not a control", strings.Repeat("a", 14) + "\u00a0", nil},
		{"zero-width joiner is not a control", strings.Repeat("a", 14) + "\u200d", nil},
	} {
		if got := CheckPasswordShape(tc.password); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNormalizePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"decomposed é composed", "e\u0301", "\u00e9"},
		{"fullwidth to ASCII", "ｐａｓｓｗｏｒｄ", "password"},
		{"ligature split", "ﬁ", "fi"},
		{"spaces kept", " Velvet orbit  copper lantern ", " Velvet orbit  copper lantern "},
		{"case kept", "MiXeD", "MiXeD"},
		{"NUL kept for the shape check", "a\x00b", "a\x00b"},
	} {
		if got := NormalizePassword(tc.in); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// Length counts after NFKC: 8×("e"+U+0301) + 7 ASCII is 23 code points
	// as typed, 15 after normalisation.
	for _, tc := range []struct {
		n    int
		want error
	}{{8, nil}, {7, ErrPasswordTooShort}} {
		pw := NormalizePassword(strings.Repeat("e\u0301", tc.n) + "Kq7#pL2")
		if got := CheckPasswordShape(pw); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%d decomposed é + 7 ASCII: got %v, want %v", tc.n, got, tc.want)
		}
	}
}
