package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/accountpw/accountpw/models"
)

func TestMethodNotAllowed(t *testing.T) {
	for _, method := range []string{"GET", "POST", "PATCH", "DELETE", "HEAD", "TRACE", "OPTIONS", "CONNECT", "PROPFIND", "BREW"} {
		t.Run(method, func(t *testing.T) {
			f := newFake()
			rec := serve(f, Options{}, httptest.NewRequest(method, passwordPath, strings.NewReader(emailBody)))
			mustBaseHeaders(t, rec)
			if got := rec.Header().Get("Allow"); got != "PUT" {
				t.Errorf("got Allow %q, want PUT", got)
			}
			if method == http.MethodHead {
				if rec.Code != 405 || rec.Body.Len() != 0 {
					t.Errorf("got %d with %d body bytes, want 405 and none", rec.Code, rec.Body.Len())
				}
			} else {
				mustProblem(t, rec, 405, "method_not_allowed")
			}
			if got := f.methods(); got != "Admit" {
				t.Errorf("got calls %q, want only Admit (every request to the resource counts)", got)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	for _, target := range []string{"/", "/api/v1/account", "/api/v1/account/password/canary-tok-91b2QxZ", "/api/v1/account/passwords", "/HEALTHZ"} {
		t.Run(target, func(t *testing.T) {
			f := newFake()
			rec := serve(f, Options{}, httptest.NewRequest(http.MethodPut, target, strings.NewReader(emailBody)))
			mustBaseHeaders(t, rec)
			mustProblem(t, rec, 404, "not_found")
			if got := f.methods(); got != "" {
				t.Errorf("got calls %q, want none", got)
			}
		})
	}
}

func TestRetryableErrors(t *testing.T) {
	tests := []struct {
		name   string
		errs   map[string]error
		status int
		code   string
		retry  string
		calls  string
	}{
		{"rate limited by Admit", map[string]error{"Admit": models.RateLimited(30 * time.Second)},
			429, "rate_limited", "30", "Admit"},
		{"rate limited by the service", map[string]error{"Reset": models.RateLimited(1500 * time.Millisecond)},
			429, "rate_limited", "2", "Admit,Reset"},
		{"rate limited without a delay", map[string]error{"Reset": &models.Error{Kind: models.KindRateLimited, Code: "rate_limited", Message: "Slow down."}},
			429, "rate_limited", "1", "Admit,Reset"},
		{"hashing capacity exhausted", map[string]error{"Reset": models.ErrHashBusy},
			503, "busy", "1", "Admit,Reset"},
		{"database down", map[string]error{"Reset": models.ErrUnavailable},
			503, "unavailable", "5", "Admit,Reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.errs = tt.errs
			rec := serve(f, Options{}, put(tokenBody))
			mustBaseHeaders(t, rec)
			mustProblem(t, rec, tt.status, tt.code)
			if got := rec.Header().Get("Retry-After"); got != tt.retry {
				t.Errorf("got Retry-After %q, want %q", got, tt.retry)
			}
			if got := f.methods(); got != tt.calls {
				t.Errorf("got calls %q, want %q", got, tt.calls)
			}
		})
	}
}

func TestPanicIsGeneric500(t *testing.T) {
	f := newFake()
	f.panics = "Reset"
	rec := serve(f, Options{}, put(tokenBody))
	mustBaseHeaders(t, rec)
	p := mustProblem(t, rec, 500, "internal")
	if strings.Contains(rec.Body.String(), "exploded") || p.Detail != errInternal.Message {
		t.Errorf("got detail %q, want the generic sentence", p.Detail)
	}
}

func TestTitleIsConstantPerCode(t *testing.T) {
	f := newFake()
	f.errs["Reset"] = models.ErrInvalidToken
	first := mustProblem(t, serve(f, Options{}, put(tokenBody)), 403, "invalid_token")
	second := mustProblem(t, serve(f, Options{}, put(`{"token":"x","new":"y"}`)), 403, "invalid_token")
	if first.Title != second.Title || first.Type != second.Type || first.Field != "token" {
		t.Errorf("got %+v and %+v, want the same type and title with field token", first, second)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *models.Error
	}{
		{"echo 404", echo.ErrNotFound, errNotFound},
		{"echo 405", echo.ErrMethodNotAllowed, errMethodNotAllowed},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, errTooLarge},
		{"echo 415", echo.ErrUnsupportedMediaType, errUnsupportedMedia},
		{"echo 503", echo.ErrServiceUnavailable, models.ErrUnavailable},
		{"echo 400 with decoder text", echo.NewHTTPError(400, "Syntax error: offset=3"), errBadRequest},
		{"echo 500", echo.ErrInternalServerError, errInternal},
		{"explicit internal kind", &models.Error{Code: "secret_detail", Message: "pq: boom"}, errInternal},
		{"plain error", errors.New("db exploded"), errInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for kind := models.KindInternal; kind <= models.KindRequestTimeout; kind++ {
		if statusOf[kind] == 0 {
			t.Errorf("kind %d has no status", kind)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60",
	} {
		if got := retryAfter(d); got != want {
			t.Errorf("retryAfter(%v): got %q, want %q", d, got, want)
		}
	}
}
