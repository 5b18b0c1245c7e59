package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// call is one recorded Service call.
type call struct {
	method  string
	client  models.Client
	args    []string
	session models.Session
	// deadline is when the call's context expires.
	deadline time.Time
}

// fakeService records every call and answers with the configured errors.
// errs maps a method name to the error it returns; panics names a method
// that panics instead, blocks one that waits for its context to end.
type fakeService struct {
	mu      sync.Mutex
	calls   []call
	errs    map[string]error
	panics  string
	blocks  string
	session models.Session
}

func newFake() *fakeService {
	return &fakeService{errs: map[string]error{}, session: models.Session{UserID: "u1", IssuedAt: time.Unix(1, 0)}}
}

func (f *fakeService) record(ctx context.Context, method string, c models.Client, s models.Session, args ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	deadline, _ := ctx.Deadline()
	f.calls = append(f.calls, call{method: method, client: c, args: args, session: s, deadline: deadline})
	if f.blocks == method {
		<-ctx.Done()
		return fmt.Errorf("fake %s: %w", method, ctx.Err())
	}
	if f.panics == method {
		panic("fake " + method + " exploded")
	}
	return f.errs[method]
}

func (f *fakeService) Admit(ctx context.Context, c models.Client) error {
	return f.record(ctx, "Admit", c, models.Session{})
}

func (f *fakeService) RequestReset(ctx context.Context, c models.Client, email string) error {
	return f.record(ctx, "RequestReset", c, models.Session{}, email)
}

func (f *fakeService) Reset(ctx context.Context, c models.Client, token, newPassword string) error {
	return f.record(ctx, "Reset", c, models.Session{}, token, newPassword)
}

func (f *fakeService) Change(ctx context.Context, c models.Client, s models.Session, oldPassword, newPassword string) error {
	return f.record(ctx, "Change", c, s, oldPassword, newPassword)
}

func (f *fakeService) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	if err := f.record(ctx, "Authenticate", models.Client{}, models.Session{}, bearer); err != nil {
		return models.Session{}, err
	}
	return f.session, nil
}

func (f *fakeService) Ready(ctx context.Context) error {
	return f.record(ctx, "Ready", models.Client{}, models.Session{})
}

// methods lists the names of the recorded calls in order.
func (f *fakeService) methods() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, len(f.calls))
	for i, c := range f.calls {
		names[i] = c.method
	}
	return strings.Join(names, ",")
}

// last returns the most recent call.
func (f *fakeService) last(t *testing.T) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("no service call recorded")
	}
	return f.calls[len(f.calls)-1]
}

// put builds a PUT of the password resource with a JSON body.
func put(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPut, passwordPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// serve sends r through a fresh router over f and returns the recording.
func serve(f *fakeService, opts Options, r *http.Request) *httptest.ResponseRecorder {
	if opts.Logger == nil {
		opts.Logger = discardLogger
	}
	body := contract.capture(r)
	rec := httptest.NewRecorder()
	New(f, opts).ServeHTTP(rec, r)
	contract.observe(r, body, rec) // openapi_test.go: every exchange must match openapi.yaml
	return rec
}

// mustProblem checks that rec is a well-formed problem with the given status
// and code, and returns it.
func mustProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("got status %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("got Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %q does not decode: %v", rec.Body, err)
	}
	if p.Status != status || p.Code != code {
		t.Errorf("got problem status %d code %q, want %d %q", p.Status, p.Code, status, code)
	}
	if p.Type != problemBase+code || p.Title == "" || p.Detail == "" || p.RequestID == "" {
		t.Errorf("got incomplete problem %+v", p)
	}
	return p
}

// mustBaseHeaders checks the headers every response carries.
func mustBaseHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for name, want := range map[string]string{
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("got %s %q, want %q", name, got, want)
		}
	}
	if got := rec.Header().Get("Server"); got != "" {
		t.Errorf("got Server %q, want none", got)
	}
}

var discardLogger = slog.New(slog.DiscardHandler)
