// Package slots bounds how many memory- and CPU-heavy computations run at
// once in a process: argon2id hashes and password strength estimates share
// one Pool, so a burst of requests is answered with 503 + Retry-After instead
// of exhausting memory.
//
// It imports only models.
package slots

import (
	"context"
	"time"

	"github.com/accountpw/accountpw/models"
)

// Pool is a counting semaphore with a bounded wait.
type Pool struct {
	c    chan struct{}
	wait time.Duration
}

// New returns a pool of n slots whose callers wait at most wait for one.
func New(n int, wait time.Duration) *Pool { return &Pool{c: make(chan struct{}, n), wait: wait} }

// Size is the number of slots.
func (p *Pool) Size() int { return cap(p.c) }

// Acquire waits for a free slot and returns its release. Errors:
// models.ErrHashBusy when none frees up within the pool's wait, ctx's error.
func (p *Pool) Acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case p.c <- struct{}{}:
		return p.release, nil
	default:
	}
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.c <- struct{}{}:
		return p.release, nil
	case <-t.C:
		return nil, models.ErrHashBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Pool) release() { <-p.c }
