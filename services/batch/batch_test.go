package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every caller gets the result for its own input, whatever batch it lands in.
func TestEachCallerGetsItsResult(t *testing.T) {
	t.Parallel()
	var flushes atomic.Int64
	b := New(Config{MaxSize: 8, Flushers: 2, Timeout: time.Second, Backlog: 200}, func(_ context.Context, in []int) ([]string, error) {
		flushes.Add(1)
		out := make([]string, len(in))
		for i, n := range in {
			out[i] = fmt.Sprint(n * 2)
		}
		return out, nil
	})
	defer mustClose(t, b)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			got, err := b.Do(context.Background(), i)
			if err != nil || got != fmt.Sprint(i*2) {
				t.Errorf("input %d: got %q, %v", i, got, err)
			}
		})
	}
	wg.Wait()
	if n := flushes.Load(); n < 200/8 || n > 200 {
		t.Fatalf("%d flushes for 200 requests of at most 8 each", n)
	}
}

// Requests that arrive while every flusher is busy share the next flush, up
// to the batch size; no more flushes run at once than allowed.
func TestBatchesFormWhileFlushersAreBusy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var sizes []int
	var mu sync.Mutex
	var running, most atomic.Int64
	b := New(Config{MaxSize: 5, Flushers: 1, Timeout: 5 * time.Second, Backlog: 20}, func(_ context.Context, in []int) ([]int, error) {
		n := running.Add(1)
		if n > most.Load() {
			most.Store(n)
		}
		defer running.Add(-1)
		mu.Lock()
		sizes = append(sizes, len(in))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release // hold the only flusher while the others queue up
		}
		return in, nil
	})
	defer mustClose(t, b)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.Do(context.Background(), 0) })
	waitFor(t, "the first flush holds the flusher", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sizes) == 1
	})
	for i := 1; i <= 12; i++ {
		wg.Go(func() { _, _ = b.Do(context.Background(), i) }) // results are not the point here
	}
	waitFor(t, "7 wait behind the full batch of 5", func() bool { return len(b.in) >= 12-5 })
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, s := range sizes {
		if s > 5 {
			t.Errorf("a batch of %d, over the maximum of 5", s)
		}
		total += s
	}
	if total != 13 || len(sizes) > 5 || most.Load() != 1 {
		t.Fatalf("batch sizes %v (total %d), %d flushes at once; want 13 requests in few batches, one at a time", sizes, total, most.Load())
	}
}

// A failed flush fails every request of its batch, and only those.
func TestFailedFlushFailsItsBatch(t *testing.T) {
	t.Parallel()
	boom := errors.New("database gone")
	b := New(Config{MaxSize: 4, Flushers: 1, Timeout: time.Second, Backlog: 10}, func(_ context.Context, in []int) ([]int, error) {
		for _, n := range in {
			if n < 0 {
				return nil, boom
			}
		}
		return in, nil
	})
	defer mustClose(t, b)
	if _, err := b.Do(context.Background(), -1); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the flush's error", err)
	}
	if got, err := b.Do(context.Background(), 7); err != nil || got != 7 {
		t.Fatalf("the next batch: got %d, %v", got, err)
	}
}

// Close flushes every request it has already taken, waits for those flushes,
// and refuses later requests: no accepted request is ever dropped.
func TestCloseDrainsThenRefuses(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var flushed atomic.Int64
	b := New(Config{MaxSize: 2, Flushers: 1, Timeout: 5 * time.Second, Backlog: 10}, func(_ context.Context, in []int) ([]int, error) {
		<-release
		flushed.Add(int64(len(in)))
		return in, nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Go(func() {
			_, err := b.Do(context.Background(), i)
			errs <- err
		})
	}
	// The first flush holds the only flusher, so whatever was taken waits:
	// the collector holds at most two (a flushing and a full batch).
	waitFor(t, "every request is queued or taken", func() bool { return len(b.in) >= 6-2*2 })
	closed := make(chan error, 1)
	go func() { closed <- b.Close(context.Background()) }()
	waitFor(t, "Close has begun", func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		return b.closed
	})
	if _, err := b.Do(context.Background(), 99); !errors.Is(err, ErrClosed) {
		t.Fatalf("a request after Close: got %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a flush was still running", err)
	default:
	}
	close(release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	close(errs)
	accepted := 0
	for err := range errs {
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrClosed):
			t.Errorf("got %v, want a result or ErrClosed", err)
		}
	}
	if accepted == 0 || int64(accepted) != flushed.Load() {
		t.Fatalf("%d requests answered and %d flushed; want every accepted request flushed", accepted, flushed.Load())
	}
}

// Past its backlog the batcher refuses at once instead of queueing without
// bound.
func TestFullBacklogRefusesAtOnce(t *testing.T) {
	t.Parallel()
	release, flushing := make(chan struct{}), make(chan struct{}, 4)
	b := New(Config{MaxSize: 1, Flushers: 1, Timeout: 5 * time.Second, Backlog: 2}, func(_ context.Context, in []int) ([]int, error) {
		flushing <- struct{}{}
		<-release
		return in, nil
	})
	var wg sync.WaitGroup
	do := func(i int) { wg.Go(func() { _, _ = b.Do(context.Background(), i) }) } // results are not the point here
	// One request flushing, one gathered and waiting for the only flusher,
	// two in the backlog: built one step at a time.
	do(0)
	<-flushing
	do(1)
	waitFor(t, "the collector holds the second", func() bool { return len(b.in) == 0 && len(b.flushers) >= 1 })
	do(2)
	do(3)
	waitFor(t, "the backlog is full", func() bool { return len(b.in) >= 2 })
	if _, err := b.Do(context.Background(), 9); !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	close(release)
	wg.Wait()
	mustClose(t, b)
}

// A caller that gives up gets its context's error.
func TestCallerGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := New(Config{MaxSize: 1, Flushers: 1, Timeout: 5 * time.Second, Backlog: 10}, func(_ context.Context, in []int) ([]int, error) {
		<-release
		return in, nil
	})
	defer func() { close(release); mustClose(t, b) }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Do(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func mustClose[In, Out any](t *testing.T, b *Batcher[In, Out]) {
	t.Helper()
	if err := b.Close(context.Background()); err != nil {
		t.Errorf("close: %v", err)
	}
}

// waitFor polls cond until it holds, and fails the test if it does not
// within 10 s: a regression fails here instead of hanging the run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(time.Millisecond) // polling the batcher's state, not synchronising
	}
}
