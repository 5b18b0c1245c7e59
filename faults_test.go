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
	"os"
	"path/filepath"
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
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// The fault tests run the real service (services.Open, the queue, the
// router) and take its database away under it in every way the database
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

// mustAnswer checks that every answer is status (503 or 500) with its
// problem code, Retry-After for 503, and came within bound (readiness
// probes: within their own 2 s).
func mustAnswer(t *testing.T, answers []answer, status int, bound time.Duration) {
	t.Helper()
	code := map[int]string{http.StatusServiceUnavailable: "unavailable", http.StatusInternalServerError: "internal"}[status]
	for _, a := range answers {
		limit := bound
		if strings.HasPrefix(a.what, "readyz") {
			limit = 2500 * time.Millisecond
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

// TestPostgresOutage cuts PostgreSQL away under the running service in every
// way it can go, with the rate limits on (every branch counts its client
// first) and off (every branch goes straight to its own queries), and
// checks that each answer is 503 + Retry-After within a few seconds and that
// the service recovers by itself when the database is back.
func TestPostgresOutage(t *testing.T) {
	storetest.RequirePostgres(t)
	cuts := []struct {
		name    string
		cut     func(t *testing.T, d *faultPostgres)
		restore func(t *testing.T, d *faultPostgres, f *faultService)
		bound   time.Duration
	}{
		{"connection refused", func(t *testing.T, d *faultPostgres) { d.proxy.Set(t, storetest.Refuse) },
			func(t *testing.T, d *faultPostgres, _ *faultService) { d.proxy.Set(t, storetest.Forward) }, time.Second},
		{"connection reset", func(t *testing.T, d *faultPostgres) { d.proxy.Set(t, storetest.Reset) },
			func(t *testing.T, d *faultPostgres, _ *faultService) { d.proxy.Set(t, storetest.Forward) }, time.Second},
		// Nothing answers and nothing fails: only the store's own bounds
		// (3 s a statement, 5 s a transaction) end the wait.
		{"connection blackholed", func(t *testing.T, d *faultPostgres) { d.proxy.Set(t, storetest.Blackhole) },
			func(t *testing.T, d *faultPostgres, _ *faultService) { d.proxy.Set(t, storetest.Forward) }, 6 * time.Second},
		// Every session terminated (57P01) while new ones are refused, as
		// when the server shuts down.
		{"server shut down", func(t *testing.T, d *faultPostgres) {
			d.proxy.Set(t, storetest.Refuse)
			d.admin(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB'")
		}, func(t *testing.T, d *faultPostgres, _ *faultService) { d.proxy.Set(t, storetest.Forward) }, time.Second},
		{"database dropped", func(t *testing.T, d *faultPostgres) {
			d.admin(t, "DROP DATABASE $DB WITH (FORCE)")
		}, nil, time.Second},
		// A database recreated empty: connections work, tables are missing
		// (42P01) and the schema is behind: not ready, never a 500.
		{"database recreated empty", func(t *testing.T, d *faultPostgres) {
			d.admin(t, "DROP DATABASE $DB WITH (FORCE)", "CREATE DATABASE $DB")
		}, func(t *testing.T, _ *faultPostgres, f *faultService) {
			if err := f.app.DB.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, 3 * time.Second},
	}
	for _, limits := range []bool{true, false} {
		for _, c := range cuts {
			t.Run(fmt.Sprintf("%s, limits %v", c.name, limits), func(t *testing.T) {
				t.Parallel()
				d := newFaultPostgres(t)
				f := startFaultService(t, config.Database{URL: d.url}, limits)
				c.cut(t, d)
				if c.name == "connection blackholed" {
					// Clients that give up: the service's failure of their
					// requests is no event worth more than debug. (The
					// server learns of a disconnect once it has read the
					// body, which it does first.)
					gone := []answer{f.ask(t, "gone-probe", http.MethodGet, "/readyz", "", "", 300*time.Millisecond),
						f.ask(t, "gone-put", http.MethodPut, "/api/v1/account/password", "", `{"email":"`+faultEmail+`"}`, 300*time.Millisecond)}
					for _, a := range gone {
						if a.status != 0 {
							t.Errorf("%s, want the client to give up first", a)
						}
					}
					defer func() {
						for _, a := range gone {
							if !strings.Contains(f.logs.String(), `"level":"DEBUG","msg":"http","method":"`+a.method) {
								t.Errorf("no debug access line for %s", a.what)
							}
						}
					}()
				}
				mustAnswer(t, f.askAll(t), http.StatusServiceUnavailable, c.bound)
				if c.restore != nil {
					c.restore(t, d, f)
					f.mustRecover(t)
				}
				mustHoldNoCanary(t, f)
			})
		}
	}
}

// Sessions terminated under the pool (57P01) while the server stays up:
// whatever a request meets on a dead connection, it is never a 500, and a
// 503 carries Retry-After.
func TestPostgresSessionsTerminated(t *testing.T) {
	storetest.RequirePostgres(t)
	t.Parallel()
	d := newFaultPostgres(t)
	f := startFaultService(t, config.Database{URL: d.url}, true)
	for range 3 {
		d.admin(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB'")
		for _, a := range f.askAll(t) {
			if a.status == http.StatusInternalServerError || a.status == 0 ||
				(a.status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "") {
				t.Errorf("%s", a)
			}
		}
	}
	mustHoldNoCanary(t, f)
}

// Errors of every class, raised by the database itself inside the
// statements of each path (the limits' counters; the mail queue's inserts,
// which River makes and store classifies): the unavailable classes are 503,
// a constraint or any other error 500.
func TestPostgresErrorClasses(t *testing.T) {
	storetest.RequirePostgres(t)
	classes := []struct {
		sqlstate string
		status   int
	}{
		{"57P01", 503}, {"57P02", 503}, {"57P03", 503}, // admin, crash, immediate shutdown / cannot connect now
		{"40001", 503}, {"40P01", 503}, // serialization failure, deadlock
		{"53300", 503}, {"08006", 503}, {"3D000", 503}, {"57014", 503}, // too many connections, connection failure, no database, timeout
		{"23514", 500}, {"P0001", 500}, {"22021", 500}, // a check constraint, a plain exception, bad data
	}
	for _, limits := range []bool{true, false} {
		t.Run(fmt.Sprintf("limits %v", limits), func(t *testing.T) {
			t.Parallel()
			d := newFaultPostgres(t)
			f := startFaultService(t, config.Database{URL: d.url}, limits)
			for _, c := range classes {
				// Counting a limit inserts into rate_limit_counters; every
				// branch does that first when limits are on. Without them,
				// each branch's first write is a job for the mail queue.
				d.direct(t, `CREATE OR REPLACE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN RAISE EXCEPTION 'injected failure' USING ERRCODE = '`+c.sqlstate+`'; END $$`,
					`CREATE OR REPLACE TRIGGER fail_counters BEFORE INSERT ON rate_limit_counters FOR EACH ROW EXECUTE FUNCTION fail_now()`,
					`CREATE OR REPLACE TRIGGER fail_jobs BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION fail_now()`)
				answers := f.askAll(t)
				mustAnswer(t, answers[:3], c.status, 3*time.Second) // hashing comes first on some paths
				for _, a := range answers[3:] {
					if a.status != http.StatusOK {
						t.Errorf("%s: %s, want ready: the database answers", c.sqlstate, a)
					}
				}
			}
			d.direct(t, `DROP TRIGGER fail_counters ON rate_limit_counters`, `DROP TRIGGER fail_jobs ON river_job`)

			// The statements that bind a password hash, an address or a
			// token hash fail too: setting the password (the stored hash
			// is the guard), creating an account, and the mail worker
			// issuing a token for a queued request. None of it may reach
			// the log, at any level.
			d.direct(t, `CREATE OR REPLACE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'injected failure' USING ERRCODE = '23514'; END $$`,
				`CREATE TRIGGER fail_users BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION fail_now()`,
				`CREATE TRIGGER fail_tokens BEFORE INSERT OR UPDATE ON reset_tokens FOR EACH ROW EXECUTE FUNCTION fail_now()`)
			answers := f.askAll(t)
			mustAnswer(t, answers[1:3], http.StatusInternalServerError, 3*time.Second)
			if answers[0].status != http.StatusAccepted {
				t.Errorf("%s: the request is only queued", answers[0])
			}
			const other = "canary-other@example.org"
			_, err := f.app.Passwords.CreateUserWith(context.Background(), account.NewUser{Email: other, Password: faultPassword})
			if err == nil || strings.Contains(err.Error(), other) {
				t.Errorf("create user: got %v, want an injected failure that names no address", err)
			}
			// Poll the log for the worker's failed attempt, with a deadline.
			deadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(f.logs.String(), `"job_kind":"reset_email"`) || !strings.Contains(f.logs.String(), "SQLSTATE 23514") {
				if time.Now().After(deadline) {
					t.Fatalf("the mail worker's failure was not logged:\n%s", f.logs)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if strings.Contains(f.logs.String(), other) {
				t.Errorf("the log holds %q", other)
			}
			mustHoldNoCanary(t, f)
		})
	}
}

// TestSQLiteOutage takes the embedded database away: its file removed or
// replaced under the open connections (which would otherwise go on
// acknowledging writes into a file nobody will read again), or locked by
// another process past the busy timeout.
func TestSQLiteOutage(t *testing.T) {
	for _, c := range []struct {
		name string
		cut  func(t *testing.T, path string)
	}{
		{"file removed", func(t *testing.T, path string) {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(path + suffix); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"file replaced by an empty one", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "accountpw.db")
			f := startFaultService(t, config.Database{Path: path}, true)
			c.cut(t, path)
			mustAnswer(t, f.askAll(t), http.StatusServiceUnavailable, time.Second)
			mustHoldNoCanary(t, f)
		})
	}

	// Another process (a backup, an operator's sqlite3 shell) holds the
	// write lock. Writes wait the busy timeout (3 s), then answer 503 +
	// Retry-After: the request was fine, the lock is someone else's and
	// will go, so it is no server fault. Readiness only has to answer in
	// time: reads work in WAL mode, but every pooled connection may be
	// waiting for the lock meanwhile.
	t.Run("locked by another process", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "accountpw.db")
		f := startFaultService(t, config.Database{Path: path}, true)
		other, err := store.Open(config.Database{Path: path}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		conn, err := other.SQL().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		answers := f.askAll(t)
		mustAnswer(t, answers[:3], http.StatusServiceUnavailable, 5*time.Second)
		for _, a := range answers[3:] {
			if a.took > 2500*time.Millisecond || (a.status != http.StatusOK && a.status != http.StatusServiceUnavailable) {
				t.Errorf("%s, want an answer within 2 s", a)
			}
		}
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		f.mustRecover(t)
		mustHoldNoCanary(t, f)
	})
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
