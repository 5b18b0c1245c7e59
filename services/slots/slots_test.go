package slots

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

func TestPool(t *testing.T) {
	t.Parallel()
	p := New(1, 10*time.Millisecond, nil)
	release, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, models.ErrHashBusy) {
		t.Fatalf("while held: got %v, want ErrHashBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v, want context.Canceled", err)
	}
	release()
	again, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
	if p.Size() != 1 {
		t.Fatalf("size %d, want 1", p.Size())
	}
}

// recorder is an Observer that keeps what it heard.
type recorder struct {
	mu    sync.Mutex
	waits []time.Duration
	busy  int
}

func (r *recorder) ObserveSlotWait(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
}

func (r *recorder) ObserveSlotBusy() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy++
}

// The observer hears a free slot as a zero wait, a slot freed during the
// wait as that wait, a refusal as busy, and nothing of a cancelled caller;
// the unobserved view shares the slots but tells it nothing.
func TestPoolObserver(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	p := New(1, time.Minute, rec)
	release, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const held = 30 * time.Millisecond
	go func() {
		time.Sleep(held) // hold the slot for a measurable while
		release()
	}()
	again, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	short := New(1, 10*time.Millisecond, rec)
	short.c = p.c // the same, still held, slot
	if _, err := short.Acquire(context.Background()); !errors.Is(err, models.ErrHashBusy) {
		t.Fatalf("while held: got %v, want ErrHashBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v", err)
	}
	quiet := short.Unobserved()
	if _, err := quiet.Acquire(context.Background()); !errors.Is(err, models.ErrHashBusy) {
		t.Fatalf("the unobserved view must share the held slot: got %v", err)
	}
	again()
	r, err := quiet.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.waits) != 2 || rec.waits[0] != 0 || rec.waits[1] < held/2 || rec.busy != 1 {
		t.Fatalf("heard waits %v and %d busy, want [0, ≥%v] and 1", rec.waits, rec.busy, held/2)
	}
}
