package store

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"
)

// Queries are the named queries, on the pool (DB) or in a transaction (Tx).
// The hottest ones (the rate-limit counters) skip GORM and run on conn, the
// database/sql pool or transaction underneath.
type Queries struct {
	db       *gorm.DB
	conn     sqlConn
	postgres bool
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

// InTx runs fn in one transaction and commits if it returns nil. An error
// from fn is returned as it is (the queries classify their own); a failure
// to begin or commit is classified here.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	var fnErr error
	err := d.gorm.WithContext(ctx).Transaction(func(g *gorm.DB) error {
		sqlTx, ok := g.Statement.ConnPool.(*sql.Tx)
		if !ok {
			return errors.New("store: transaction without a database/sql Tx")
		}
		fnErr = fn(&Tx{Queries: Queries{db: g, conn: sqlTx, postgres: d.postgres}, sql: sqlTx})
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return classify("transaction", err)
}
