package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/handlers"
	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services"
	"github.com/accountpw/accountpw/services/account"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// The fault tests (outage_test.go; this file holds their harness) run the
// real service (services.Open, the queue, the router) and take its database
// away under it in every way the database
// can go: refused, reset and blackholed connections (through a proxy),
// terminated sessions, a dropped or emptied database, injected errors of
// every class, and on SQLite a removed, replaced or locked file. Every
// answer must be 503 + Retry-After with code unavailable (or 500 for what
// really is a fault), never a hang past a few seconds.

const (
	faultEmail    = "canary-walker@example.org"
	faultPassword = "canary velvet orbit copper"
	faultNew      = "canary quartz meadow tundra"
	// faultIP is the client, through X-Forwarded-For: rate-limit buckets
	// name it, and the canary test looks for those buckets in the log.
	faultIP = "192.0.2.123"
)

// faultService is one running service and what its requests need.
type faultService struct {
	base         string
	app          *services.App
	logs         *logSink
	token        string // a live reset token
	bearer       string // a session of the account
	passwordHash string // the account's stored hash, a canary
}

// startFaultService opens db (migrating it), starts the queue against a
// fake SendGrid (the log mailer would print the address on purpose), and
// serves the router on a loopback port that trusts X-Forwarded-For.
func startFaultService(t *testing.T, db config.Database, limits bool) *faultService {
	t.Helper()
	const key = "SG.fault-key"
	sg := newFakeSendGrid(t, key)
	cfg := config.Default()
	cfg.Database, cfg.Database.Migrate = db, true
	cfg.Auth.JWTSecret = "fault-secret-0123456789abcdefghijklmnop"
	cfg.Mail.Provider, cfg.Mail.SendGrid.APIKey, cfg.Mail.SendGrid.BaseURL = config.ProviderSendGrid, key, sg.URL
	cfg.Reset.URL = "https://app.example.org/password-reset"
	cfg.Limits.Disabled = !limits
	cfg.Password.Memory, cfg.Password.Time, cfg.Password.Threads = 19456, 2, 1
	// A slot is free again once a collection has freed its argon2 block. In
	// this test binary many services share one large heap, where that takes
	// far longer than in a serving process; the wait keeps "busy" out of
	// answers that are about the database.
	cfg.Password.HashWait = 5 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := newLogSink()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := services.Open(ctx, cfg, log, services.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.Queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = a.Queue.Stop(sctx) // in-flight jobs against a dead database may not finish
		cancel()
	})
	srv := httptest.NewServer(handlers.New(a.Passwords, handlers.Options{
		Logger: log, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}))
	t.Cleanup(srv.Close)

	u, err := a.Passwords.CreateUserWith(ctx, account.NewUser{Email: faultEmail, Password: faultPassword})
	if err != nil {
		t.Fatal(err)
	}
	f := &faultService{base: srv.URL, app: a, logs: logs, token: "canaryTok" + strings.Repeat("A", 34)}
	sum := sha256.Sum256([]byte(f.token))
	now := time.Now().UTC()
	if _, err := a.DB.IssueToken(ctx, models.EmailKey(faultEmail), hex.EncodeToString(sum[:]), now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if f.bearer, err = a.IssueToken(u.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	stored, err := a.DB.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.passwordHash = stored.PasswordHash
	return f
}

// answer is what one request got.
type answer struct {
	what   string
	method string
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

func (a answer) String() string {
	return fmt.Sprintf("%s: %d %s after %v", a.what, a.status, a.body, a.took.Round(time.Millisecond))
}

// askAll sends the three PUT branches and both readiness probes at once,
// each with a request id of its own ("fault-" + what).
func (f *faultService) askAll(t *testing.T) []answer {
	t.Helper()
	reqs := []struct{ what, method, path, bearer, body string }{
		{"request-reset", http.MethodPut, "/api/v1/account/password", "", `{"email":"` + faultEmail + `"}`},
		{"reset", http.MethodPut, "/api/v1/account/password", "", `{"token":"` + f.token + `","new":"` + faultNew + `"}`},
		{"change", http.MethodPut, "/api/v1/account/password", f.bearer, `{"old":"` + faultPassword + `","new":"` + faultNew + `"}`},
		{"readyz", http.MethodGet, "/readyz", "", ""},
		{"readyz-head", http.MethodHead, "/readyz", "", ""},
	}
	out := make([]answer, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			out[i] = f.ask(t, r.what, r.method, r.path, r.bearer, r.body, 20*time.Second)
		})
	}
	wg.Wait()
	return out
}

