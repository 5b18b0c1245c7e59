package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/accountpw/accountpw/models"
)

// sqliteErr is an error of the SQLite driver: a message and a result code.
type sqliteErr struct {
	msg  string
	code int
}

func (e sqliteErr) Error() string { return e.msg }
func (e sqliteErr) Code() int     { return e.code }

// TestClassify pins the class of every kind of database error: 503 for a
// database that cannot be used now, 500 for a fault, however the error is
// wrapped on its way (by River, by errors.Join).
func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"connection refused", refused, true},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"connection lost mid-answer", fmt.Errorf("failed to receive message: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"pool closed", errors.New("sql: database is closed"), true},
		{"connection done", sql.ErrConnDone, true},
		{"transaction ended by its deadline", sql.ErrTxDone, true},
		{"deadline", context.DeadlineExceeded, true},
		{"caller went away", context.Canceled, true},
		{"connection exception 08006", pg("08006"), true},
		{"admin shutdown 57P01", pg("57P01"), true},
		{"crash shutdown 57P02", pg("57P02"), true},
		{"cannot connect now 57P03", pg("57P03"), true},
		{"statement timeout 57014", pg("57014"), true},
		{"no such database 3D000", pg("3D000"), true},
		{"too many connections 53300", pg("53300"), true},
		{"disk full 53100", pg("53100"), true},
		{"serialization failure 40001", pg("40001"), true},
		{"deadlock 40P01", pg("40P01"), true},
		{"lock not available 55P03", pg("55P03"), true},
		{"check constraint 23514", pg("23514"), false},
		{"not null 23502", pg("23502"), false},
		{"bad byte sequence 22021", pg("22021"), false},
		{"syntax error 42601", pg("42601"), false},
		{"undefined table with the schema current 42P01", pg("42P01"), false},
		{"undefined table with the schema behind", fmt.Errorf("%w: %w", ErrSchemaNotReady, pg("42P01")), true},
		{"raised exception P0001", pg("P0001"), false},
		{"a failed connect that names a server error", &pgconn.ConnectError{}, true},
		{"wrapped by River", fmt.Errorf("river: insert many: %w", pg("57P01")), true},
		{"joined", errors.Join(errors.New("other"), pg("40P01")), true},
		{"SQLite busy", sqliteErr{"database is locked (5) (SQLITE_BUSY)", 5}, true},
		{"SQLite locked table", sqliteErr{"database table is locked (6)", 6}, true},
		{"SQLite file moved", sqliteErr{"attempt to write a readonly database (1032)", 1032}, true},
		{"SQLite interrupted by a context", sqliteErr{"interrupted (9)", 9}, true},
		{"SQLite I/O error", sqliteErr{"disk I/O error (5130)", 5130}, true},
		{"SQLite disk full", sqliteErr{"database or disk is full (13)", 13}, true},
		{"SQLite cannot open", sqliteErr{"unable to open database file (14)", 14}, true},
		{"SQLite constraint", sqliteErr{"UNIQUE constraint failed: users.email_key (2067)", 2067}, false},
		{"SQLite corrupt", sqliteErr{"database disk image is malformed (11)", 11}, false},
		{"SQLite no such table with the schema current", sqliteErr{"SQL logic error: no such table: users (1)", 1}, false},
		{"SQLite file removed", errFileMoved, true},
		{"plain error", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("op", tt.err)
			if got := errors.Is(err, models.ErrUnavailable); got != tt.unavailable {
				t.Errorf("got unavailable %v, want %v (%v)", got, tt.unavailable, err)
			}
			if got := models.KindOf(err) == models.KindUnavailable; got != tt.unavailable {
				t.Errorf("errors.As finds kind %v", models.KindOf(err))
			}
			if again := classify("outer", err); again != err { //nolint:errorlint // the very value, classified once
				t.Errorf("classified twice: %v", again)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("the cause is lost: %v", err)
			}
		})
	}
	if classify("op", nil) != nil {
		t.Error("nil must stay nil")
	}
}

// A data exception quotes the offending input; its text is reduced to the
// SQLSTATE.
func TestClassifyDropsQuotedValues(t *testing.T) {
	err := classify("find user", &pgconn.PgError{Severity: "ERROR", Code: "22P02",
		Message: `invalid input syntax for type uuid: "canary-value"`})
	if got, want := err.Error(), "find user: ERROR: data exception (SQLSTATE 22P02)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
