package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// writeFaults remembers that a SQLite write failed in a way that no retry
// of the same request cures: the file became read-only (a read-only mount,
// an immutable file, permissions a reopened connection meets), the disk
// returned an I/O error or filled up. Every write then answers 503, but
// reads still work, so a ping alone would call the instance ready, and a
// load balancer would keep sending it requests it can only refuse. Once
// such a failure was seen, Ping proves with a write of its own that writes
// work again before it reports ready; until then it costs nothing.
//
// A write lock held by another process (SQLITE_BUSY) is not such a fault:
// writes wait for it, and taking the instance out of service would not
// release it.
type writeFaults struct {
	mu    sync.Mutex
	fault error  // the last such failure since writes last worked; nil: none seen
	seen  uint64 // how many were seen, so a check forgets none newer than itself
}

// SQLite primary result codes of a database that cannot be written.
const (
	sqliteReadOnlyCode = 8  // SQLITE_READONLY and its extended codes
	sqliteIOErrCode    = 10 // SQLITE_IOERR_*: a write(2) or fsync(2) failed
	sqliteFullCode     = 13 // SQLITE_FULL: the disk is full
)

// noteWriteFault records err if it says the SQLite file cannot be written;
// anything else (nil included, and every PostgreSQL error) is ignored.
func (d *DB) noteWriteFault(err error) {
	var coded interface{ Code() int }
	if d == nil || d.postgres || err == nil || !errors.As(err, &coded) {
		return
	}
	switch coded.Code() & 0xff {
	case sqliteReadOnlyCode, sqliteIOErrCode, sqliteFullCode:
		d.writes.mu.Lock()
		d.writes.fault = err
		d.writes.seen++
		d.writes.mu.Unlock()
	}
}

// checkWrites returns nil unless a write fault was seen; then it writes the
// database header's user_version, which nothing else uses, with the value it
// has, in a write transaction that reaches the file like any commit. If
// that works the fault is forgotten. Errors: a classified database error
// (unavailable) with the fault that started the checks.
func (d *DB) checkWrites(ctx context.Context) error {
	d.writes.mu.Lock()
	fault, seen := d.writes.fault, d.writes.seen
	d.writes.mu.Unlock()
	if fault == nil {
		return nil
	}
	conn, err := d.sql.Conn(ctx)
	if err == nil {
		defer conn.Close()
		var v int64
		if err = conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err == nil {
			_, err = conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v))
		}
	}
	if err != nil {
		d.noteWriteFault(err)
		return classify("check writes", fmt.Errorf("%w (writes failed before: %w)", err, fault))
	}
	d.writes.mu.Lock()
	if d.writes.seen == seen { // none newer was seen meanwhile
		d.writes.fault = nil
	}
	d.writes.mu.Unlock()
	return nil
}
