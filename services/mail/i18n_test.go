package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/accountpw/accountpw/templates"
)

// The lifetime of a link, in words: exact when it is a whole number of
// units, otherwise rounded down, never up, so an email never promises more
// time than the link has.
func TestDuration(t *testing.T) {
	t.Parallel()
	c := mustRenderer(t).cat
	tests := []struct {
		in   time.Duration
		want string
	}{
		{time.Second, "1 second"},
		{8 * time.Second, "8 seconds"},
		{8*time.Second + 999*time.Millisecond, "8 seconds"},
		{59 * time.Second, "59 seconds"},
		{time.Minute, "1 minute"},
		{61 * time.Second, "1 minute 1 second"},
		{90 * time.Second, "1 minute 30 seconds"},
		{90*time.Second + 900*time.Millisecond, "1 minute 30 seconds"},
		{30 * time.Minute, "30 minutes"},
		{59*time.Minute + 59*time.Second, "59 minutes 59 seconds"},
		{time.Hour, "1 hour"},
		{time.Hour + 59*time.Second, "1 hour"},
		{time.Hour + time.Minute, "1 hour 1 minute"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{2 * time.Hour, "2 hours"},
		{2*time.Hour + 15*time.Minute + 30*time.Second, "2 hours 15 minutes"},
	}
	for _, tt := range tests {
		got, err := c.duration("en", tt.in)
		if err != nil || got != tt.want {
			t.Errorf("duration(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// The same rule in every language, with its own plurals and conjunction.
func TestDurationInEveryLanguage(t *testing.T) {
	t.Parallel()
	c := mustRenderer(t).cat
	tests := []struct {
		lang string
		in   time.Duration
		want string
	}{
		{"de", 8 * time.Second, "8 Sekunden"},
		{"de", time.Minute, "1 Minute"},
		{"de", 90 * time.Minute, "1 Stunde und 30 Minuten"},
		{"fr", time.Second, "1 seconde"},
		{"fr", 30 * time.Minute, "30 minutes"},
		{"fr", 2*time.Hour + time.Minute, "2 heures et 1 minute"},
		{"es", 8 * time.Second, "8 segundos"},
		{"es", time.Hour, "1 hora"},
		{"es", 61 * time.Second, "1 minuto y 1 segundo"},
	}
	for _, tt := range tests {
		got, err := c.duration(tt.lang, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("%s: duration(%v) = %q, %v; want %q", tt.lang, tt.in, got, err, tt.want)
		}
	}
}

func TestDateTime(t *testing.T) {
	t.Parallel()
	c := mustRenderer(t).cat
	at := time.Date(2029, 3, 1, 14, 5, 0, 0, time.FixedZone("CET", 3600)) // 13:05 UTC
	one := time.Date(2029, 5, 7, 1, 30, 0, 0, time.UTC)
	tests := []struct {
		lang string
		at   time.Time
		want string
	}{
		{"en", at, "1 March 2029 at 13:05 UTC"},
		{"de", at, "1. März 2029 um 13:05 Uhr (UTC)"},
		{"fr", at, "1er mars 2029 à 13\u00a0h\u00a005 (UTC)"},
		{"fr", one, "7 mai 2029 à 1\u00a0h\u00a030 (UTC)"},
		{"es", at, "1 de marzo de 2029 a las 13:05 (UTC)"},
		{"es", one, "7 de mayo de 2029 a la 1:30 (UTC)"},
	}
	for _, tt := range tests {
		got, err := c.dateTime(tt.lang, tt.at)
		if err != nil || got != tt.want {
			t.Errorf("%s: dateTime(%v) = %q, %v; want %q", tt.lang, tt.at, got, err, tt.want)
		}
	}
}

// Every language file has exactly the messages of the English one, with the
// same plural forms, and refers to no field a message does not get.
func TestMessageFilesMatch(t *testing.T) {
	t.Parallel()
	read := func(lang string) map[string]any {
		b, err := templates.FS.ReadFile(messageFile(lang))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", lang, err)
		}
		return m
	}
	en := read("en")
	for _, lang := range Languages() {
		m := read(lang)
		for id, v := range en {
			other, ok := m[id]
			if !ok {
				t.Errorf("%s lacks %q", lang, id)
				continue
			}
			if _, plural := v.(map[string]any); plural {
				if p, ok := other.(map[string]any); !ok || p["one"] == nil || p["other"] == nil {
					t.Errorf("%s: %q must have the plural forms one and other", lang, id)
				}
			}
		}
		for id := range m {
			if _, ok := en[id]; !ok {
				t.Errorf("%s has %q, which English lacks", lang, id)
			}
		}
	}
	// Each message is plain text: the HTML template escapes it, so markup
	// would show as text.
	for _, lang := range Languages() {
		for id, v := range read(lang) {
			texts, _ := v.(map[string]any)
			if s, ok := v.(string); ok {
				texts = map[string]any{"other": s}
			}
			for _, text := range texts {
				if s, _ := text.(string); strings.ContainsAny(s, "<>&") {
					t.Errorf("%s: %q holds markup: %q", lang, id, s)
				}
			}
		}
	}
}
