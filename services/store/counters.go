package store

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"

	"gorm.io/gorm/clause"
)

// Hit is a number of events to count in one rate-limit window: the counter
// of Bucket in the window that starts at Start (Unix seconds) and ends at End.
type Hit struct {
	Bucket     string
	Start, End int64
	N          int64
}

// Window names a counter: its bucket and the start of its window.
type Window struct {
	Bucket string
	Start  int64
}

// CountHits adds every hit to its counter in one statement (a multi-row
// upsert; hits of the same window are summed first) and returns each
// counter's new total. The rows are written in a fixed order, so concurrent
// callers that share counters lock them in the same order and never
// deadlock; in a transaction they stay locked until it ends. On PostgreSQL
// the statement text is the same for any number of hits (arrays, unnested),
// so it is planned once per connection. Errors: a classified database error.
func (q Queries) CountHits(ctx context.Context, hits []Hit) (map[Window]int64, error) {
	merged := mergeHits(hits)
	if len(merged) == 0 {
		return map[Window]int64{}, nil
	}
	const upsert = ` ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + excluded.hits
		RETURNING bucket, window_start, hits`
	var (
		query string
		args  []any
	)
	if q.postgres {
		buckets, starts, ends, ns := columns(merged)
		query = `INSERT INTO rate_limit_counters (bucket, window_start, window_end, hits)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])` + upsert
		args = []any{buckets, starts, ends, ns}
	} else {
		args = make([]any, 0, 4*len(merged))
		for _, h := range merged {
			args = append(args, h.Bucket, h.Start, h.End, h.N)
		}
		query = "INSERT INTO rate_limit_counters (bucket, window_start, window_end, hits) VALUES " +
			valueRows(len(merged), 4) + upsert
	}
	totals := make(map[Window]int64, len(merged))
	err := q.queryRows(ctx, query, args, func(rows *sql.Rows) error {
		var w Window
		var n int64
		if err := rows.Scan(&w.Bucket, &w.Start, &n); err != nil {
			return err
		}
		totals[w] = n
		return nil
	})
	if err != nil {
		return nil, classify("count rate limits", err)
	}
	return totals, nil
}

// UncountHits takes hits back from their counters (never below zero), in
// one statement. Errors: a classified database error.
func (q Queries) UncountHits(ctx context.Context, hits []Hit) error {
	merged := mergeHits(hits)
	if len(merged) == 0 {
		return nil
	}
	const update = ` UPDATE rate_limit_counters SET hits = CASE WHEN hits > v.n THEN hits - v.n ELSE 0 END FROM v
		WHERE rate_limit_counters.bucket = v.bucket AND rate_limit_counters.window_start = v.window_start`
	var (
		query string
		args  []any
	)
	if q.postgres {
		buckets, starts, _, ns := columns(merged)
		query = `WITH v (bucket, window_start, n) AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]))` + update
		args = []any{buckets, starts, ns}
	} else {
		args = make([]any, 0, 3*len(merged))
		for _, h := range merged {
			args = append(args, h.Bucket, h.Start, h.N)
		}
		query = "WITH v (bucket, window_start, n) AS (VALUES " + valueRows(len(merged), 3) + ")" + update
	}
	_, err := q.exec(ctx, query, args...)
	return classify("give back rate limits", err)
}

// columns splits hits into one array per column, for unnest.
func columns(hits []Hit) (buckets []string, starts, ends, ns []int64) {
	buckets, starts, ends, ns = make([]string, len(hits)), make([]int64, len(hits)), make([]int64, len(hits)), make([]int64, len(hits))
	for i, h := range hits {
		buckets[i], starts[i], ends[i], ns[i] = h.Bucket, h.Start, h.End, h.N
	}
	return buckets, starts, ends, ns
}

