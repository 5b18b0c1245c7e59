package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		name, method, path string
		readyErr           error
		status             int
		body               string // for 200
		code               string // for problems
	}{
		{"alive", "GET", "/healthz", nil, 200, `{"status":"ok"}`, ""},
		{"alive while the database is down", "GET", "/healthz", errors.New("dial tcp: refused"), 200, `{"status":"ok"}`, ""},
		{"ready", "GET", "/readyz", nil, 200, `{"status":"ready"}`, ""},
		{"not ready, plain error", "GET", "/readyz", errors.New("dial tcp 10.0.0.5:5432: refused"), 503, "", "unavailable"},
		{"not ready, unavailable", "GET", "/readyz", models.ErrUnavailable, 503, "", "unavailable"},
		{"not ready, timed out", "GET", "/readyz", models.ErrHashBusy, 503, "", "unavailable"},
		{"POST to health", "POST", "/healthz", nil, 405, "", "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.errs["Ready"] = tt.readyErr
			rec := serve(f, Options{}, httptest.NewRequest(tt.method, tt.path, nil))
			mustBaseHeaders(t, rec)
			if tt.code != "" {
				p := mustProblem(t, rec, tt.status, tt.code)
				if p.Detail != models.ErrUnavailable.Message && tt.status == 503 {
					t.Errorf("got detail %q, want the generic unavailable sentence", p.Detail)
				}
			} else if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body, tt.status, tt.body)
			}
			if tt.status == 503 && rec.Header().Get("Retry-After") != "5" {
				t.Errorf("got Retry-After %q, want 5", rec.Header().Get("Retry-After"))
			}
			if tt.code == "method_not_allowed" && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("got Allow %q, want GET, HEAD", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestRequestTimeout(t *testing.T) {
	f := newFake()
	start := time.Now()
	serve(f, Options{}, put(tokenBody))
	if d := f.last(t).deadline.Sub(start); d < 9*time.Second || d > 11*time.Second {
		t.Errorf("got a deadline %v ahead, want the 10s default", d)
	}

	f = newFake()
	f.blocks = "Reset"
	rec := serve(f, Options{RequestTimeout: 5 * time.Millisecond}, put(tokenBody))
	mustBaseHeaders(t, rec)
	mustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	if got := rec.Header().Get("Retry-After"); got != "5" {
		t.Errorf("got Retry-After %q, want 5", got)
	}
}

func BenchmarkEmailBranch(b *testing.B) {
	e := New(newFake(), Options{Logger: discardLogger})
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, put(emailBody))
		if rec.Code != http.StatusAccepted {
			b.Fatalf("got %d, want 202", rec.Code)
		}
	}
}

// Every GET route answers HEAD with the same status and headers and no
// body, a failing readiness probe included.
func TestHeadAnswersLikeGet(t *testing.T) {
	paths := []string{"/healthz", "/readyz", pagePath, pageRequestPath, pageScriptPath, pageStylePath, changePassword}
	for _, notReady := range []bool{false, true} {
		for _, path := range paths {
			t.Run(fmt.Sprintf("%s not ready %v", path, notReady), func(t *testing.T) {
				f := newFake()
				if notReady {
					f.errs["Ready"] = models.ErrUnavailable
				}
				get := serve(f, Options{}, httptest.NewRequest(http.MethodGet, path, nil))
				head := serve(f, Options{}, httptest.NewRequest(http.MethodHead, path, nil))
				if head.Code != get.Code || get.Code >= 400 && path != "/readyz" {
					t.Fatalf("HEAD answered %d, GET %d", head.Code, get.Code)
				}
				if head.Body.Len() != 0 {
					t.Errorf("HEAD has a body of %d bytes", head.Body.Len())
				}
				for _, h := range []string{"Content-Type", "Content-Length", "Cache-Control", "Content-Security-Policy",
					"Content-Language", "Vary", "Location", "Retry-After", "X-Content-Type-Options"} {
					if got, want := head.Header().Get(h), get.Header().Get(h); got != want {
						t.Errorf("%s: HEAD %q, GET %q", h, got, want)
					}
				}
			})
		}
	}
}

// /readyz has its own timeout, shorter than a request's: a database that
// does not answer makes it 503 within 2 s, not 10.
func TestReadyzTimeout(t *testing.T) {
	f := newFake()
	f.blocks = "Ready"
	start := time.Now()
	rec := serve(f, Options{}, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if took := time.Since(start); took > 5*time.Second { // slack for a loaded machine; the deadline below is exact
		t.Errorf("answered after %v, want about 2 s", took)
	}
	if d := f.last(t).deadline.Sub(start); d > 2*time.Second+100*time.Millisecond {
		t.Errorf("Ready got a deadline %v ahead, want 2 s", d)
	}
	mustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}
}

// A client that went away is no failure of the service: neither the error
// handler nor the access log says more than debug about it.
func TestClientGoneIsDebug(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFake()
	f.blocks = "Reset"
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	serve(f, Options{Logger: log}, put(tokenBody).WithContext(ctx))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the error and the access line, got %q", buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["level"] != "DEBUG" {
			t.Errorf("a disconnect logged above debug: %s", l)
		}
	}
	// The same failure for a client still waiting is a warning.
	buf.Reset()
	f = newFake()
	f.errs["Reset"] = models.ErrUnavailable
	serve(f, Options{Logger: log}, put(tokenBody))
	if !strings.Contains(buf.String(), `"level":"WARN","msg":"request failed"`) {
		t.Errorf("want a warning for a 503 someone waits for, got %s", buf.String())
	}
}
