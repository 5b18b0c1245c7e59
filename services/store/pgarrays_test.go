package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"

	"github.com/accountpw/accountpw/services/store/storetest"
)

// River's lib/pq array parameters reach PostgreSQL with the same values
// through the store's connections (which hand pgx the slices inside) as
// through plain pgx (which goes through their text form): JSON with quotes,
// backslashes, commas, braces and non-ASCII; NULL and empty byte strings;
// times with time zones; the extremes of smallint and integer.
func TestRiverArraysEncodeAsThroughText(t *testing.T) {
	db := storetest.Postgres(t)
	plain, err := sql.Open("pgx", storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	at := time.Date(2026, 11, 28, 6, 30, 0, 123456000, time.FixedZone("x", 5*3600+1800))
	args := []any{
		pq.Array([]string{`{"a":"q\"uote","b":"back\\slash","c":"{,}","d":"Grüße 東京"}`, `{}`, `[1,2]`}),
		pq.Array([]string{"", "plain", `with "quotes", commas`, `NULL`}),
		pq.Array([]int64{-9223372036854775808, 0, 9223372036854775807}),
		pq.Array([]int32{-2147483648, 0, 255}),
		pq.Array([]bool{true, false}),
		pq.Array([][]byte{nil, {}, {0, '\\', '"', 0xff}}),
		pq.Array([]time.Time{at, at.UTC(), time.Unix(0, 0)}),
		pq.Array([]int16{-32768, 0, 32767}),
	}
	const query = `SELECT $1::jsonb[]::text, $2::text[]::text, $3::bigint[]::text, $4::integer[]::text,
		$5::boolean[]::text, $6::bytea[]::text, $7::timestamptz[]::text, $8::smallint[]::text`
	read := func(conn *sql.DB) []string {
		t.Helper()
		out := make([]string, len(args))
		dest := make([]any, len(out))
		for i := range out {
			dest[i] = &out[i]
		}
		if err := conn.QueryRowContext(context.Background(), query, args...).Scan(dest...); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want, got := read(plain), read(db.SQL())
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("parameter %d: store %s, plain pgx %s", i+1, got[i], want[i])
		}
	}
}

// A GenericArray holding something other than what its column was planned
// with on this connection still arrives as itself (through its text form).
func TestRiverArraysFallBackForAnUnplannedShape(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	conn, err := db.SQL().Conn(ctx) // one connection: one plan cache
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const query = `SELECT $1::timestamptz[]::text`
	var planned, other string
	if err := conn.QueryRowContext(ctx, query, pq.Array([]time.Time{time.Unix(0, 0)})).Scan(&planned); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, query, pq.GenericArray{A: []string{"1970-01-01 00:00:00Z"}}).Scan(&other); err != nil {
		t.Fatal(err)
	}
	if planned != other {
		t.Fatalf("the same instant planned %s, unplanned %s", planned, other)
	}
}