// mergeHits sums the hits of each window and orders them by window.
func mergeHits(hits []Hit) []Hit {
	byWindow := make(map[Window]*Hit, len(hits))
	out := make([]Hit, 0, len(hits))
	for _, h := range hits {
		w := Window{h.Bucket, h.Start}
		if m, ok := byWindow[w]; ok {
			m.N += h.N
			continue
		}
		out = append(out, h)
		byWindow[w] = &out[len(out)-1]
	}
	// byWindow points into out: sort only after merging.
	slices.SortFunc(out, func(a, b Hit) int {
		return cmp.Or(strings.Compare(a.Bucket, b.Bucket), cmp.Compare(a.Start, b.Start))
	})
	return out
}

// DeleteCountersEndedBefore deletes counters whose window ended before t
// (Unix seconds) and returns how many went. Errors: a classified database
// error.
func (q Queries) DeleteCountersEndedBefore(ctx context.Context, t int64) (int64, error) {
	res := q.with(ctx).Exec(`DELETE FROM rate_limit_counters WHERE window_end < ?`, t)
	return res.RowsAffected, classify("delete rate limit counters", res.Error)
}

// ChangeFailures is an account's run of wrong old passwords (Unix seconds).
type ChangeFailures struct {
	Failures      int64
	LastFailureAt int64
}

// LockChangeFailures returns the account's row of change_failures, creating
// an empty one first if there is none, and locks it until tx ends (on
// PostgreSQL; SQLite's IMMEDIATE transactions serialise anyway). Errors: a
// classified database error.
func (tx *Tx) LockChangeFailures(ctx context.Context, userID string, now int64) (ChangeFailures, error) {
	if err := tx.with(ctx).Exec(`INSERT INTO change_failures (user_id, failures, first_failure_at, last_failure_at)
		VALUES (?, 0, ?, 0) ON CONFLICT (user_id) DO NOTHING`, userID, now).Error; err != nil {
		return ChangeFailures{}, classify("lock change failures", err)
	}
	var st ChangeFailures
	err := tx.with(ctx).Table("change_failures").Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
		Select("failures", "last_failure_at").Where("user_id = ?", userID).Take(&st).Error
	return st, classify("lock change failures", err)
}

// SetChangeFailures stores the account's run. Errors: a classified database
// error.
func (tx *Tx) SetChangeFailures(ctx context.Context, userID string, st ChangeFailures) error {
	return classify("set change failures", tx.with(ctx).Exec(
		`UPDATE change_failures SET failures = ?, last_failure_at = ? WHERE user_id = ?`,
		st.Failures, st.LastFailureAt, userID).Error)
}

// GiveBackChangeFailure takes one failure back, never below zero. Errors: a
// classified database error.
func (q Queries) GiveBackChangeFailure(ctx context.Context, userID string) error {
	return classify("give back change failure", q.with(ctx).Exec(
		`UPDATE change_failures SET failures = failures - 1 WHERE user_id = ? AND failures > 0`, userID).Error)
}

// ClearChangeFailures forgets the runs of the subjects (an account's id,
// or another back-off's key for it), in one statement. Errors: a classified
// database error.
func (q Queries) ClearChangeFailures(ctx context.Context, subjects ...string) error {
	return classify("clear change failures", q.with(ctx).Exec(`DELETE FROM change_failures WHERE user_id IN ?`, subjects).Error)
}

// DeleteChangeFailuresBefore deletes runs whose last failure is older than t
// (Unix seconds) and returns how many went. Errors: a classified database
// error.
func (q Queries) DeleteChangeFailuresBefore(ctx context.Context, t int64) (int64, error) {
	res := q.with(ctx).Exec(`DELETE FROM change_failures WHERE last_failure_at < ?`, t)
	return res.RowsAffected, classify("delete change failures", res.Error)
}

// valueRows is the placeholders of a multi-row VALUES list: rows tuples of
// cols "?" each, "(?, ?), (?, ?)", for statements that name every parameter
// (on SQLite, which has no unnest, and in imports on both databases).
func valueRows(rows, cols int) string {
	tuple := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var sb strings.Builder
	sb.Grow(rows * (len(tuple) + 2))
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(tuple)
	}
	return sb.String()
}
