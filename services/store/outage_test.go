package store_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

var discard = slog.New(slog.DiscardHandler)

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
		// Slack above the bounds is for a loaded machine: what matters is
		// the caller's 4.5 s, not the statement's 3 s nor a dead TCP
		// connection's minutes.
		if took := time.Since(start); took < 4*time.Second || took > 7*time.Second {
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
		{"ping", func() error { return db.Ping(ctx) }, 5 * time.Second},
		{"a GORM query", func() error { _, err := db.UserByID(ctx, "x"); return err }, 5 * time.Second},
		{"a counter statement", func() error {
			_, err := db.CountHits(ctx, []store.Hit{{Bucket: "b", Start: 0, End: 60, N: 1}})
			return err
		}, 5 * time.Second},
		{"a transaction", func() error {
			return db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.UserByID(ctx, "x"); return err })
		}, 7 * time.Second},
		{"the schema check", func() error { return db.SchemaReady(ctx) }, 5 * time.Second},
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
