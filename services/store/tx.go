package store

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// Queries are the named queries, on the pool (DB) or in a transaction (Tx).
// The hottest ones (the rate-limit counters) skip GORM and run on conn, the
// database/sql pool or transaction underneath, through queryRows and exec,
// which give them what GORM's callbacks give the others (see
// registerCallbacks); store is the database they belong to.
type Queries struct {
	db       *gorm.DB
	conn     sqlConn
	postgres bool
	store    *DB
}

// sqlConn is what *sql.DB and *sql.Tx have in common.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (q Queries) with(ctx context.Context) *gorm.DB { return q.db.WithContext(ctx) }

// Tx is an open transaction: the same Queries, committed together.
type Tx struct {
	Queries
	sql *sql.Tx
}

// SQL is the transaction's database/sql handle, so that the mail queue can
// insert its jobs in the same commit.
func (t *Tx) SQL() *sql.Tx { return t.sql }

// InTx runs fn in one transaction and commits if it returns nil; from BEGIN
// to COMMIT it may take at most a few seconds (txTimeout). An error from fn
// is returned as it is (the queries classify their own), unless it is a
// database error nobody classified (a library's, inserting into the same
// transaction), which is classified here like a failure to begin or commit.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if err := d.checkFile(); err != nil {
		return classify("transaction", err)
	}
	tctx, cancel := boundContext(ctx, txTimeout)
	defer cancel()
	var fnErr error
	err := d.gorm.WithContext(tctx).Transaction(func(g *gorm.DB) error {
		sqlTx, ok := g.Statement.ConnPool.(*sql.Tx)
		if !ok {
			return errors.New("store: transaction without a database/sql Tx")
		}
		fnErr = fn(&Tx{Queries: Queries{db: g, conn: sqlTx, postgres: d.postgres, store: d}, sql: sqlTx})
		return fnErr
	})
	if fnErr != nil {
		if unclassified(fnErr) {
			return d.Classify(ctx, "transaction", fnErr)
		}
		return fnErr
	}
	d.noteWriteFault(err) // BEGIN or COMMIT: a commit is where a WAL write fails
	return classify("transaction", err)
}

// unclassified reports whether err is a database error that did not pass
// through classify: not one of ours, and not an outcome of the caller's.
func unclassified(err error) bool {
	var done *dbError
	return !errors.As(err, &done) && classOf(err) != fault
}
