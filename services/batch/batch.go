// Package batch is group commit: it gathers concurrent requests and hands
// them to one flush function, so that many requests share one database
// transaction and one commit. A batch goes as soon as a flusher is free:
// at low load each request is flushed at once, with no added wait, and under
// load the requests that arrive while every flusher is busy form the next
// batch, so the batch size follows the load. Each caller gets its own
// result, and only after its batch has been flushed; a failed flush fails
// every request of that batch.
//
// It imports only the standard library.
package batch

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of Do that say the request was not taken: the caller should answer
// "unavailable, retry shortly".
var (
	// ErrClosed is returned for a request made after Close began.
	ErrClosed = errors.New("batch: closed")
	// ErrFull is returned when more requests wait than Config.Backlog:
	// the database cannot keep up, and waiting longer would only add
	// latency to every request.
	ErrFull = errors.New("batch: too many requests waiting")
)

// Flush handles one batch: it returns one result per input, in order, or an
// error for the whole batch. It runs with a context of its own (requests do
// not share a deadline), bounded by Config.Timeout.
type Flush[In, Out any] func(ctx context.Context, batch []In) ([]Out, error)

// Config sizes a Batcher.
type Config struct {
	// MaxSize is the most requests in one batch.
	MaxSize int
	// Flushers is how many batches may be in flight at once: 1 for a
	// single-writer database, a few for one that commits in parallel.
	Flushers int
	// Timeout bounds one flush.
	Timeout time.Duration
	// Backlog is how many requests may wait for a batch; more are refused
	// with ErrFull at once.
	Backlog int
}

// ForDatabase sizes a batcher for a database that commits transactions in
// parallel (PostgreSQL: two flushers, so one batch gathers while the other
// commits; more would only shrink the batches, and each batch costs the
// database a transaction) or one at a time (SQLite: one; a second would only
// wait for the write lock).
func ForDatabase(parallel bool) Config {
	c := Config{MaxSize: 128, Flushers: 1, Timeout: 10 * time.Second, Backlog: 4096}
	if parallel {
		c.Flushers = 2
	}
	return c
}

type request[In, Out any] struct {
	in   In
	done chan result[Out]
}

type result[Out any] struct {
	out Out
	err error
}

// Batcher gathers requests and flushes them in batches. It is safe for
// concurrent use.
type Batcher[In, Out any] struct {
	cfg      Config
	flush    Flush[In, Out]
	in       chan request[In, Out]
	mu       sync.RWMutex // guards closed against sends racing Close
	closed   bool
	flushers chan struct{}
	inflight sync.WaitGroup
	stopped  chan struct{}
}

// New starts a Batcher that flushes with flush. Close stops it.
func New[In, Out any](cfg Config, flush Flush[In, Out]) *Batcher[In, Out] {
	b := &Batcher[In, Out]{
		cfg: cfg, flush: flush,
		in:       make(chan request[In, Out], max(cfg.Backlog, 1)),
		flushers: make(chan struct{}, max(cfg.Flushers, 1)),
		stopped:  make(chan struct{}),
	}
	go b.collect()
	return b
}

// Do adds in to the next batch and waits for its result. Errors: the
// batch's error, ErrClosed after Close began, ErrFull when the backlog is
// full, ctx's error if the caller gives up first (the request may still be
// flushed: its outcome is then unknown to the caller, as for any request
// whose client went away).
func (b *Batcher[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	r := request[In, Out]{in: in, done: make(chan result[Out], 1)}
	var zero Out
	// The send never blocks, so Close never waits behind a caller.
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return zero, ErrClosed
	}
	select {
	case b.in <- r:
		b.mu.RUnlock()
	default:
		b.mu.RUnlock()
		return zero, ErrFull
	}
	select {
	case res := <-r.done:
		return res.out, res.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Close stops taking requests, flushes every request already taken, and
// waits for the flushes in flight, or for ctx to end. Requests that arrive
// after Close began get ErrClosed.
func (b *Batcher[In, Out]) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	select {
	case <-b.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// collect is the loop that forms batches: it takes every request already
// waiting, then hands the batch to the first free flusher, adding requests
// that arrive meanwhile, until the batch is full.
func (b *Batcher[In, Out]) collect() {
	defer close(b.stopped)
	defer b.inflight.Wait()
	for {
		first, ok := <-b.in
		if !ok {
			return
		}
		batch := []request[In, Out]{first}
		open := true
		// take adds the requests already waiting, without blocking.
		take := func() {
			for open && len(batch) < b.cfg.MaxSize {
				select {
				case r, more := <-b.in:
					if !more {
						open = false
						return
					}
					batch = append(batch, r)
				default:
					return
				}
			}
		}
		take()
		acquired := false
		for !acquired && open && len(batch) < b.cfg.MaxSize {
			select {
			case b.flushers <- struct{}{}:
				acquired = true
			case r, more := <-b.in:
				if !more {
					open = false
					break
				}
				batch = append(batch, r)
				take()
			}
		}
		if !acquired {
			b.flushers <- struct{}{} // full or closing: wait for a flusher
		}
		b.inflight.Add(1)
		go b.run(batch)
		if !open {
			return
		}
	}
}

// run flushes one batch and answers each of its requests.
func (b *Batcher[In, Out]) run(batch []request[In, Out]) {
	defer func() { <-b.flushers; b.inflight.Done() }()
	ins := make([]In, len(batch))
	for i, r := range batch {
		ins[i] = r.in
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	outs, err := b.flush(ctx, ins)
	if err == nil && len(outs) != len(batch) {
		err = errors.New("batch: flush returned a result count that does not match the batch")
	}
	for i, r := range batch {
		if err != nil {
			r.done <- result[Out]{err: err}
			continue
		}
		r.done <- result[Out]{out: outs[i]}
	}
}
