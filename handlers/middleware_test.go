package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	tests := []struct {
		name     string
		incoming []string
		want     string // empty: a fresh generated id
	}{
		{"good id kept", []string{"abc-123.X_y"}, "abc-123.X_y"},
		{"64 characters kept", []string{strings.Repeat("a", 64)}, strings.Repeat("a", 64)},
		{"none sent", nil, ""},
		{"line break replaced", []string{"bad\r\nid"}, ""},
		{"65 characters replaced", []string{strings.Repeat("a", 65)}, ""},
		{"space replaced", []string{"a b"}, ""},
		{"two headers replaced", []string{"one", "two"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			r := put(tokenBody)
			r.Header["X-Request-Id"] = tt.incoming
			rec := serve(f, Options{}, r)
			got := rec.Header().Get("X-Request-Id")
			if tt.want != "" && got != tt.want || tt.want == "" && !generated.MatchString(got) {
				t.Errorf("got X-Request-Id %q, want %q (empty: generated)", got, tt.want)
			}
			if c := f.last(t).client; c.RequestID != got {
				t.Errorf("got client request id %q, want %q", c.RequestID, got)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		headers map[string]string
		want    string
	}{
		{"no proxies, spoofed headers ignored", nil, "203.0.113.9:1234",
			map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "5.6.7.8"}, "203.0.113.9"},
		{"untrusted peer, spoofed XFF ignored", proxies, "203.0.113.9:1234",
			map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.9"},
		{"private peer not trusted implicitly", proxies, "192.168.1.1:1234",
			map[string]string{"X-Forwarded-For": "1.2.3.4"}, "192.168.1.1"},
		{"loopback peer not trusted implicitly", proxies, "127.0.0.1:1234",
			map[string]string{"X-Forwarded-For": "1.2.3.4"}, "127.0.0.1"},
		{"trusted proxy", proxies, "10.1.2.3:1234",
			map[string]string{"X-Forwarded-For": "198.51.100.20"}, "198.51.100.20"},
		{"trusted proxy, spoofed left-most entry", proxies, "10.1.2.3:1234",
			map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.20"}, "198.51.100.20"},
		{"trusted IPv6 proxy", proxies, "[2001:db8::1]:443",
			map[string]string{"X-Forwarded-For": "198.51.100.20"}, "198.51.100.20"},
		{"trusted proxy, X-Real-IP alone ignored", proxies, "10.1.2.3:1234",
			map[string]string{"X-Real-IP": "198.51.100.20"}, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			r := put(tokenBody)
			r.RemoteAddr = tt.peer
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			serve(f, Options{TrustedProxies: tt.trusted}, r)
			if got := f.last(t).client.IP; got != tt.want {
				t.Errorf("got client IP %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	opts := Options{CORSOrigins: []string{"https://allowed.example", "http://localhost:3000"}}
	preflight := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, passwordPath, nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "PUT")
		r.Header.Set("Access-Control-Request-Headers", "content-type,authorization")
		return r
	}
	for _, origin := range []string{"https://allowed.example", "http://localhost:3000"} {
		rec := serve(newFake(), opts, preflight(origin))
		mustBaseHeaders(t, rec)
		h := rec.Header()
		if rec.Code != 204 || h.Get("Access-Control-Allow-Origin") != origin ||
			h.Get("Access-Control-Allow-Methods") != "PUT" ||
			h.Get("Access-Control-Allow-Headers") != "Content-Type,Authorization" ||
			h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s: got %d %v", origin, rec.Code, h)
		}
	}
	for _, origin := range []string{"https://evil.test", "null", "https://allowed.example.evil.test", "https://sub.allowed.example", "http://allowed.example"} {
		rec := serve(newFake(), opts, preflight(origin))
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from %s: got ACAO %q, want none", origin, got)
		}
	}

	r := put(emailBody)
	r.Header.Set("Origin", "https://allowed.example")
	if rec := serve(newFake(), opts, r); rec.Code != 202 || rec.Header().Get("Access-Control-Allow-Origin") != "https://allowed.example" {
		t.Errorf("PUT from allowed origin: got %d, ACAO %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
	rec := serve(newFake(), opts, httptest.NewRequest(http.MethodGet, passwordPath, nil))
	mustProblem(t, rec, 405, "method_not_allowed")
	if got := rec.Header().Get("Allow"); got != "PUT, OPTIONS" {
		t.Errorf("with CORS: got Allow %q, want %q", got, "PUT, OPTIONS")
	}
}

func TestBadCORSOriginPanics(t *testing.T) {
	for _, origin := range []string{"*", "null", "", "https://allowed.example/", "https://*.example", "allowed.example", "ftp://a.example"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("origin %q: got no panic, want one", origin)
				}
			}()
			New(newFake(), Options{CORSOrigins: []string{origin}})
		}()
	}
}

func TestHSTS(t *testing.T) {
	const want = "max-age=31536000; includeSubDomains"
	tests := []struct {
		name   string
		tls    bool
		target string
		want   string
	}{
		{"TLS option over TLS", true, "https://api.example" + passwordPath, want},
		{"TLS option over plain HTTP", true, "http://api.example" + passwordPath, ""},
		{"no TLS option", false, "https://api.example" + passwordPath, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []*http.Request{httptest.NewRequest(http.MethodPut, tt.target, strings.NewReader(emailBody)),
				httptest.NewRequest(http.MethodGet, strings.TrimSuffix(tt.target, passwordPath)+"/healthz", nil)} {
				r.Header.Set("Content-Type", "application/json")
				rec := serve(newFake(), Options{TLS: tt.tls}, r)
				if got := rec.Header().Get("Strict-Transport-Security"); got != tt.want {
					t.Errorf("%s %s: got HSTS %q, want %q", r.Method, r.URL.Path, got, tt.want)
				}
			}
		})
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	f := newFake()
	e := New(f, Options{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	queried := httptest.NewRequest(http.MethodPut, passwordPath+"?token=canary-query-6c0d", strings.NewReader(tokenBody))
	queried.Header.Set("Content-Type", "application/json")
	forged := put(emailBody)
	forged.Header.Set("X-Request-ID", "x\r\n{\"level\":\"INFO\",\"msg\":\"forged\"}")
	requests := []*http.Request{put(emailBody), put(tokenBody), queried, forged,
		withAuth(put(changeBody), "Bearer "+canaryBearer), withAuth(put(changeBody), "Basic "+canaryBearer)}
	for _, r := range requests {
		e.ServeHTTP(httptest.NewRecorder(), r)
	}
	f.errs["Reset"] = errors.New("db exploded: pq: deadlock")
	e.ServeHTTP(httptest.NewRecorder(), put(tokenBody))
	f.errs["Reset"], f.panics = nil, "Reset"
	e.ServeHTTP(httptest.NewRecorder(), put(tokenBody))

	logs := buf.String()
	for _, canary := range []string{canaryEmail, canaryNew, canaryOld, canaryToken, canaryBearer, "canary-query", "forged"} {
		if strings.Contains(logs, canary) {
			t.Errorf("logs contain %q:\n%s", canary, logs)
		}
	}
	var access, failures int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		switch entry["msg"] {
		case "http":
			access++
			if entry["route"] != passwordPath || entry["request_id"] == "" || entry["ip"] != "192.0.2.1" {
				t.Errorf("got access line %v", entry)
			}
			// Milliseconds as a number, never Go's nanosecond integer.
			if ms, ok := entry["latency_ms"].(float64); !ok || ms < 0 || ms > 60_000 || entry["latency"] != nil {
				t.Errorf("access line %v: want latency_ms, a number of milliseconds, and no latency", entry)
			}
		case "request failed":
			failures++
			if entry["level"] != "ERROR" || entry["request_id"] == "" {
				t.Errorf("got failure line %v", entry)
			}
		}
	}
	if access != len(requests)+2 || failures != 2 || !strings.Contains(logs, "pq: deadlock") || !strings.Contains(logs, "panic: fake Reset exploded") {
		t.Errorf("got %d access and %d failure lines, want %d and 2 with the causes:\n%s", access, failures, len(requests)+2, logs)
	}
}
