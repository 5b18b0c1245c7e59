package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
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
)

// classify wraps a database error with its operation, once. GORM's not-found
// and duplicate-key errors become ErrNotFound and ErrDuplicate. When the
// database is unreachable or refusing work for now (connection lost or
// refused, server shutting down, SQLite busy past its timeout), the result
// also matches models.ErrUnavailable, so the client gets 503 + Retry-After
// instead of 500: the request was fine, the dependency was not.
func classify(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrDuplicate
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	if unavailable(err) {
		return errors.Join(models.ErrUnavailable, wrapped)
	}
	return wrapped
}

func unavailable(err error) bool {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &connErr), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P0x: shutdown, cannot connect now;
		// 53xxx: insufficient resources.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P0") ||
			strings.HasPrefix(pgErr.Code, "53")
	}
	// Neither database/sql nor the SQLite driver export these.
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "database is locked")
}
