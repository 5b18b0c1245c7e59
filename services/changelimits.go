package services

import (
	"context"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The wrong-old-password throttle of {"old","new"} (R-RATE-4). An attempt
// is counted as a failure before the old password is checked, in the same
// transaction that decides whether it may proceed: concurrent guesses cannot
// all pass the check before any of them is counted. A correct old password
// clears the count; an attempt that ended before the check (no hashing slot)
// is given back.

// changeState is an account's row in change_failures.
type changeState struct {
	Failures      int64
	LastFailureAt int64
}

// ChangeAttempt admits one {"old","new"} attempt for the account and counts
// it as a failure until ChangeSucceeded or ChangeUnchecked says otherwise.
// Inside the back-off it counts nothing and refuses, whatever old password
// the attempt brings. Errors: models.RateLimited, a wrapped database error.
func (l *Limits) ChangeAttempt(ctx context.Context, userID string) error {
	if l.off() {
		return nil
	}
	now := l.now()
	var limited error
	err := l.db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO change_failures (user_id, failures, first_failure_at, last_failure_at)
			VALUES (?, 0, ?, 0) ON CONFLICT (user_id) DO NOTHING`, userID, now.Unix()).Error; err != nil {
			return err
		}
		// The row lock serialises attempts on PostgreSQL; SQLite's IMMEDIATE
		// transactions serialise them anyway (GORM drops FOR UPDATE there).
		var st changeState
		if err := tx.Table("change_failures").Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).
			Select("failures", "last_failure_at").Where("user_id = ?", userID).Take(&st).Error; err != nil {
			return err
		}
		if st.LastFailureAt <= now.Add(-l.cfg.ChangeFailures.Per).Unix() {
			st.Failures = 0 // forgotten after a quiet period
		}
		if st.Failures >= int64(l.cfg.ChangeFailures.Max) {
			if until := time.Unix(st.LastFailureAt, 0).Add(l.backoff(st.Failures)); now.Before(until) {
				limited = models.RateLimited(until.Sub(now))
				return nil
			}
		}
		return tx.Exec(`UPDATE change_failures SET failures = ?, last_failure_at = ? WHERE user_id = ?`,
			st.Failures+1, now.Unix(), userID).Error
	})
	if err != nil {
		return fmt.Errorf("rate limit change: %w", err)
	}
	return limited
}

// backoff is the wait after the latest of n failures, n ≥ ChangeFailures.Max:
// ChangeBackoff·2^(n−Max), capped at ChangeBackoffMax. It always ends: the
// throttle never locks an account.
func (l *Limits) backoff(n int64) time.Duration {
	d := l.cfg.ChangeBackoff
	for i := int64(l.cfg.ChangeFailures.Max); i < n && d < l.cfg.ChangeBackoffMax; i++ {
		d *= 2
	}
	return min(d, l.cfg.ChangeBackoffMax)
}

// ChangeUnchecked gives back an attempt that ended before the old password
// was checked (no hashing slot, a database error). Errors: a wrapped
// database error.
func (l *Limits) ChangeUnchecked(ctx context.Context, userID string) error {
	if l.off() {
		return nil
	}
	err := l.db.Gorm.WithContext(ctx).Exec(`UPDATE change_failures SET failures = failures - 1
		WHERE user_id = ? AND failures > 0`, userID).Error
	if err != nil {
		return fmt.Errorf("rate limit change: %w", err)
	}
	return nil
}

// ChangeSucceeded clears the account's count: after a correct old password,
// and after a reset by email. Errors: a wrapped database error.
func (l *Limits) ChangeSucceeded(ctx context.Context, userID string) error {
	if l.off() {
		return nil
	}
	if err := l.db.Gorm.WithContext(ctx).Exec(`DELETE FROM change_failures WHERE user_id = ?`, userID).Error; err != nil {
		return fmt.Errorf("rate limit change: %w", err)
	}
	return nil
}
