package slots

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

func TestPool(t *testing.T) {
	t.Parallel()
	p := New(1, 10*time.Millisecond)
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
