package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/sessions"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// logSink collects run's output and signals when the server listens, on
// the public listener (listening) and the admin one (adminListening).
type logSink struct {
	mu             sync.Mutex
	buf            bytes.Buffer
	listening      chan string
	adminListening chan string
}

func newLogSink() *logSink {
	return &logSink{listening: make(chan string, 1), adminListening: make(chan string, 1)}
}

var (
	listenRE      = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)
	adminListenRE = regexp.MustCompile(`"msg":"admin listening","addr":"([^"]+)"`)
)

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for re, ch := range map[*regexp.Regexp]chan string{listenRE: l.listening, adminListenRE: l.adminListening} {
		if m := re.FindSubmatch(p); m != nil {
			select {
			case ch <- string(m[1]):
			default:
			}
		}
	}
	return len(p), nil
}

func (l *logSink) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

// fakeSendGrid records /v3/mail/send payloads and answers 202.
type fakeSendGrid struct {
	*httptest.Server
	payloads chan map[string]any
}

func newFakeSendGrid(t *testing.T, key string) *fakeSendGrid {
	f := &fakeSendGrid{payloads: make(chan map[string]any, 100)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v3/mail/send" || r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.payloads <- p
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSendGrid) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case p := <-f.payloads:
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("no email reached the fake SendGrid within 20 s")
		return nil
	}
}

// adminURL is the server's maintenance database, used to create and drop
// a database per test.
const adminURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// mustPostgresURL creates an empty database for this test or benchmark and
// drops it after. Under CI an unreachable server fails instead of skipping.
func mustPostgresURL(tb testing.TB) string {
	tb.Helper()
	admin, err := sql.Open("pgx", adminURL)
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL is not reachable (CI is set, so this fails): %v", err)
		}
		tb.Skipf("PostgreSQL is not reachable; start it to run this: %v", err)
	}
	name := fmt.Sprintf("e2e_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
		admin.Close()
	})
	return "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
}

// startServe runs `serve` until the test ends and returns its base URL.
func startServe(t *testing.T, env map[string]string) (string, *logSink) {
	t.Helper()
	env["ACCOUNTPW_HTTP_ADDR"] = "127.0.0.1:0"
	if _, set := env["ACCOUNTPW_METRICS_ADDR"]; !set {
		env["ACCOUNTPW_METRICS_ADDR"] = "127.0.0.1:0" // tests run servers side by side
	}
	logs := newLogSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, environ(env), strings.NewReader(""), logs, io.Discard, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v, want nil after SIGTERM-like cancellation", err)
		}
	})
	select {
	case addr := <-logs.listening:
		return "http://" + addr, logs
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen within 30 s\n%s", logs)
	}
	return "", nil
}

// environ turns a map into os.Environ's "NAME=value" form.
func environ(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// runCmd runs a one-shot subcommand and returns its standard output.
func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, environ(env), strings.NewReader(stdin), &out, &errOut, nil); err != nil {
		t.Fatalf("accountpw %s: %v\n%s", strings.Join(args, " "), err, &errOut)
	}
	return out.String()
}

func put(t *testing.T, base, bearer, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/account/password", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := contractClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("got %d, want %d", resp.StatusCode, want)
	}
}

// tokenOf returns the token of the reset link in a SendGrid payload.
func tokenOf(t *testing.T, p map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(p)
	m := regexp.MustCompile(`password-reset\?token=([A-Za-z0-9_-]{43})`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no reset link in %s", b)
	}
	return string(m[1])
}

