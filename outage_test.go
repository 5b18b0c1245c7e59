package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/account"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

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
			if a.took > readinessBound || (a.status != http.StatusOK && a.status != http.StatusServiceUnavailable) {
				t.Errorf("%s, want 200 or 503 within %v (readiness answers within its own 2 s)", a, readinessBound)
			}
		}
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		f.mustRecover(t)
		mustHoldNoCanary(t, f)
	})
}
