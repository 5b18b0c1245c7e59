package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// Canaries: unique strings that must never come back in a response or a log.
const (
	canaryEmail  = "canary-3f9a@example.com"
	canaryNew    = "canary-new-7d1e-correct-horse"
	canaryOld    = "canary-old-55c1-battery-staple"
	canaryToken  = "canary-tok-91b2QxZ"
	canaryBearer = "canary-bearer-a8e4"
)

var (
	emailBody  = `{"email":"` + canaryEmail + `"}`
	tokenBody  = `{"token":"` + canaryToken + `","new":"` + canaryNew + `"}`
	changeBody = `{"old":"` + canaryOld + `","new":"` + canaryNew + `"}`
)

// withAuth returns r with an Authorization header.
func withAuth(r *http.Request, value string) *http.Request {
	r.Header.Set("Authorization", value)
	return r
}

func TestPasswordShapes(t *testing.T) {
	tests := []struct {
		name      string
		req       *http.Request
		errs      map[string]error
		status    int
		code      string // problem code, for errors
		calls     string
		args      []string // of the last call, when set
		challenge string   // WWW-Authenticate, when set
	}{
		{name: "reset requested (the ceiling is counted inside RequestReset)", req: put(emailBody), status: 202,
			calls: "RequestReset", args: []string{canaryEmail}},
		{name: "reset requested over the ceiling", req: put(emailBody),
			errs: map[string]error{"RequestReset": models.RateLimited(7 * time.Second)}, status: 429,
			code: "rate_limited", calls: "RequestReset"},
		{name: "reset with token", req: put(tokenBody), status: 204,
			calls: "Admit,Reset", args: []string{canaryToken, canaryNew}},
		{name: "change with bearer", req: withAuth(put(changeBody), "Bearer "+canaryBearer), status: 204,
			calls: "Admit,Authenticate,Change", args: []string{canaryOld, canaryNew}},
		{name: "bearer scheme in lower case", req: withAuth(put(changeBody), "bearer "+canaryBearer), status: 204,
			calls: "Admit,Authenticate,Change"},
		{name: "change without authorization", req: put(changeBody), status: 401, code: "unauthenticated",
			calls: "Admit", challenge: `Bearer realm="accountpw"`},
		{name: "change with basic scheme", req: withAuth(put(changeBody), "Basic dXNlcjpwYXNz"), status: 401,
			code: "unauthenticated", calls: "Admit", challenge: `Bearer realm="accountpw"`},
		{name: "change with empty bearer", req: withAuth(put(changeBody), "Bearer "), status: 401,
			code: "unauthenticated", calls: "Admit", challenge: `Bearer realm="accountpw", error="invalid_request"`},
		{name: "change with bare scheme", req: withAuth(put(changeBody), "Bearer"), status: 401,
			code: "unauthenticated", calls: "Admit"},
		{name: "change with unknown session", req: withAuth(put(changeBody), "Bearer "+canaryBearer),
			errs: map[string]error{"Authenticate": models.ErrUnauthenticated}, status: 401, code: "unauthenticated",
			calls: "Admit,Authenticate", challenge: `Bearer realm="accountpw", error="invalid_token"`},
		{name: "change with stale session", req: withAuth(put(changeBody), "Bearer "+canaryBearer),
			errs: map[string]error{"Authenticate": models.ErrStaleSession}, status: 401, code: "unauthenticated",
			calls: "Admit,Authenticate", challenge: `Bearer realm="accountpw", error="invalid_token"`},
		{name: "invalid reset token", req: put(tokenBody), errs: map[string]error{"Reset": models.ErrInvalidToken},
			status: 403, code: "invalid_token", calls: "Admit,Reset"},
		{name: "wrong old password", req: withAuth(put(changeBody), "Bearer "+canaryBearer),
			errs:   map[string]error{"Change": models.ErrWrongPassword},
			status: 403, code: "wrong_password", calls: "Admit,Authenticate,Change"},
		{name: "new password breaks the policy", req: put(tokenBody),
			errs:   map[string]error{"Reset": models.ErrPasswordTooShort},
			status: 422, code: "password_too_short", calls: "Admit,Reset"},
		{name: "bad email syntax", req: put(emailBody), errs: map[string]error{"RequestReset": models.ErrInvalidEmail},
			status: 400, code: "invalid_email", calls: "RequestReset"},
		{name: "wrapped policy error", req: put(tokenBody),
			errs:   map[string]error{"Reset": fmt.Errorf("reset password: %w", models.ErrPasswordBreached)},
			status: 422, code: "password_breached", calls: "Admit,Reset"},
		{name: "deadline exceeded in the service", req: put(tokenBody),
			errs:   map[string]error{"Reset": fmt.Errorf("reset password: %w", context.DeadlineExceeded)},
			status: 503, code: "unavailable", calls: "Admit,Reset"},
		{name: "unclassified service error", req: put(tokenBody),
			errs:   map[string]error{"Reset": errors.New("db exploded: pq: relation users does not exist")},
			status: 500, code: "internal", calls: "Admit,Reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.errs = tt.errs
			rec := serve(f, Options{}, tt.req)
			mustBaseHeaders(t, rec)
			if got := f.methods(); got != tt.calls {
				t.Errorf("got calls %q, want %q", got, tt.calls)
			}
			if tt.args != nil {
				if got := f.last(t).args; !slices.Equal(got, tt.args) {
					t.Errorf("got args %q, want %q", got, tt.args)
				}
			}
			switch {
			case tt.status >= 400:
				mustProblem(t, rec, tt.status, tt.code)
			case rec.Code != tt.status:
				t.Fatalf("got status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.challenge != "" {
				if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("got WWW-Authenticate %q, want %q", got, tt.challenge)
				}
			}
			for _, canary := range []string{canaryEmail, canaryNew, canaryOld, canaryToken, canaryBearer, "pq:", "exploded"} {
				if strings.Contains(rec.Body.String(), canary) || strings.Contains(fmt.Sprint(rec.Header()), canary) {
					t.Errorf("response echoes %q", canary)
				}
			}
		})
	}
}

