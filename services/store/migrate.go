package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the service's own migration files, one directory per
// dialect (postgres, sqlite).
func Migrations() fs.FS { return migrations }

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x61636370 // "accp"

// Migrate applies the service's versioned migrations and the mail queue's
// (River's) own, both embedded in the binary. It is idempotent. On
// PostgreSQL, replicas starting together take turns under an advisory lock.
func (d *DB) Migrate(ctx context.Context) error {
	if d.postgres {
		// Hold a session advisory lock on a connection of its own meanwhile.
		conn, err := d.sql.Conn(ctx)
		if err != nil {
			return classify("migrate", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return classify("migrate: lock", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock) //nolint:errcheck // the lock ends with the session anyway
	}
	return migrateAll(ctx, d.sql, d.postgres)
}

// migrateAll runs goose, then River's migrator, on db.
func migrateAll(ctx context.Context, db *sql.DB, postgres bool) error {
	dialect, dir := goose.DialectPostgres, "migrations/postgres"
	if !postgres {
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(dialect, db, sub)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return classify("migrate", err)
	}
	var driver riverdriver.Driver[*sql.Tx] = riversqlite.New(db)
	if postgres {
		driver = riverdatabasesql.New(db)
	}
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("migrate queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return classify("migrate queue", err)
	}
	return nil
}

// MigrateSQL applies every migration to an open PostgreSQL pool without the
// advisory lock: for test harnesses that build a template database once.
func MigrateSQL(ctx context.Context, db *sql.DB) error { return migrateAll(ctx, db, true) }
