package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

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
	log    *slog.Logger
	// schema is what SchemaReady compares the database with; migrator reads
	// the mail queue's applied migrations.
	schema   schemaState
	migrator *rivermigrate.Migrator[*sql.Tx]
	// file is the SQLite file as opened, so that Ping notices when the path
	// no longer leads to it (removed, replaced).
	file os.FileInfo
	path string
	// writes remembers a SQLite write that failed because the file cannot
	// be written, for Ping.
	writes writeFaults
}

// Open opens PostgreSQL when cfg.URL is set, and otherwise the embedded
// SQLite file at cfg.Path (created with its directory if missing; a
// directory this process cannot write to is refused with an error that says
// which and how to fix it; the file and its -wal and -shm companions are
// readable by this user alone, 0600, whatever the umask). SQLite runs in
// WAL mode with a busy timeout and IMMEDIATE transactions: without
// _txlock=immediate, concurrent writers that upgrade a read lock fail with
// SQLITE_BUSY instead of waiting. PostgreSQL connections time out after a
// few seconds unless the URL sets connect_timeout. cfg must have passed
// Validate.
func Open(cfg config.Database, log *slog.Logger) (*DB, error) {
	gcfg := &gorm.Config{TranslateError: true, Logger: quietLogger{log}}
	d := &DB{postgres: cfg.Postgres(), log: log, path: cfg.Path}
	var (
		g   *gorm.DB
		err error
	)
	dbURL := cfg.URL
	if d.postgres {
		dbURL = withConnectTimeout(cfg.URL)
		pcfg, perr := pgx.ParseConfig(dbURL)
		if perr != nil {
			return nil, fmt.Errorf("open database: %w", perr)
		}
		conn := stdlib.OpenDB(*pcfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
			m := c.TypeMap()
			m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{nativeArrays}, m.TryWrapEncodePlanFuncs...)
			return nil
		}))
		if g, err = gorm.Open(postgres.New(postgres.Config{Conn: conn}), gcfg); err != nil {
			conn.Close()
		}
	} else {
		if err := prepareDataDir(filepath.Dir(cfg.Path)); err != nil {
			return nil, err
		}
		if d.file, err = privateFile(cfg.Path); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		dsn := "file:" + cfg.Path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(" +
			strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")" +
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
	d.Queries, d.gorm, d.sql = Queries{db: g, conn: sqlDB, postgres: d.postgres, store: d}, g, sqlDB
	if err := d.prepare(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	if !d.postgres {
		sqlDB.SetMaxOpenConns(sqliteConns)
		return d, nil
	}
	sqlDB.SetMaxOpenConns(postgresConns)
	sqlDB.SetMaxIdleConns(postgresConns)
	lcfg, err := pgxpool.ParseConfig(dbURL)
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

// prepare registers the callbacks and reads what the binary's migrations
// build, for SchemaReady.
func (d *DB) prepare() error {
	if err := d.registerCallbacks(d.gorm); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	var err error
	if d.migrator, err = rivermigrate.New(d.migrationDriver(), &rivermigrate.Config{Logger: d.log}); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	all := d.migrator.AllVersions()
	d.schema.river = all[len(all)-1].Version
	d.schema.goose, err = latestMigration(d.sql, d.postgres)
	return err
}

// withConnectTimeout adds connect_timeout to a PostgreSQL URL that has none:
// without it pgx waits for a new connection as long as the context lets it.
func withConnectTimeout(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // Validate accepted it; pgx reports what is wrong
	}
	q := u.Query()
	if q.Get("connect_timeout") != "" {
		return raw
	}
	q.Set("connect_timeout", strconv.Itoa(int(connectTimeout/time.Second)))
	u.RawQuery = q.Encode()
	return u.String()
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

// Ping reports whether the database answers, within a few seconds; for
// SQLite also whether the configured path still leads to the file that was
// opened (a removed or replaced file leaves open connections working on a
// file nobody will find again), and, once a write failed because the file
// cannot be written (read-only, an I/O error, a full disk), whether a write
// works again (see writeFaults). Errors: a classified database error.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := boundContext(ctx, statementTimeout)
	defer cancel()
	if err := d.sql.PingContext(ctx); err != nil {
		return classify("ping database", err)
	}
	if err := d.checkFile(); err != nil {
		return classify("ping database", err)
	}
	return d.checkWrites(ctx)
}
