package services

import (
	"context"
	"time"

	"github.com/accountpw/accountpw/models"
)

// slots bounds how many memory- and CPU-heavy computations (argon2id,
// zxcvbn) run at once, so a burst of requests is answered with 503 +
// Retry-After instead of exhausting memory (R-HASH-6).
type slots chan struct{}

func newSlots(n int) slots { return make(slots, n) }

// acquire waits up to wait for a free slot and returns its release.
// Errors: models.ErrHashBusy when none frees up in time, ctx's error.
func (s slots) acquire(ctx context.Context, wait time.Duration) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-t.C:
		return nil, models.ErrHashBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
