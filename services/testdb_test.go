package services

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver pgtestdb connects with
	"github.com/peterldowns/pgtestdb"
)

// Tests run against a real PostgreSQL: a fresh database per test, cloned by
// pgtestdb from a template migrated once. Under CI (CI set) an unreachable
// server fails the test; elsewhere it skips with a message.
var pgConf = pgtestdb.Config{
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

var pgReachable = sync.OnceValue(func() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(pgConf.Host, pgConf.Port), 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
})

// migrator runs the service's own migrations and River's in the template.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	h.Write([]byte("river v0.31.0\n"))
	err := fs.WalkDir(migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := migrations.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return (&DB{SQL: db, Postgres: true}).Migrate(ctx)
}

// mustPostgres returns a migrated, empty PostgreSQL database for this test.
func mustPostgres(t testing.TB) *DB {
	t.Helper()
	if !pgReachable() {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is not reachable at %s:%s (CI is set, so this fails instead of skipping)", pgConf.Host, pgConf.Port)
		}
		t.Skipf("PostgreSQL is not reachable at %s:%s; start it to run this test", pgConf.Host, pgConf.Port)
	}
	conf := pgtestdb.Custom(t, pgConf, migrator{})
	db, err := OpenDB(conf.URL(), "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustSQLite returns a migrated embedded database in a temporary directory.
func mustSQLite(t testing.TB) *DB {
	t.Helper()
	db, err := OpenDB("", filepath.Join(t.TempDir(), "data", "accountpw.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// eachDB runs f as a subtest on PostgreSQL and on SQLite.
func eachDB(t *testing.T, f func(t *testing.T, db *DB)) {
	t.Helper()
	for _, c := range []struct {
		name string
		open func(testing.TB) *DB
	}{{"postgres", mustPostgres}, {"sqlite", mustSQLite}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f(t, c.open(t))
		})
	}
}
