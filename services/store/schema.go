package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/accountpw/accountpw/models"
)

// schemaReadyFor is how long a positive SchemaReady answer is reused: the
// check costs a few queries, and readiness probes come every few seconds.
// A negative answer is never reused, and a statement that meets a missing
// table asks again at once (markUndefined), so a database recreated empty is
// noticed by the first request that needs it.
const schemaReadyFor = 5 * time.Second

// schemaCheckTimeout bounds the check markUndefined makes after a failed
// statement, whose own context may have ended.
const schemaCheckTimeout = 2 * time.Second

// schemaState is what the binary's migrations expect and the last answer.
type schemaState struct {
	goose int64 // the newest embedded migration's version
	river int   // the newest migration of the mail queue

	mu      sync.Mutex
	readyAt time.Time // when a check last found the schema current; zero: not known
}

// errNotReady is what SchemaReady returns for a schema that is missing or
// behind: the service is not ready (503), whoever asks.
var errNotReady = errors.Join(models.ErrUnavailable, ErrSchemaNotReady)

// SchemaReady reports whether the database holds the schema this binary's
// migrations build: the service's own (goose's version table at the newest
// embedded version or later) and the mail queue's (River's). A newer schema
// counts as ready, so that replicas of the previous release keep serving
// while a new one migrates. A positive answer is cached for a few seconds.
// Errors: ErrSchemaNotReady (with models.ErrUnavailable), a classified
// database error.
func (d *DB) SchemaReady(ctx context.Context) error {
	d.schema.mu.Lock()
	fresh := !d.schema.readyAt.IsZero() && time.Since(d.schema.readyAt) < schemaReadyFor
	d.schema.mu.Unlock()
	if fresh {
		return nil
	}
	return d.checkSchema(ctx)
}

// checkSchema asks the database and records the answer.
func (d *DB) checkSchema(ctx context.Context) error {
	err := d.schemaCurrent(ctx)
	d.schema.mu.Lock()
	defer d.schema.mu.Unlock()
	if err != nil {
		d.schema.readyAt = time.Time{}
		return err
	}
	d.schema.readyAt = time.Now()
	return nil
}

func (d *DB) schemaCurrent(ctx context.Context) error {
	ctx, cancel := boundContext(ctx, statementTimeout)
	defer cancel()
	var version sql.NullInt64
	err := d.sql.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&version)
	switch {
	case err != nil && classOf(err) == undefined:
		return errNotReady // never migrated, or recreated empty
	case err != nil:
		return classify("check schema", err)
	case version.Int64 < d.schema.goose:
		return errNotReady
	}
	applied, err := d.migrator.ExistingVersions(ctx)
	if err != nil {
		return classify("check queue schema", err)
	}
	if len(applied) == 0 || applied[len(applied)-1].Version < d.schema.river {
		return errNotReady
	}
	return nil
}

// finish runs after every statement (see registerCallbacks and queryRows):
// it logs the statement and returns its error, marked by markUndefined.
func (d *DB) finish(ctx context.Context, statement string, start time.Time, rows int64, err error) error {
	if d == nil {
		return err // Queries built without their database: nothing to check or log with
	}
	err = d.markUndefined(ctx, err)
	d.noteWriteFault(err)
	d.logStatement(ctx, statement, time.Since(start), rows, err)
	return err
}

// markUndefined looks at a statement's error: a missing table or column is
// the service not being ready if the schema is behind the binary's
// migrations (the database was recreated empty, a migration is still to
// run), and then the error carries ErrSchemaNotReady, which classify turns
// into models.ErrUnavailable (503 + Retry-After). If the schema is current,
// the statement itself names something no migration creates, or someone
// dropped a table by hand: a fault (500) that needs a person. The check
// runs on the pool, apart from the statement's transaction, which
// PostgreSQL has already aborted, and bypasses the cache of SchemaReady.
func (d *DB) markUndefined(ctx context.Context, err error) error {
	if err == nil || classOf(err) != undefined {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), schemaCheckTimeout)
	defer cancel()
	if d.checkSchema(cctx) != nil {
		// Not current, or it cannot even be asked: either way not ready.
		return fmt.Errorf("%w: %w", ErrSchemaNotReady, err)
	}
	return err
}

// Classify turns an error that another library (the mail queue's River)
// met on this database into the store's classes, as the named queries'
// errors are: the same models.ErrUnavailable for a database that cannot be
// used right now, the same check of the schema for a missing table. op
// names the operation. Errors already classified come back as they are.
func (d *DB) Classify(ctx context.Context, op string, err error) error {
	var done *dbError
	if errors.As(err, &done) {
		return err
	}
	d.noteWriteFault(err)
	return classify(op, d.markUndefined(ctx, err))
}
