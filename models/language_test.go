package models

import (
	"errors"
	"strings"
	"testing"
)

func TestNegotiateLanguage(t *testing.T) {
	t.Parallel()
	// A value just over the cap whose last entry, German, is cut off.
	long := strings.Repeat("x-abcdefgh;q=0.1, ", 14) + "ja, de"
	tests := []struct {
		name, header, want string
	}{
		{"empty", "", ""},
		{"one supported language", "de", "de"},
		{"region of a supported language", "de-AT", "de"},
		{"case does not matter", "FR-ca", "fr"},
		{"Latin American Spanish", "es-419", "es"},
		{"first entry wins", "fr, de", "fr"},
		{"unsupported first entry is skipped", "nl, de;q=0.8", "de"},
		{"weights order the entries", "en;q=0.5, es;q=0.9", "es"},
		{"equal weights keep their order", "es;q=0.5, en;q=0.5", "es"},
		{"q=0 refuses a language", "de;q=0, fr", "fr"},
		{"nothing supported", "ja, zh-Hant", ""},
		{"wildcard names no language", "*", ""},
		{"garbage", "\x00\xff;;q=,", ""},
		{"one bad entry among good ones", "de;q=abc, fr;q=0.5", "fr"},
		{"typical browser value", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de"},
		{"entry cut by the length cap", long, ""},
		{"huge value", strings.Repeat("ja,", 100000) + "de", ""},
	}
	for _, tt := range tests {
		if got := Languages.Negotiate(tt.header); got != tt.want {
			t.Errorf("%s: Negotiate(%.40q) = %q, want %q", tt.name, tt.header, got, tt.want)
		}
	}
}

func TestCapAcceptLanguage(t *testing.T) {
	t.Parallel()
	short := "de-DE,de;q=0.9,en;q=0.8"
	if got := CapAcceptLanguage(short); got != short {
		t.Errorf("a short value changed: %q", got)
	}
	long := strings.Repeat("en-GB;q=0.5,", 40)
	got := CapAcceptLanguage(long)
	if len(got) > MaxAcceptLanguage || !strings.HasSuffix(got, "q=0.5") {
		t.Errorf("got %d bytes ending %q, want at most %d ending at a whole entry", len(got), got[max(0, len(got)-8):], MaxAcceptLanguage)
	}
	if got := CapAcceptLanguage(strings.Repeat("a", 1000)); got != "" {
		t.Errorf("one endless entry: got %q, want nothing", got)
	}
}

func TestParseLocale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"none", "", "", true},
		{"supported language", "fr", "fr", true},
		{"canonical case", "de-at", "de-AT", true},
		{"region kept", "en-GB", "en-GB", true},
		{"unsupported language", "pt", "", false},
		{"not a tag", "german", "", false},
		{"an Accept-Language value", "de;q=0.5", "", false},
		{"too long", "de-" + strings.Repeat("a", 40), "", false},
	}
	for _, tt := range tests {
		got, err := Languages.ParseLocale(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("%s: ParseLocale(%q) = %q, %v; want %q, ok %v", tt.name, tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnsupportedLocale) {
			t.Errorf("%s: error %v does not wrap ErrUnsupportedLocale", tt.name, err)
		}
	}
	if got := Languages.Match("de-CH"); got != "de" {
		t.Errorf("Match(de-CH) = %q, want de", got)
	}
	if !Languages.Has("es") || Languages.Has("es-ES") {
		t.Error("Has must compare exact tags")
	}
}
