package mail

import (
	"regexp"
	"testing"
)

func TestNewMessageID(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^[a-z2-7]{32}@example\.org$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newMessageID("example.org")
		if !format.MatchString(id) || seen[id] {
			t.Fatalf("Message-ID %q: malformed or repeated", id)
		}
		seen[id] = true
	}
}

func TestMessageIDDomain(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, from, want string }{
		{"plain", "no-reply@accountpw.test", "accountpw.test"},
		{"lower-cased", "no-reply@Mail.Example.ORG", "mail.example.org"},
		{"internationalised", "noreply@bücher.example", "xn--bcher-kva.example"},
		{"address literal", "noreply@[192.0.2.1]", "192.0.2.1"},
		{"local host", "no-reply@localhost", "localhost"},
		{"nothing usable", "no-reply@exa mple", "localhost"},
	}
	for _, tt := range tests {
		if got := messageIDDomain(tt.from); got != tt.want {
			t.Errorf("%s: messageIDDomain(%q) = %q, want %q", tt.name, tt.from, got, tt.want)
		}
	}
}