func TestNoContentIsBare(t *testing.T) {
	rec := serve(newFake(), Options{}, put(tokenBody))
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("got %d with %d body bytes, want 204 and none", rec.Code, rec.Body.Len())
	}
	for _, h := range []string{"Set-Cookie", "ETag", "Last-Modified", "Content-Type"} {
		if got := rec.Header().Get(h); got != "" {
			t.Errorf("got %s %q, want none", h, got)
		}
	}
}

func TestResetRequestedIsOneFixedBody(t *testing.T) {
	f := newFake()
	known := serve(f, Options{}, put(`{"email":"alice@example.com"}`))
	unknown := serve(f, Options{}, put(`{"email":"nobody-at-all@example.org"}`))
	if known.Code != 202 || unknown.Code != 202 {
		t.Fatalf("got %d and %d, want 202 twice", known.Code, unknown.Code)
	}
	if !bytes.Equal(known.Body.Bytes(), unknown.Body.Bytes()) || !bytes.Equal(known.Body.Bytes(), resetRequested) {
		t.Errorf("got bodies %q and %q, want both %q", known.Body, unknown.Body, resetRequested)
	}
	if got := known.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", got)
	}
}

func TestServiceSeesClient(t *testing.T) {
	f := newFake()
	r := put(tokenBody)
	r.RemoteAddr = "198.51.100.7:4711"
	rec := serve(f, Options{}, r)
	got := f.last(t).client
	if got.IP != "198.51.100.7" || got.RequestID == "" || got.RequestID != rec.Header().Get("X-Request-Id") {
		t.Errorf("got client %+v, want IP 198.51.100.7 and the response's request id", got)
	}
}

// The service gets the request's Accept-Language as sent, every line of it,
// cut at the last whole entry within models.MaxAcceptLanguage bytes.
func TestServiceSeesAcceptLanguage(t *testing.T) {
	long := strings.Repeat("en-GB;q=0.5,", 40)
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"none", nil, ""},
		{"one line", []string{"de-CH,de;q=0.9"}, "de-CH,de;q=0.9"},
		{"two lines", []string{"fr", "en;q=0.5"}, "fr,en;q=0.5"},
		{"too long", []string{long}, models.CapAcceptLanguage(long)},
	}
	for _, tt := range tests {
		f := newFake()
		r := put(emailBody)
		for _, l := range tt.lines {
			r.Header.Add("Accept-Language", l)
		}
		serve(f, Options{}, r)
		got := f.last(t).client.Languages
		if got != tt.want || len(got) > models.MaxAcceptLanguage {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestChangeUsesTheSession(t *testing.T) {
	f := newFake()
	f.session = models.Session{UserID: "user-42", IssuedAt: time.Unix(99, 0)}
	serve(f, Options{}, withAuth(put(changeBody), "BEARER "+canaryBearer))
	if got := f.calls[1].args; !slices.Equal(got, []string{canaryBearer}) {
		t.Errorf("got Authenticate args %q, want the bare token", got)
	}
	if got := f.last(t).session; got != f.session {
		t.Errorf("got session %+v, want %+v", got, f.session)
	}
}