// ask sends one request; a client that gives up after giveUp gets status 0.
func (f *faultService) ask(t *testing.T, what, method, path, bearer, body string, giveUp time.Duration) answer {
	ctx, cancel := context.WithTimeout(context.Background(), giveUp)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.base+path, rd)
	if err != nil {
		t.Error(err)
		return answer{what: what}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("X-Forwarded-For", faultIP)
	req.Header.Set("X-Request-Id", "fault-"+what)
	start := time.Now()
	resp, err := contractClient.Do(req)
	if err != nil {
		return answer{what: what, method: method, took: time.Since(start)}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{what: what, method: method, status: resp.StatusCode, header: resp.Header, body: b, took: time.Since(start)}
}

// Liveness bounds of the fault tests. They are not performance figures:
// they tell an answer the service's own bounds gave (a statement's 3 s, a
// transaction's 5 s, readiness's 2 s) from one that waited for the request
// timeout (10 s) or a dead TCP connection, with room for a loaded machine.
const (
	answerSlack    = 3 * time.Second
	readinessBound = 4 * time.Second
)

// mustAnswer checks that every answer is status (503 or 500) with its
// problem code, Retry-After for 503, and came within bound plus
// answerSlack (readiness probes: within readinessBound).
func mustAnswer(t *testing.T, answers []answer, status int, bound time.Duration) {
	t.Helper()
	code := map[int]string{http.StatusServiceUnavailable: "unavailable", http.StatusInternalServerError: "internal"}[status]
	for _, a := range answers {
		limit := bound + answerSlack
		if strings.HasPrefix(a.what, "readyz") {
			limit = readinessBound
		}
		if a.status != status {
			t.Errorf("%s: want %d", a, status)
			continue
		}
		if a.took > limit {
			t.Errorf("%s: want an answer within %v", a, limit)
		}
		if ra, err := strconv.Atoi(a.header.Get("Retry-After")); status == http.StatusServiceUnavailable && (err != nil || ra < 1) {
			t.Errorf("%s: Retry-After %q", a, a.header.Get("Retry-After"))
		}
		if a.method == http.MethodHead {
			continue
		}
		var p struct{ Code string }
		if err := json.Unmarshal(a.body, &p); err != nil || p.Code != code {
			t.Errorf("%s: want problem code %s", a, code)
		}
	}
}

// mustRecover polls until the service is ready and takes requests again,
// after the database came back.
func (f *faultService) mustRecover(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		a := f.ask(t, "recovery", http.MethodGet, "/readyz", "", "", 5*time.Second)
		if a.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready again: %s", a)
		}
		time.Sleep(100 * time.Millisecond) // polling readiness, with a deadline
	}
	if a := f.ask(t, "request-reset", http.MethodPut, "/api/v1/account/password", "", `{"email":"`+faultEmail+`"}`, 5*time.Second); a.status != http.StatusAccepted {
		t.Fatalf("after recovery: %s", a)
	}
}

// faultPostgres is a database of its own behind a proxy.
type faultPostgres struct {
	url, name string
	proxy     *storetest.Proxy
}

func newFaultPostgres(t *testing.T) *faultPostgres {
	t.Helper()
	raw := mustPostgresURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := storetest.NewProxy(t, u.Host)
	return &faultPostgres{url: p.URL(t, raw), name: strings.TrimPrefix(u.Path, "/"), proxy: p}
}

// admin runs statements on the server's maintenance database.
func (d *faultPostgres) admin(t *testing.T, stmts ...string) {
	t.Helper()
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(strings.ReplaceAll(s, "$DB", d.name)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// direct runs statements on the test's database itself, not through the
// proxy.
func (d *faultPostgres) direct(t *testing.T, stmts ...string) {
	t.Helper()
	u, _ := url.Parse(d.url)
	u.Host = "127.0.0.1:5432"
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// mustHoldNoCanary checks the service's whole log (debug level included)
// for what must never be logged: the address and its lookup key, the
// reset token and its stored hash, the password, its stored hash, the
// bearer, and the rate-limit buckets that name the client's IP. (The IP
// itself is in the access lines on purpose.) Every line must be JSON, and
// every line about a request whose client went away at most debug.
func mustHoldNoCanary(t *testing.T, f *faultService) {
	t.Helper()
	sum := sha256.Sum256([]byte(f.token))
	canaries := []string{faultEmail, models.EmailKey(faultEmail), f.token, hex.EncodeToString(sum[:]),
		faultPassword, faultNew, f.passwordHash, f.bearer,
		"/60:" + faultIP, "/900:" + faultIP, "/3600:" + faultIP}
	logs := f.logs.String()
	for _, c := range canaries {
		if strings.Contains(logs, c) {
			t.Errorf("the log holds %q", c)
		}
	}
	for line := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("not a JSON line: %q", line)
		}
		if id, _ := m["request_id"].(string); strings.HasPrefix(id, "fault-gone") && m["level"] != "DEBUG" {
			t.Errorf("a disconnect logged above debug: %s", line)
		}
	}
}
