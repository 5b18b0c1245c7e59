package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Bounds on the time the database may take. A request's statements take
// milliseconds; a database that takes seconds is not answering, and the
// client is better served by 503 + Retry-After within a few seconds than by
// a wait until the request timeout. Nothing below the context does this: a
// new PostgreSQL connection has no connect timeout unless the URL sets
// connect_timeout (Open sets a default), and TCP keepalive notices a dead
// peer only after minutes, never one whose network keeps accepting bytes. So
// every statement of the named queries gets at most statementTimeout, every
// transaction txTimeout (from BEGIN to COMMIT), and SQLite waits at most
// busyTimeout for the write lock another connection holds. SQLite's wait
// for the lock does not heed the context, and a statement may first have
// waited for a pooled connection, so busyTimeout is shorter than a
// statement's bound: at most about five seconds in all. Within one process
// writers queue for a pooled connection, not for the lock, so the lock is
// held longer than that only by another process (a backup, a shell): that
// is 503 + Retry-After, the lock will go.
const (
	statementTimeout = 3 * time.Second
	txTimeout        = 5 * time.Second
	busyTimeout      = 2 * time.Second
	connectTimeout   = statementTimeout
)

// callerBoundKey marks a context whose statements are bounded by the
// context alone.
type callerBoundKey struct{}

// BoundByCaller marks ctx so that its statements and transactions are
// bounded by ctx alone, not by the few seconds each gets otherwise. The
// bounds are for requests, whose client is waiting; this is for work with a
// bound of its own whose waits are no outage: a queue job (its timeout; a
// hundred mail workers queue for the pool's connections under load, the
// hourly housekeeping may delete many rows at once) and an operator's
// command (a bulk import in one transaction; the operator can interrupt it).
func BoundByCaller(ctx context.Context) context.Context {
	return context.WithValue(ctx, callerBoundKey{}, true)
}

// boundContext returns ctx with at most d left, unless it is bound by its
// caller or already ends sooner.
func boundContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Value(callerBoundKey{}) != nil {
		return ctx, func() {}
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// cancelSetting is where boundStatement leaves the cancel function of the
// context it set.
const cancelSetting = "accountpw:cancel_statement"

// registerCallbacks bounds every GORM statement by statementTimeout (and on
// SQLite refuses it if the file is gone, see checkFile), has
// every failed one checked for a schema that is not ready (markUndefined)
// and logs it (logStatement).
// The bound is set before GORM's own callbacks (so that an implicit
// transaction of a create, update or delete runs in it too) and released
// after all of them (after its commit). A row query's rows are read after
// its callbacks, so its bound is left to expire on its own: it ends with
// the caller's context or after statementTimeout at the latest.
func (d *DB) registerCallbacks(g *gorm.DB) error {
	cb := g.Callback()
	steps := []struct {
		name    string
		before  func(string, func(*gorm.DB)) error
		after   func(string, func(*gorm.DB)) error
		release bool
	}{
		{"create", cb.Create().Before("*").Register, cb.Create().After("*").Register, true},
		{"query", cb.Query().Before("*").Register, cb.Query().After("*").Register, true},
		{"update", cb.Update().Before("*").Register, cb.Update().After("*").Register, true},
		{"delete", cb.Delete().Before("*").Register, cb.Delete().After("*").Register, true},
		{"raw", cb.Raw().Before("*").Register, cb.Raw().After("*").Register, true},
		{"row", cb.Row().Before("*").Register, cb.Row().After("*").Register, false},
	}
	for _, s := range steps {
		release := s.release
		if err := s.before("accountpw:bound_"+s.name, d.beforeStatement); err != nil {
			return err
		}
		err := s.after("accountpw:finish_"+s.name, func(g *gorm.DB) {
			if v, ok := g.Statement.Settings.LoadAndDelete(startSetting); ok && g.Statement.SQL.Len() > 0 {
				g.Error = d.finish(g.Statement.Context, g.Statement.SQL.String(), v.(time.Time), g.RowsAffected, g.Error)
			} else {
				// No statement ran: GORM's own BEGIN failed, which on a
				// read-only SQLite file is where a write fails first.
				d.noteWriteFault(g.Error)
			}
			if release {
				releaseStatement(g)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// beforeStatement bounds the statement and notes its start; on SQLite it
// first checks that the file is still the one opened (checkFile).
func (d *DB) beforeStatement(g *gorm.DB) {
	g.Statement.Settings.Store(startSetting, time.Now())
	ctx, cancel := boundContext(g.Statement.Context, statementTimeout)
	g.Statement.Context = ctx
	g.Statement.Settings.Store(cancelSetting, cancel)
	if err := d.checkFile(); err != nil {
		_ = g.AddError(err) // GORM's own callbacks then run nothing
	}
}

func releaseStatement(g *gorm.DB) {
	if cancel, ok := g.Statement.Settings.LoadAndDelete(cancelSetting); ok {
		cancel.(context.CancelFunc)()
	}
}

// queryRows runs a query on q.conn (the pool or the transaction) with what
// the GORM statements get from the callbacks: the file check, the bound, the
// schema check of a missing table and the log line; each calls scan for
// every row. The error is the driver's (marked by finish), for the caller
// to classify with its operation.
func (q Queries) queryRows(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	if err := q.store.checkFile(); err != nil {
		return err
	}
	ctx, cancel := boundContext(ctx, statementTimeout)
	defer cancel()
	start := time.Now()
	var n int64
	rows, err := q.conn.QueryContext(ctx, query, args...)
	if err == nil {
		for err == nil && rows.Next() {
			err = scan(rows)
			n++
		}
		err = errors.Join(err, rows.Err(), rows.Close())
	}
	return q.store.finish(ctx, query, start, n, err)
}

// exec is queryRows for a statement that returns no rows.
func (q Queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.store.checkFile(); err != nil {
		return nil, err
	}
	ctx, cancel := boundContext(ctx, statementTimeout)
	defer cancel()
	start := time.Now()
	res, err := q.conn.ExecContext(ctx, query, args...)
	var n int64
	if err == nil {
		n, _ = res.RowsAffected()
	}
	return res, q.store.finish(ctx, query, start, n, err)
}
