package policy

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// breachedPassword passes every local rule but is in the fake's corpus.
const breachedPassword = "velvet orbit copper lantern"

// fakeHIBP is a Pwned Passwords range API holding the given passwords, with
// padding entries, recording every request it sees.
type fakeHIBP struct {
	status int
	corpus map[string]int // full upper-hex SHA-1 → count

	mu       sync.Mutex
	requests []*http.Request
}

func mustFakeHIBP(t *testing.T, status int, passwords ...string) (*fakeHIBP, *httptest.Server) {
	t.Helper()
	f := &fakeHIBP{status: status, corpus: map[string]int{}}
	for _, pw := range passwords {
		f.corpus[sha1Hex(pw)] = 42
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeHIBP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.mu.Unlock()
	if f.status != http.StatusOK {
		w.WriteHeader(f.status)
		return
	}
	prefix := strings.TrimPrefix(r.URL.Path, "/range/")
	for digest, count := range f.corpus {
		if strings.HasPrefix(digest, prefix) {
			fmt.Fprintf(w, "%s:%d\r\n", digest[5:], count)
		}
	}
	// Padding: an entry that would match, with a count of zero.
	for _, pw := range []string{"padding", "Qx7#mL2$vR9!kPz"} {
		fmt.Fprintf(w, "%s:0\r\n", sha1Hex(pw)[5:])
	}
}

func TestHIBPCheck(t *testing.T) {
	t.Parallel()
	okFake, ok := mustFakeHIBP(t, http.StatusOK, breachedPassword)
	_, down := mustFakeHIBP(t, http.StatusInternalServerError)
	for _, tc := range []struct {
		name, password string
		cfg            config.BreachCheck
		want           error
	}{
		{"breached", breachedPassword, config.BreachCheck{Enabled: true, BaseURL: ok.URL, Timeout: 2 * time.Second}, models.ErrPasswordBreached},
		{"not breached", "glacier sofa tomato whisper", config.BreachCheck{Enabled: true, BaseURL: ok.URL, Timeout: 2 * time.Second}, nil},
		{"only a padding entry", "Qx7#mL2$vR9!kPz", config.BreachCheck{Enabled: true, BaseURL: ok.URL + "/", Timeout: 2 * time.Second}, nil},
		{"disabled", breachedPassword, config.BreachCheck{BaseURL: ok.URL, Timeout: 2 * time.Second}, nil},
		{"server error, fail open", breachedPassword, config.BreachCheck{Enabled: true, BaseURL: down.URL, Timeout: 2 * time.Second}, nil},
		{"server error, fail closed", breachedPassword, config.BreachCheck{Enabled: true, BaseURL: down.URL, FailClosed: true, Timeout: 2 * time.Second}, models.ErrUnavailable},
		{"unreachable, fail closed", breachedPassword, config.BreachCheck{Enabled: true, BaseURL: "http://127.0.0.1:1", FailClosed: true, Timeout: time.Second}, models.ErrUnavailable},
	} {
		p := newPolicy(func(c *config.Password) { c.BreachCheck = tc.cfg })
		if got := p.Check(context.Background(), tc.password, account); !errors.Is(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}

	// Only a 5-hex-character prefix of the SHA-1 leaves the process.
	prefixOnly := regexp.MustCompile(`^/range/[0-9A-F]{5}$`)
	okFake.mu.Lock()
	defer okFake.mu.Unlock()
	if len(okFake.requests) != 3 {
		t.Errorf("got %d requests, want 3", len(okFake.requests))
	}
	for _, r := range okFake.requests {
		if !prefixOnly.MatchString(r.URL.Path) || r.URL.RawQuery != "" || r.Method != http.MethodGet {
			t.Errorf("got %s %s?%s, want GET /range/<5 hex>", r.Method, r.URL.Path, r.URL.RawQuery)
		}
		if got := r.Header.Get("Add-Padding"); got != "true" {
			t.Errorf("Add-Padding: got %q, want true", got)
		}
		for name, values := range r.Header {
			for _, v := range append([]string{name, r.URL.String()}, values...) {
				for _, secret := range []string{breachedPassword, "glacier sofa", "Qx7#mL2", sha1Hex(breachedPassword)[5:]} {
					if strings.Contains(strings.ToUpper(v), strings.ToUpper(secret)) {
						t.Errorf("request carries %q in %s: %q", secret, name, v)
					}
				}
			}
		}
	}
}

func TestHIBPCancelled(t *testing.T) {
	t.Parallel()
	_, ok := mustFakeHIBP(t, http.StatusOK)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := newPolicy(func(c *config.Password) {
		c.BreachCheck = config.BreachCheck{Enabled: true, BaseURL: ok.URL, Timeout: 2 * time.Second}
	})
	if got := p.Check(ctx, breachedPassword, account); !errors.Is(got, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", got)
	}
}

func sha1Hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}
