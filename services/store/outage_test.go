package store_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

var discard = slog.New(slog.DiscardHandler)

// eachReopenable runs f on PostgreSQL and SQLite with a function that opens
// a new handle on the same database (with its own caches) through log. The
// database starts empty, not migrated.
func eachReopenable(t *testing.T, f func(t *testing.T, postgres bool, open func(log *slog.Logger) *store.DB)) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		u := storetest.EmptyPostgresURL(t)
		f(t, true, func(log *slog.Logger) *store.DB { return mustOpen(t, config.Database{URL: u}, log) })
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "accountpw.db")
		f(t, false, func(log *slog.Logger) *store.DB { return mustOpen(t, config.Database{Path: path}, log) })
	})
}

func mustOpen(t *testing.T, cfg config.Database, log *slog.Logger) *store.DB {
	t.Helper()
	db, err := store.Open(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *store.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.SQL().Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// The schema is ready when both the service's and the queue's migrations
// are applied; a database never migrated, or missing the newest migration
// of either, is not, and a statement that meets a missing table then is
// unavailable (503), not a fault. With the schema current, a missing table
// is a fault (500).
func TestSchemaReady(t *testing.T) {
	eachReopenable(t, func(t *testing.T, _ bool, open func(*slog.Logger) *store.DB) {
		empty := open(discard)
		if err := empty.SchemaReady(ctx); !errors.Is(err, store.ErrSchemaNotReady) || !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("never migrated: got %v, want ErrSchemaNotReady", err)
		}
		if _, err := empty.UserByID(ctx, "x"); !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("a query on a database never migrated: got %v, want ErrUnavailable", err)
		}
		if err := empty.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := empty.SchemaReady(ctx); err != nil {
			t.Fatalf("migrated: %v", err)
		}

		// Current schema, missing table: the code or a person is wrong.
		mustExec(t, empty, `ALTER TABLE users RENAME TO users_moved`)
		if _, err := empty.UserByID(ctx, "x"); err == nil || errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("a missing table with the schema current: got %v, want a fault", err)
		}
		mustExec(t, empty, `ALTER TABLE users_moved RENAME TO users`)

		// The queue's newest migration undone: not ready, on a new handle
		// (the first one may answer from its cache for a few seconds).
		mustExec(t, empty, `DELETE FROM river_migration WHERE version = (SELECT MAX(version) FROM river_migration)`)
		if err := open(discard).SchemaReady(ctx); !errors.Is(err, store.ErrSchemaNotReady) {
			t.Fatalf("the queue's migration missing: got %v, want ErrSchemaNotReady", err)
		}
		if err := empty.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// The service's newest migration undone, and its table gone.
		mustExec(t, empty, `DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)`,
			`ALTER TABLE users RENAME TO users_moved`)
		behind := open(discard)
		if _, err := behind.UserByID(ctx, "x"); !errors.Is(err, models.ErrUnavailable) || !errors.Is(err, store.ErrSchemaNotReady) {
			t.Fatalf("a missing table with the schema behind: got %v, want ErrSchemaNotReady", err)
		}
		if err := behind.SchemaReady(ctx); !errors.Is(err, store.ErrSchemaNotReady) {
			t.Fatalf("the service's migration missing: got %v, want ErrSchemaNotReady", err)
		}
	})
}

