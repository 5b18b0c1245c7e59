package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
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
			if tt.code == "method_not_allowed" && rec.Header().Get("Allow") != "GET" {
				t.Errorf("got Allow %q, want GET", rec.Header().Get("Allow"))
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