// TestEndToEnd walks all three branches like a client: PostgreSQL, the real
// SendGrid client against a fake server, the real router and queue.
func TestEndToEnd(t *testing.T) {
	const key = "SG.test-key"
	sg := newFakeSendGrid(t, key)
	secret := "e2e-secret-0123456789abcdefghijklmnop"
	env := map[string]string{
		"ACCOUNTPW_DATABASE_URL":               mustPostgresURL(t),
		"ACCOUNTPW_AUTH_JWT_SECRET":            secret,
		"ACCOUNTPW_MAIL_PROVIDER":              "sendgrid",
		"ACCOUNTPW_MAIL_SENDGRID_API_KEY":      key,
		"ACCOUNTPW_MAIL_SENDGRID_BASE_URL":     sg.URL,
		"ACCOUNTPW_RESET_URL":                  "https://app.example.org/password-reset",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456",
		"ACCOUNTPW_PASSWORD_ARGON2_TIME":       "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS":    "1",
		"ACCOUNTPW_PASSWORD_HASH_WAIT":         "5s",
	}
	const (
		pw1 = "canary-Pw1 velvet orbit copper"
		pw2 = "canary-Pw2 quartz meadow tundra"
		pw3 = "canary-Pw3 ember glacier saffron"
	)
	base, logs := startServe(t, env)
	var created struct{ ID, Email string }
	if err := json.Unmarshal([]byte(runCmd(t, env, pw1+"\n", "users", "create", "--email", "Walker@Example.org", "--password-stdin")), &created); err != nil {
		t.Fatal(err)
	}
	// A session from before any change: it must die with the reset.
	early, err := sessions.Issue([]byte(secret), config.Auth{}, created.ID, time.Now().Add(-10*time.Second), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	wantStatus(t, put(t, base, "", `{"email":"walker@EXAMPLE.org"}`), http.StatusAccepted)
	p := sg.next(t)
	b, _ := json.Marshal(p)
	if !strings.Contains(string(b), `"email":"Walker@Example.org"`) {
		t.Fatalf("the reset email must go to the stored address: %s", b)
	}
	if !strings.Contains(string(b), `"click_tracking":{"enable":false,"enable_text":false}`) {
		t.Fatalf("click tracking must be off: %s", b)
	}
	token := tokenOf(t, p)

	wantStatus(t, put(t, base, "", `{"token":"`+token+`","new":"`+pw2+`"}`), http.StatusNoContent)
	if n, _ := json.Marshal(sg.next(t)); strings.Contains(string(n), token) || !strings.Contains(string(n), "Walker@Example.org") {
		t.Fatalf("want a notice to the stored address without the token: %s", n)
	}
	wantStatus(t, put(t, base, "", `{"token":"`+token+`","new":"`+pw3+`"}`), http.StatusForbidden)
	wantStatus(t, put(t, base, early, `{"old":"`+pw2+`","new":"`+pw3+`"}`), http.StatusUnauthorized)

	bearer := strings.TrimSpace(runCmd(t, env, "", "token", "--user-id", created.ID))
	wantStatus(t, put(t, base, bearer, `{"old":"`+pw1+`","new":"`+pw3+`"}`), http.StatusForbidden)
	wantStatus(t, put(t, base, bearer, `{"old":"`+pw2+`","new":"`+pw3+`"}`), http.StatusNoContent)
	sg.next(t) // the change notice

	// Error paths carrying canaries in every place a client can put one.
	const (
		qCanary   = "canaryQueryToken0123456789abcdefghijklmnopq"
		jwtCanary = "eyJhbGciOiJIUzI1NiJ9.canaryJWT.canarySignature"
		tCanary   = "canaryBodyToken0123456789abcdefghijklmnopqr"
		eCanary   = "canary.unknown@example.org"
		pCanary   = "canary-short"
	)
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/account/password?token="+qCanary, strings.NewReader(`{"new":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := contractClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusBadRequest)
	wantStatus(t, put(t, base, jwtCanary, `{"old":"`+pw3+`","new":"`+pCanary+`"}`), http.StatusUnauthorized)
	wantStatus(t, put(t, base, "", `{"token":"`+tCanary+`","new":"`+pw1+`"}`), http.StatusForbidden)
	wantStatus(t, put(t, base, "", `{"email":"`+eCanary+`"}`), http.StatusAccepted)
	wantStatus(t, put(t, base, bearerAfter(t, env, created.ID), `{"old":"`+pw3+`","new":"`+pCanary+`"}`), http.StatusUnprocessableEntity)
	wantStatus(t, put(t, base, "", `{"email":"a@b.co\r\nlevel=INFO msg=forged"}`), http.StatusBadRequest)
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS must never be sent over plain HTTP")
	}

	for _, canary := range []string{pw1, pw2, pw3, token, secret, key, "Walker@Example.org", "walker@example.org",
		qCanary, jwtCanary, "canaryJWT", tCanary, eCanary, pCanary} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("the log contains the secret or address %q", canary)
		}
	}
}

// bearerAfter mints a fresh bearer with the token command.
func bearerAfter(t *testing.T, env map[string]string, id string) string {
	t.Helper()
	return strings.TrimSpace(runCmd(t, env, "", "token", "--user-id", id))
}

// TestEmbeddedDefault starts from an empty directory with no configuration
// at all, as a newcomer's `go run .` does.
func TestEmbeddedDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	env := map[string]string{
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1",
	}
	base, logs := startServe(t, env)
	resp, err := contractClient.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantStatus(t, resp, http.StatusOK)
	if fi, err := os.Stat("data/jwt_secret"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("data/jwt_secret: %v, mode %v; want a generated 0600 file", err, fi)
	}

	out := runCmd(t, env, "velvet orbit copper lantern\n", "users", "create", "--email", "new@example.org", "--password-stdin")
	var u struct{ ID string }
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.ID == "" {
		t.Fatalf("users create printed %q: %v", out, err)
	}
	wantStatus(t, put(t, base, "", `{"email":"new@example.org"}`), http.StatusAccepted)

	// The log mailer prints the message, link included: that is its purpose.
	deadline := time.After(20 * time.Second)
	var link *url.URL
	for link == nil {
		if m := regexp.MustCompile(`http://localhost:8080/password-reset\?token=[A-Za-z0-9_-]{43}`).FindString(logs.String()); m != "" {
			link, _ = url.Parse(m)
			break
		}
		select {
		case <-deadline:
			t.Fatalf("no reset link in the log\n%s", logs)
		case <-time.After(50 * time.Millisecond): // polling the log for an async job's line
		}
	}
	wantStatus(t, put(t, base, "", `{"token":"`+link.Query().Get("token")+`","new":"quartz meadow tundra violin"}`), http.StatusNoContent)

	// serve and token agree on the generated secret.
	bearer := strings.TrimSpace(runCmd(t, env, "", "token", "--user-id", u.ID, "--ttl", "5m"))
	wantStatus(t, put(t, base, bearer, `{"old":"quartz meadow tundra violin","new":"ember glacier saffron pylon"}`), http.StatusNoContent)
}

func TestConfigProblemsAreReportedTogether(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("config.yaml", []byte("http:\n  adr: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), nil, environ(map[string]string{
		"ACCOUNTPW_RESET_TOKEN_TTL": "2h", "ACCOUNTPW_MAIL_PROVIDER": "pigeon",
	}), strings.NewReader(""), io.Discard, io.Discard, nil)
	if err == nil {
		t.Fatal("want a configuration error")
	}
	for _, want := range []string{"adr", "token_ttl", "pigeon"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
