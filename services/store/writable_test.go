package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// A SQLite database whose writes fail because it cannot be written is not
// ready, although it still answers reads: after the first such write
// (here a connection made query-only, whose writes fail with
// SQLITE_READONLY like those to a read-only file) Ping fails, so /readyz
// answers 503 with every write; once writes work again, Ping is fine again.
func TestPingSeesWritesFail(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	db.SQL().SetMaxOpenConns(1) // the one connection below is the pool
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("a fresh database is not ready: %v", err)
	}
	if _, err := db.SQL().ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteExpiredTokens(ctx, time.Now()); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("a write to a read-only database: got %v, want unavailable", err)
	}
	if err := db.Ping(ctx); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("Ping: got %v, want unavailable while every write fails", err)
	}
	if err := db.Ping(ctx); err == nil {
		t.Fatal("the second Ping forgot that writes fail")
	}
	if _, err := db.SQL().ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping after writes work again: %v", err)
	}
	if _, err := db.DeleteExpiredTokens(ctx, time.Now()); err != nil {
		t.Fatalf("a write after recovery: %v", err)
	}
}
