package services

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed migrations
var migrations embed.FS

// DefaultSQLitePath is the embedded default database, relative to the
// working directory.
const DefaultSQLitePath = "data/accountpw.db"

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x61636370 // "accp"

// DB is an open database: GORM for the service's own tables and the
// underlying *sql.DB, which goose and River share.
type DB struct {
	Gorm *gorm.DB
	SQL  *sql.DB
	// Postgres is false for the embedded SQLite default.
	Postgres bool
}

// OpenDB opens PostgreSQL when url starts with postgres:// or postgresql://,
// and otherwise the embedded SQLite file at path (created with its directory
// if missing). SQLite runs in WAL mode with a busy timeout and IMMEDIATE
// transactions: without _txlock=immediate, concurrent writers that upgrade a
// read lock fail with SQLITE_BUSY instead of waiting.
func OpenDB(url, path string, log *slog.Logger) (*DB, error) {
	cfg := &gorm.Config{
		TranslateError: true,
		// Parameterised queries keep token hashes and addresses out of SQL logs.
		Logger: logger.NewSlogLogger(log, logger.Config{
			ParameterizedQueries: true, IgnoreRecordNotFoundError: true, LogLevel: logger.Warn,
		}),
	}
	var (
		g   *gorm.DB
		err error
		pg  = strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
	)
	switch {
	case pg:
		g, err = gorm.Open(postgres.Open(url), cfg)
	case url != "":
		return nil, errors.New("open database: the database URL must start with postgres:// (leave it empty for the embedded SQLite file)")
	default:
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("open database: %w", err)
			}
		}
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		g, err = gorm.Open(sqlite.Open(dsn), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if !pg {
		// One writer at a time is all SQLite allows; a few connections let
		// readers proceed while IMMEDIATE transactions queue on the busy timeout.
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
	}
	return &DB{Gorm: g, SQL: sqlDB, Postgres: pg}, nil
}

// Close closes the connection pool.
func (d *DB) Close() error { return d.SQL.Close() }

// Migrate applies the service's versioned migrations and River's own, both
// embedded in the binary. It is idempotent.
func (d *DB) Migrate(ctx context.Context) error {
	if d.Postgres {
		// Replicas starting together must not migrate concurrently: hold a
		// session advisory lock on a connection of its own meanwhile.
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	}
	dialect, dir := goose.DialectPostgres, "migrations/postgres"
	if !d.Postgres {
		dialect, dir = goose.DialectSQLite3, "migrations/sqlite"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(dialect, d.SQL, sub)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return migrateRiver(ctx, d)
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.SQL.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
