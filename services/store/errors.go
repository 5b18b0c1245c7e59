package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/accountpw/accountpw/models"
)

// Outcomes a caller decides about.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrDuplicate: a unique key (an address, a token hash) is taken.
	ErrDuplicate = errors.New("store: duplicate key")
	// ErrConflict: a guarded write found nothing in the state it expected
	// (a token already used, a password changed since it was read).
	ErrConflict = errors.New("store: changed concurrently")
	// ErrSchemaNotReady: the database lacks tables or migrations this binary
	// needs (a database recreated empty, a migration not yet applied). It
	// always comes with models.ErrUnavailable: the service is not ready.
	ErrSchemaNotReady = errors.New("store: the database schema is missing or older than this binary's migrations")
)

// class is what a database error means for the request that met it.
type class int

const (
	// fault is a server fault (500): a constraint the code should have
	// prevented, a statement that does not fit the schema, corruption.
	fault class = iota
	// unavailable means the database cannot be used right now but the
	// request was fine (503 + Retry-After): the connection is refused,
	// reset, timed out or terminated, the database is missing, shutting
	// down, out of connections or space, locked past the busy timeout, or
	// the transaction lost a serialization race or a deadlock.
	unavailable
	// canceled means the caller went away (a client disconnected); nobody
	// hears the answer, so it is unavailable too, and only worth a debug
	// line.
	canceled
	// undefined is a table or column that does not exist: unavailable
	// while the schema is behind the binary's migrations, a fault once it is
	// not (see markUndefined).
	undefined
)

// dbError is a classified database error: the operation that failed and
// the cause. It matches models.ErrUnavailable (errors.Is and errors.As)
// when the database cannot be used right now. Its text names the operation
// and the driver's message, never a bound value.
type dbError struct {
	op    string
	class class
	cause error
}

func (e *dbError) Error() string { return e.op + ": " + describe(e.cause) }

func (e *dbError) Unwrap() []error {
	if e.class == unavailable || e.class == canceled {
		return []error{models.ErrUnavailable, e.cause}
	}
	return []error{e.cause}
}

// classify wraps a database error with its operation, once: this is the one
// place that turns store errors into kinds. GORM's not-found and
// duplicate-key errors become ErrNotFound and ErrDuplicate. When the
// database is unreachable or refusing work for now, the result also matches
// models.ErrUnavailable, so the client gets 503 + Retry-After instead of
// 500: the request was fine, the dependency was not. An error classified
// before comes back as it is.
func classify(op string, err error) error {
	var done *dbError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrDuplicate
	case errors.As(err, &done), errors.Is(err, ErrNotFound), errors.Is(err, ErrDuplicate), errors.Is(err, ErrConflict):
		return err
	}
	c := classOf(err)
	if c == undefined {
		// Had the schema been behind, markUndefined would have added
		// ErrSchemaNotReady: the statement itself is wrong.
		c = fault
	}
	return &dbError{op: op, class: c, cause: err}
}

// classOf sorts a driver error into its class.
func classOf(err error) class {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		netErr  net.Error
		pathErr *fs.PathError
		coded   interface{ Code() int } // the SQLite driver's *sqlite.Error
	)
	switch {
	case err == nil:
		return fault // no error: callers test for it first
	case errors.Is(err, context.Canceled):
		return canceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrSchemaNotReady), pgconn.Timeout(err),
		// Any failure to connect, whatever the server said (a missing
		// database 3D000, too many connections 53300, shutting down 57P03):
		// nothing works until the database takes connections again.
		errors.As(err, &connErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.Is(err, pgconn.ErrConnClosed),
		// A transaction is only "done" under us when its context ended.
		errors.Is(err, sql.ErrTxDone),
		// A connection that died mid-answer (the server was terminated).
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// The SQLite file is gone, replaced or cannot be read.
		errors.Is(err, errFileMoved), errors.As(err, &pathErr):
		return unavailable
	case errors.As(err, &pgErr):
		return postgresClass(pgErr.Code)
	case errors.As(err, &coded):
		return sqliteClass(coded.Code(), err.Error())
	}
	// database/sql does not export this one.
	if strings.Contains(err.Error(), "sql: database is closed") {
		return unavailable
	}
	return fault
}

// postgresClass sorts a SQLSTATE.
func postgresClass(code string) class {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),                     // insufficient resources: too many connections, disk full, out of memory
		strings.HasPrefix(code, "57P"),                    // admin, crash or immediate shutdown, cannot connect now, database dropped
		code == "57014",                                   // query canceled: a timeout or a cancel request
		code == "40001", code == "40P01", code == "40003", // serialization failure, deadlock, completion unknown
		code == "3D000", // the database does not exist
		code == "55P03", // lock not available
		code == "25P03", // idle-in-transaction timeout
		code == "58030": // I/O error
		return unavailable
	case code == "42P01", code == "42703", code == "42704", code == "3F000":
		return undefined // table, column, object or schema
	}
	return fault
}

// sqliteClass sorts a SQLite result code (primary or extended) and message.
func sqliteClass(code int, msg string) class {
	const (
		sqliteError     = 1
		sqlitePerm      = 3
		sqliteBusy      = 5
		sqliteLocked    = 6
		sqliteReadOnly  = 8 // also a file unlinked or moved while open
		sqliteInterrupt = 9 // a context ended
		sqliteIOErr     = 10
		sqliteFull      = 13
		sqliteCantOpen  = 14
		sqliteProtocol  = 15
	)
	switch code & 0xff {
	case sqlitePerm, sqliteBusy, sqliteLocked, sqliteReadOnly, sqliteInterrupt, sqliteIOErr, sqliteFull,
		sqliteCantOpen, sqliteProtocol:
		return unavailable
	case sqliteError:
		if strings.Contains(msg, "no such table") || strings.Contains(msg, "no such column") ||
			strings.Contains(msg, "has no column named") {
			return undefined
		}
	}
	return fault
}

// describe is the driver's message without anything that may quote a bound
// value: PostgreSQL's data exceptions (class 22) cite the offending input,
// so only their SQLSTATE is kept.
func describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		return fmt.Sprintf("%s: data exception (SQLSTATE %s)", pgErr.Severity, pgErr.Code)
	}
	return err.Error()
}
