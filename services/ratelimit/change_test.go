package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

func TestLimitsChangeBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, config.DefaultLimits())
		fail := func(user string, n int) {
			t.Helper()
			for i := range n {
				if err := l.ChangeAttempt(ctx, user); err != nil {
					t.Fatalf("attempt %d of %s: refused: %v", i+1, user, err)
				}
			}
		}
		fail("u1", 10)
		if err := l.ChangeAttempt(ctx, "u2"); err != nil {
			t.Fatalf("another account: %v", err)
		}
		// Each failure after the tenth doubles the wait, up to the cap, and
		// a refused attempt counts nothing.
		for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
			16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour} {
			if got := mustRateLimited(t, l.ChangeAttempt(ctx, "u1")); got != want {
				t.Fatalf("Retry-After %v, want %v", got, want)
			}
			clock.Advance(want - time.Second)
			mustRateLimited(t, l.ChangeAttempt(ctx, "u1"))
			clock.Advance(time.Second)
			fail("u1", 1)
		}
		// A success clears the count.
		if err := l.ChangeSucceeded(ctx, "u1"); err != nil {
			t.Fatal(err)
		}
		fail("u1", 10)
		mustRateLimited(t, l.ChangeAttempt(ctx, "u1"))

		// An attempt that was never checked is given back.
		fail("u3", 9)
		if err := l.ChangeUnchecked(ctx, "u3"); err != nil {
			t.Fatal(err)
		}
		fail("u3", 1)
		if err := l.ChangeAttempt(ctx, "u3"); err != nil {
			t.Fatalf("a given-back attempt still counts: %v", err)
		}
		// Failures are consecutive: waiting does not forget them, until a
		// whole quiet day has passed.
		fail("u4", 9)
		clock.Advance(23 * time.Hour)
		fail("u4", 1)
		mustRateLimited(t, l.ChangeAttempt(ctx, "u4"))
		clock.Advance(24 * time.Hour)
		fail("u4", 10)
	})
}

func TestLimitsBackoffIsBounded(t *testing.T) {
	l := &Limits{cfg: config.DefaultLimits()} // backoff needs no database
	for _, row := range []struct {
		failures int64
		want     time.Duration
	}{
		{10, time.Minute}, {11, 2 * time.Minute}, {12, 4 * time.Minute}, {13, 8 * time.Minute},
		{16, time.Hour}, {20, time.Hour}, {1 << 62, time.Hour},
	} {
		if got := l.backoff(row.failures); got != row.want {
			t.Errorf("%d failures: got %v, want %v", row.failures, got, row.want)
		}
	}
}

// An attacker who retries the moment each back-off ends gets few guesses: at
// most 17 in any hour and 30 in any day, never waiting longer than the cap.
func TestLimitsChangeAttackerRate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, config.DefaultLimits())
		var failures []time.Time
		for clock.Now().Before(limitsEpoch.Add(24 * time.Hour)) {
			if err := l.ChangeAttempt(ctx, "victim"); err != nil {
				retry := mustRateLimited(t, err)
				if retry > time.Hour {
					t.Fatalf("waited %v, beyond the 1h cap", retry)
				}
				clock.Advance(retry)
				continue
			}
			failures = append(failures, clock.Now())
		}
		most := func(window time.Duration) int {
			m := 0
			for i, f := range failures {
				n := 0
				for _, g := range failures[i:] {
					if g.Sub(f) < window {
						n++
					}
				}
				m = max(m, n)
			}
			return m
		}
		if h, d := most(time.Hour), most(24*time.Hour); h > 17 || d > 40 {
			t.Fatalf("%d guesses in one hour and %d in one day, want at most 17 and 40", h, d)
		}
	})
}
