// Package slots bounds how many memory- and CPU-heavy computations run at
// once in a process: argon2id hashes and password strength estimates share
// one Pool, so a burst of requests is answered with 503 + Retry-After instead
// of exhausting memory. An Observer, when given, hears every wait for a slot
// and every caller that found none in time.
//
// It imports only models.
package slots

import (
	"context"
	"time"

	"github.com/accountpw/accountpw/models"
)

// Observer hears how the pool is doing, for metrics. Its methods are called
// on the request path and must not block.
type Observer interface {
	// ObserveSlotWait hears how long an Acquire waited for the slot it got
	// (zero when one was free).
	ObserveSlotWait(waited time.Duration)
	// ObserveSlotBusy hears an Acquire that found no slot within the wait
	// and returned models.ErrHashBusy.
	ObserveSlotBusy()
}

// Pool is a counting semaphore with a bounded wait.
type Pool struct {
	c    chan struct{}
	wait time.Duration
	obs  Observer
}

// New returns a pool of n slots whose callers wait at most wait for one;
// obs, when not nil, hears every wait and every refusal.
func New(n int, wait time.Duration, obs Observer) *Pool {
	return &Pool{c: make(chan struct{}, n), wait: wait, obs: obs}
}

// Size is the number of slots.
func (p *Pool) Size() int { return cap(p.c) }

// Unobserved returns the same pool (the same slots) without its observer,
// for work that is not load, such as the warm-up at start: its waits would
// count as requests'.
func (p *Pool) Unobserved() *Pool { return &Pool{c: p.c, wait: p.wait} }

// Acquire waits for a free slot and returns its release. Errors:
// models.ErrHashBusy when none frees up within the pool's wait, ctx's error.
func (p *Pool) Acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case p.c <- struct{}{}:
		if p.obs != nil {
			p.obs.ObserveSlotWait(0)
		}
		return p.release, nil
	default:
	}
	start := time.Now()
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.c <- struct{}{}:
		if p.obs != nil {
			p.obs.ObserveSlotWait(time.Since(start))
		}
		return p.release, nil
	case <-t.C:
		if p.obs != nil {
			p.obs.ObserveSlotBusy()
		}
		return nil, models.ErrHashBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Pool) release() { <-p.c }
