package store_test

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

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
