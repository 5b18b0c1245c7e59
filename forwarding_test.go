package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// config.yaml says which forwarding headers are believed from
// http.trusted_proxies, and serve believes exactly those: every header it
// believes is named there, and one it ignores is named only as never
// believed.
func TestForwardingHeadersAsDocumented(t *testing.T) {
	base, logs := startServe(t, map[string]string{
		"ACCOUNTPW_DATABASE_PATH":        filepath.Join(t.TempDir(), "data", "accountpw.db"),
		"ACCOUNTPW_HTTP_TRUSTED_PROXIES": "127.0.0.0/8",
	})
	sent := map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.8", "Forwarded": "for=198.51.100.9"}
	believed := map[string]bool{}
	for name, value := range sent {
		rid := "fwd-" + strings.ToLower(name)
		req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		req.Header.Set(name, value)
		req.Header.Set("X-Request-Id", rid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ip := ""
		for line := range strings.Lines(logs.String()) {
			var l struct {
				Msg       string `json:"msg"`
				RequestID string `json:"request_id"`
				IP        string `json:"ip"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "http" && l.RequestID == rid {
				ip = l.IP
			}
		}
		if ip == "" {
			t.Fatalf("no access log line for %s\n%s", rid, logs)
		}
		believed[name] = strings.HasSuffix(value, ip)
	}
	if !believed["X-Forwarded-For"] {
		t.Error("X-Forwarded-For from a trusted proxy was not believed")
	}

	b, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The comment above http.trusted_proxies, as one text.
	m := regexp.MustCompile(`(?s)\nhttp:\n(.*?)\n  trusted_proxies:`).FindSubmatch(b)
	if m == nil {
		t.Fatal("config.yaml has no http.trusted_proxies")
	}
	var comment strings.Builder
	for line := range strings.Lines(string(m[1])) {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok {
			comment.WriteString(c)
		}
	}
	for _, sentence := range regexp.MustCompile(`[.;]\s`).Split(comment.String(), -1) {
		for name := range sent {
			if mentions(sentence, name) && !believed[name] && !strings.Contains(sentence, "never") {
				t.Errorf("config.yaml says %s is believed (%q), but serve ignores it", name, strings.TrimSpace(sentence))
			}
		}
	}
	for name := range sent {
		if believed[name] && !mentions(comment.String(), name) {
			t.Errorf("serve believes %s, but config.yaml does not say so: %q", name, comment.String())
		}
	}
}

// mentions reports whether text names the header as a word of its own
// (Forwarded is not mentioned by X-Forwarded-For).
func mentions(text, header string) bool {
	return regexp.MustCompile(`(?:^|[^\w-])` + regexp.QuoteMeta(header) + `(?:[^\w-]|$)`).MatchString(text)
}
