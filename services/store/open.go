package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/accountpw/accountpw/services/config"
)

// Pool sizes. SQLite allows one writer at a time; a few connections let
// readers proceed while IMMEDIATE transactions queue on the busy timeout.
const (
	postgresConns = 25
	sqliteConns   = 4
)

// DB is an open database. Its Queries run on the pool; InTx runs them in a
// transaction.
type DB struct {
	Queries
	gorm     *gorm.DB
	sql      *sql.DB
	postgres bool
	// listen holds the connection the mail queue LISTENs on (PostgreSQL
	// only), apart from the pool so that it never starves it.
	listen *pgxpool.Pool
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
	d := &DB{Queries: Queries{db: g, conn: sqlDB, postgres: cfg.Postgres()}, gorm: g, sql: sqlDB, postgres: cfg.Postgres()}
	if !cfg.Postgres() {
		sqlDB.SetMaxOpenConns(sqliteConns)
		return d, nil
	}
	sqlDB.SetMaxOpenConns(postgresConns)
	sqlDB.SetMaxIdleConns(postgresConns)
	lcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	lcfg.MaxConns, lcfg.MinConns = 2, 0 // the listener and one for leadership notices
	if d.listen, err = pgxpool.NewWithConfig(context.Background(), lcfg); err != nil {
		sqlDB.Close()
		return nil, classify("open database", err)
	}
	return d, nil
}

// Close closes the connection pools.
func (d *DB) Close() error {
	if d.listen != nil {
		d.listen.Close()
	}
	return d.sql.Close()
}

// RiverDriver is the mail queue's driver on this database: database/sql for
// every statement, so jobs can be inserted in the transactions of InTx, and
// on PostgreSQL a dedicated pgx connection for LISTEN, so that workers hear
// about new jobs at once instead of polling for them.
func (d *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if d.postgres {
		return riverdatabasesql.NewWithPgxListener(d.sql, d.listen)
	}
	return riversqlite.New(d.sql)
}

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