// Nothing the database does makes a statement outlast a few seconds: a
// PostgreSQL connection that no longer answers (blackholed by the proxy)
// fails each statement after 3 s and a transaction after 5 s, as
// unavailable.
func TestStatementsAreBounded(t *testing.T) {
	storetest.RequirePostgres(t)
	t.Parallel()
	raw := storetest.PostgresURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, u.Host)
	db := mustOpen(t, config.Database{URL: proxy.URL(t, raw)}, discard)
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// Work bound by its caller (a queue job, a command) waits as long as the
	// caller lets it. One pooled connection, opened before the cut, so
	// that the wait is the statement's and not a new connection's (those
	// time out after 3 s whatever the context says).
	patient := mustOpen(t, config.Database{URL: proxy.URL(t, raw)}, discard)
	patient.SQL().SetMaxOpenConns(1)
	if err := patient.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	proxy.Set(t, storetest.Blackhole)
	t.Run("a statement bound by its caller", func(t *testing.T) {
		t.Parallel()
		jctx, cancel := context.WithTimeout(store.BoundByCaller(ctx), 4500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := patient.UserByID(jctx, "x")
		if took := time.Since(start); took < 4*time.Second || took > 5500*time.Millisecond {
			t.Errorf("took %v, want the caller's 4.5 s", took)
		}
		if !errors.Is(err, models.ErrUnavailable) {
			t.Errorf("got %v, want ErrUnavailable", err)
		}
	})
	for _, c := range []struct {
		name  string
		call  func() error
		bound time.Duration
	}{
		{"ping", func() error { return db.Ping(ctx) }, 3500 * time.Millisecond},
		{"a GORM query", func() error { _, err := db.UserByID(ctx, "x"); return err }, 3500 * time.Millisecond},
		{"a counter statement", func() error {
			_, err := db.CountHits(ctx, []store.Hit{{Bucket: "b", Start: 0, End: 60, N: 1}})
			return err
		}, 3500 * time.Millisecond},
		{"a transaction", func() error {
			return db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.UserByID(ctx, "x"); return err })
		}, 5500 * time.Millisecond},
		{"the schema check", func() error { return db.SchemaReady(ctx) }, 3500 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := c.call()
			if took := time.Since(start); took > c.bound {
				t.Errorf("took %v, want at most %v", took, c.bound)
			}
			if !errors.Is(err, models.ErrUnavailable) {
				t.Errorf("got %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestSQLiteFilesArePrivate: the database and its -wal and -shm files are
// 0600 whatever the umask, and files an earlier version or another tool
// left readable are tightened at open.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0) // process-wide: this test is not parallel
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "data", "accountpw.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	db, err := store.Open(config.Database{Path: path}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	mustUser(t, db, "private")
	check("created")
	db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	db, err = store.Open(config.Database{Path: path}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustUser(t, db, "again")
	check("reopened")
}

// syncBuffer is a bytes.Buffer safe for concurrent loggers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoValuesInLogs is the canary test of SQL logging: every statement that
// binds a secret or an address (an address and its key, a token hash, a
// password hash, a counter bucket naming an IP) fails, because its context
// was cancelled, because the database raised an error inside it, or, on
// PostgreSQL, it is slow; the log at debug level, where each of these is
// reported, holds none of the values, and neither do the errors.
func TestNoValuesInLogs(t *testing.T) {
	const (
		address = "canary-addr@example.org"
		key     = "canary-key@example.org"
		token   = "canary-token-hash-0f1e2d3c"
		oldHash = "$argon2id$canary-old-hash"
		newHash = "$argon2id$canary-new-hash"
		bucket  = "reset_ip/60:198.51.100.77"
	)
	eachReopenable(t, func(t *testing.T, postgres bool, open func(*slog.Logger) *store.DB) {
		var logs syncBuffer
		db := open(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err := db.Migrate(ctx); err != nil { // the database is empty
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		u := models.User{ID: "canary-user", Email: address, EmailKey: key, PasswordHash: oldHash,
			PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		statements := map[string]func(ctx context.Context) error{
			"create user": func(ctx context.Context) error {
				v := u
				v.ID, v.EmailKey = "canary-user-2", key+"2"
				return db.CreateUser(ctx, v)
			},
			"user by key":  func(ctx context.Context) error { _, err := db.UserByEmailKey(ctx, key); return err },
			"set password": func(ctx context.Context) error { return db.SetPassword(ctx, u.ID, oldHash, newHash, now) },
			"issue token": func(ctx context.Context) error {
				_, err := db.IssueToken(ctx, key, token, now.Add(time.Hour), now)
				return err
			},
			"live token": func(ctx context.Context) error { _, err := db.LiveToken(ctx, token, now); return err },
			"count hits": func(ctx context.Context) error {
				_, err := db.CountHits(ctx, []store.Hit{{Bucket: bucket, Start: now.Unix(), End: now.Unix() + 60, N: 1}})
				return err
			},
			"uncount hits": func(ctx context.Context) error {
				return db.UncountHits(ctx, []store.Hit{{Bucket: bucket, Start: now.Unix(), N: 1}})
			},
		}
		var errs []error
		run := func(ctx context.Context) {
			for name, f := range statements {
				if err := f(ctx); err != nil {
					errs = append(errs, err)
				} else if name != "uncount hits" && name != "user by key" {
					t.Errorf("%s did not fail", name)
				}
			}
		}
		// A cancelled context: the client went away.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		run(cancelled)
		// The database refuses every write and fails every read of users.
		fail := []string{
			`CREATE TRIGGER fail_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`CREATE TRIGGER fail_users_update BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`CREATE TRIGGER fail_tokens BEFORE INSERT ON reset_tokens BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`CREATE TRIGGER fail_counters BEFORE INSERT ON rate_limit_counters BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
		}
		if postgres {
			fail = []string{`CREATE FUNCTION fail_now() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
				`CREATE TRIGGER fail_users BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION fail_now()`,
				`CREATE TRIGGER fail_tokens BEFORE INSERT ON reset_tokens FOR EACH ROW EXECUTE FUNCTION fail_now()`,
				`CREATE TRIGGER fail_counters BEFORE INSERT ON rate_limit_counters FOR EACH ROW EXECUTE FUNCTION fail_now()`}
		}
		mustExec(t, db, fail...)
		statements["user by key"] = func(ctx context.Context) error {
			_, err := db.UserByEmailKey(ctx, key+"-none")
			return err
		}
		run(ctx)
		if postgres {
			// Slow, not failing: logged at warn with its statement.
			mustExec(t, db, `DROP TRIGGER fail_users ON users`,
				`CREATE FUNCTION slow_now() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.25); RETURN NEW; END $$`,
				`CREATE TRIGGER slow_users BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION slow_now()`)
			if err := db.SetPassword(ctx, u.ID, oldHash, newHash, now); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), `"level":"WARN","msg":"slow sql"`) {
				t.Error("the slow statement was not logged")
			}
		}
		text := logs.String()
		if !strings.Contains(text, `"msg":"sql failed"`) {
			t.Fatalf("no failed statement was logged:\n%s", text)
		}
		for _, canary := range []string{address, key, token, oldHash, newHash, bucket, "198.51.100.77"} {
			if strings.Contains(text, canary) {
				t.Errorf("the log holds %q", canary)
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), canary) {
					t.Errorf("an error holds %q: %v", canary, err)
				}
			}
		}
		for line := range strings.Lines(text) {
			if strings.Contains(line, "context canceled") && !strings.Contains(line, `"level":"DEBUG"`) {
				t.Errorf("a cancelled statement logged above debug: %s", line)
			}
		}
	})
}
