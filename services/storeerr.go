package services

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/accountpw/accountpw/models"
	"github.com/jackc/pgx/v5/pgconn"
)

// storeErr wraps a database error with its operation. When the database is
// unreachable or refusing work for now (connection lost or refused, server
// shutting down, SQLite busy past its timeout), the result also matches
// models.ErrUnavailable, so the client gets 503 + Retry-After instead of 500:
// the request was fine, the dependency was not.
func storeErr(op string, err error) error {
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
