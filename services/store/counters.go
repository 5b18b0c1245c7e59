package store

import (
	"context"

	"gorm.io/gorm/clause"
)

// CountHit adds one to the rate-limit counter of bucket in the window that
// starts at start (Unix seconds; it ends at end) and returns the new count,
// in one atomic upsert. Errors: a classified database error.
func (q Queries) CountHit(ctx context.Context, bucket string, start, end int64) (int64, error) {
	var hits int64
	err := q.with(ctx).Raw(`INSERT INTO rate_limit_counters (bucket, window_start, window_end, hits)
		VALUES (?, ?, ?, 1)
		ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
		RETURNING hits`, bucket, start, end).Scan(&hits).Error
	return hits, classify("count rate limit", err)
}

// GiveBackHit takes one back from a counter, never below zero. Errors: a
// classified database error.
func (q Queries) GiveBackHit(ctx context.Context, bucket string, start int64) error {
	return classify("give back rate limit", q.with(ctx).Exec(`UPDATE rate_limit_counters SET hits = hits - 1
		WHERE bucket = ? AND window_start = ? AND hits > 0`, bucket, start).Error)
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

// ClearChangeFailures forgets the account's run. Errors: a classified
// database error.
func (q Queries) ClearChangeFailures(ctx context.Context, userID string) error {
	return classify("clear change failures", q.with(ctx).Exec(`DELETE FROM change_failures WHERE user_id = ?`, userID).Error)
}

// DeleteChangeFailuresBefore deletes runs whose last failure is older than t
// (Unix seconds) and returns how many went. Errors: a classified database
// error.
func (q Queries) DeleteChangeFailuresBefore(ctx context.Context, t int64) (int64, error) {
	res := q.with(ctx).Exec(`DELETE FROM change_failures WHERE last_failure_at < ?`, t)
	return res.RowsAffected, classify("delete change failures", res.Error)
}
