package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
)

// The wrong-old-password throttle of {"old","new"}. An attempt is counted as
// a failure before the old password is checked, in the same transaction that
// decides whether it may proceed: concurrent guesses cannot all pass the
// check before any of them is counted. A correct old password clears the
// count; an attempt that ended before the check (no hashing slot) is given
// back.

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
	err := l.db.InTx(ctx, func(tx *store.Tx) error {
		st, err := tx.LockChangeFailures(ctx, userID, now.Unix())
		if err != nil {
			return err
		}
		if st.LastFailureAt <= now.Add(-config.ChangeFailuresForgetAfter).Unix() {
			st.Failures = 0 // forgotten after a quiet period
		}
		if st.Failures >= int64(l.cfg.ChangeFailures) {
			if until := time.Unix(st.LastFailureAt, 0).Add(l.backoff(st.Failures)); now.Before(until) {
				limited = models.RateLimited(until.Sub(now))
				return nil
			}
		}
		return tx.SetChangeFailures(ctx, userID, store.ChangeFailures{Failures: st.Failures + 1, LastFailureAt: now.Unix()})
	})
	if err != nil {
		return fmt.Errorf("rate limit change: %w", err)
	}
	return limited
}

// backoff is the wait after the latest of n failures, n ≥ ChangeFailures:
// ChangeBackoff·2^(n−ChangeFailures), capped at ChangeBackoffMax. It always
// ends: the throttle never locks an account.
func (l *Limits) backoff(n int64) time.Duration {
	d := l.cfg.ChangeBackoff
	for i := int64(l.cfg.ChangeFailures); i < n && d < l.cfg.ChangeBackoffMax; i++ {
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
	if err := l.db.GiveBackChangeFailure(ctx, userID); err != nil {
		return fmt.Errorf("rate limit change: %w", err)
	}
	return nil
}

// ChangeSucceeded clears the counts of the subjects (the account's id for
// {"old","new"}, or the sign-in check's key): after a correct password, and
// after a reset by email. Errors: a wrapped database error.
func (l *Limits) ChangeSucceeded(ctx context.Context, subjects ...string) error {
	if l.off() || len(subjects) == 0 {
		return nil
	}
	if err := l.db.ClearChangeFailures(ctx, subjects...); err != nil {
		return fmt.Errorf("rate limit change: %w", err)
	}
	return nil
}
