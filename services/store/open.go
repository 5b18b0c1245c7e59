package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/accountpw/accountpw/services/config"
)

// Pool sizes. SQLite allows one writer at a time; a few connections let
// readers proceed while IMMEDIATE transactions queue on the busy timeout.
const (
	postgresConns = 20
	sqliteConns   = 4
)

// DB is an open database. Its Queries run on the pool; InTx runs them in a
// transaction.
type DB struct {
	Queries
	gorm     *gorm.DB
	sql      *sql.DB
	postgres bool
}

// Open opens PostgreSQL when cfg.URL is set, and otherwise the embedded
// SQLite file at cfg.Path (created with its directory if missing; a
// directory this process cannot write to is refused with an error that says
// which and how to fix it). SQLite
// runs in WAL mode with a busy timeout and IMMEDIATE transactions: without
// _txlock=immediate, concurrent writers that upgrade a read lock fail with
// SQLITE_BUSY instead of waiting. cfg must have passed Validate.
func Open(cfg config.Database, log *slog.Logger) (*DB, error) {
	gcfg := &gorm.Config{
		TranslateError: true,
		// Parameterised queries keep token hashes and addresses out of SQL logs.
		Logger: logger.NewSlogLogger(log, logger.Config{
			ParameterizedQueries: true, IgnoreRecordNotFoundError: true, LogLevel: logger.Warn,
		}),
	}
	var (
		g   *gorm.DB
		err error
	)
	if cfg.Postgres() {
		g, err = gorm.Open(postgres.Open(cfg.URL), gcfg)
	} else {
		if err := prepareDataDir(filepath.Dir(cfg.Path)); err != nil {
			return nil, err
		}
		dsn := "file:" + cfg.Path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		g, err = gorm.Open(sqlite.Open(dsn), gcfg)
	}
	if err != nil {
		return nil, classify("open database", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if cfg.Postgres() {
		sqlDB.SetMaxOpenConns(postgresConns)
	} else {
		sqlDB.SetMaxOpenConns(sqliteConns)
	}
	return &DB{Queries: Queries{g}, gorm: g, sql: sqlDB, postgres: cfg.Postgres()}, nil
}

// Close closes the connection pool.
func (d *DB) Close() error { return d.sql.Close() }

// Postgres is false for the embedded SQLite default.
func (d *DB) Postgres() bool { return d.postgres }

// SQL is the underlying pool, for the mail queue's driver.
func (d *DB) SQL() *sql.DB { return d.sql }

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.sql.PingContext(ctx); err != nil {
		return classify("ping database", err)
	}
	return nil
}
