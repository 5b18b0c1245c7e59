package hash

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/slots"
)

// recorder is a hash and slot Observer that keeps what it heard.
type recorder struct {
	mu     sync.Mutex
	hashes []time.Duration
	waits  int
}

func (r *recorder) ObserveHash(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hashes = append(r.hashes, d)
}

func (r *recorder) ObserveSlotWait(time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits++
}

func (r *recorder) ObserveSlotBusy() {}

func (r *recorder) heard() (hashes, waits int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hashes), r.waits
}

// Every computation in a slot is heard once, an argon2id one and an imported
// hash's verification alike (with both forms tried in the same slot); a
// stored hash refused before computing, and the warm-up, are not heard.
func TestObserver(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := New(hcfg(cheap, nil, "", ""), slots.New(4, time.Second, rec), rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WarmUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hashes, waits := rec.heard(); hashes != 0 || waits != 0 {
		t.Fatalf("the warm-up was heard: %d hashes, %d slot waits", hashes, waits)
	}
	encoded := mustHash(t, h, "velvet orbit copper lantern")
	ctx := context.Background()
	for _, stored := range []string{encoded, bcryptXCrypto, "$argon2id$v=19$broken"} {
		_, _ = h.Verify(ctx, "ﬁve velvet orbits", stored) // a ligature: NFKC differs, two tries for bcrypt
	}
	if hashes, waits := rec.heard(); hashes != 3 || waits != 3 {
		t.Fatalf("heard %d hashes and %d slot waits, want 3 and 3 (hash, verify ours, verify bcrypt)", hashes, waits)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, d := range rec.hashes {
		if d <= 0 {
			t.Fatalf("a computation took %v", d)
		}
	}
}
