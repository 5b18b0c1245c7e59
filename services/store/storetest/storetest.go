// Package storetest gives tests a real, migrated database: a fresh
// PostgreSQL database per test (cloned by pgtestdb from a template migrated
// once) and a SQLite file in a temporary directory. Tests never mock the
// database. Under CI (the CI variable set) an unreachable PostgreSQL fails
// the test; elsewhere it skips with a message.
//
// Only tests import it.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver pgtestdb connects with
	"github.com/peterldowns/pgtestdb"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// PG is where the test server listens; PGHOST, PGPORT, PGUSER, PGPASSWORD
// and PGDATABASE override the defaults (127.0.0.1:5432, postgres, test).
var PG = pgtestdb.Config{
	DriverName: "pgx", Host: envOr("PGHOST", "127.0.0.1"), Port: envOr("PGPORT", "5432"),
	User: envOr("PGUSER", "postgres"), Password: os.Getenv("PGPASSWORD"), Database: envOr("PGDATABASE", "test"),
	Options: "sslmode=disable", ForceTerminateConnections: true,
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

var reachable = sync.OnceValue(func() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(PG.Host, PG.Port), 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
})

// RequirePostgres skips the test when PostgreSQL is not reachable, or fails
// it under CI.
func RequirePostgres(tb testing.TB) {
	tb.Helper()
	if reachable() {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("PostgreSQL is not reachable at %s:%s (CI is set, so this fails instead of skipping)", PG.Host, PG.Port)
	}
	tb.Skipf("PostgreSQL is not reachable at %s:%s; start it to run this test", PG.Host, PG.Port)
}

// migrator runs every migration in the template database.
type migrator struct{}

// Hash changes whenever a migration file or the queue's schema version does,
// so pgtestdb rebuilds the template.
func (migrator) Hash() (string, error) {
	h := sha256.New()
	h.Write([]byte("river v0.51.2\n"))
	err := fs.WalkDir(store.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(store.Migrations(), path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return store.MigrateSQL(ctx, db)
}

// PostgresURL returns the URL of a migrated, empty PostgreSQL database for
// this test, dropped after it.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	RequirePostgres(tb)
	return pgtestdb.Custom(tb, PG, migrator{}).URL()
}

// Postgres opens a migrated, empty PostgreSQL database for this test.
func Postgres(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(config.Database{URL: PostgresURL(tb)}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// SQLite opens a migrated embedded database in a temporary directory.
func SQLite(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(config.Database{Path: filepath.Join(tb.TempDir(), "data", "accountpw.db")}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// Each runs f as a parallel subtest on PostgreSQL and on SQLite.
func Each(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, c := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"postgres", Postgres}, {"sqlite", SQLite}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f(t, c.open(t))
		})
	}
}

// Count returns the number of rows in table, for tests that check what a
// statement left behind.
func Count(tb testing.TB, db *store.DB, table string) int64 {
	tb.Helper()
	var n int64
	if err := db.SQL().QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// EmptyPostgresURL returns the URL of a new PostgreSQL database with nothing
// in it, not even the migrations, dropped after the test: for tests of what
// happens before or without them.
func EmptyPostgresURL(tb testing.TB) string {
	tb.Helper()
	RequirePostgres(tb)
	admin, err := sql.Open("pgx", serverURL(PG.Database))
	if err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("empty_%d_%d", os.Getpid(), emptyCount.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop %s: %v", name, err)
		}
	})
	return serverURL(name)
}

var emptyCount atomic.Int64

// serverURL is the URL of database on the test server.
func serverURL(database string) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(PG.Host, PG.Port), Path: "/" + database,
		RawQuery: "sslmode=disable", User: url.User(PG.User)}
	if PG.Password != "" {
		u.User = url.UserPassword(PG.User, PG.Password)
	}
	return u.String()
}
