package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

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
	return migrateAll(ctx, d.sql, d.postgres, d.log)
}

// provider is goose over the embedded migrations of one dialect.
func provider(db *sql.DB, postgres bool, log *slog.Logger) (*goose.Provider, error) {
	dialect, dir := goose.DialectPostgres, "migrations/postgres"
	if !postgres {
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db, sub, goose.WithSlog(log))
}

// latestMigration is the version of the newest embedded migration; reading
// it touches no database.
func latestMigration(db *sql.DB, postgres bool) (int64, error) {
	p, err := provider(db, postgres, slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	sources := p.ListSources()
	return sources[len(sources)-1].Version, nil
}

// migrationDriver is River's driver for its migrator on this database.
func (d *DB) migrationDriver() riverdriver.Driver[*sql.Tx] {
	return migrationDriver(d.sql, d.postgres)
}

func migrationDriver(db *sql.DB, postgres bool) riverdriver.Driver[*sql.Tx] {
	if postgres {
		return riverdatabasesql.New(db)
	}
	return riversqlite.New(db)
}

// migrateAll runs goose, then River's migrator, on db; both log through log,
// as JSON like every other line.
func migrateAll(ctx context.Context, db *sql.DB, postgres bool, log *slog.Logger) error {
	p, err := provider(db, postgres, log)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return classify("migrate", err)
	}
	m, err := rivermigrate.New(migrationDriver(db, postgres), &rivermigrate.Config{Logger: log})
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
func MigrateSQL(ctx context.Context, db *sql.DB) error {
	return migrateAll(ctx, db, true, slog.New(slog.DiscardHandler))
}
