package hash

import (
	"context"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

// heapObjects is the heap's live objects and dead ones not yet freed.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Once a caller holds every slot, the block of every hash computed before
// is freed: a slot is released only after a collection, so no slot ever
// accounts for more than one block and the next hash reuses its pages.
// Without that, the blocks of finished hashes waited for the collector,
// which starts only once the next block has grown the heap. The password
// of the verification is not ASCII, so it tries two forms in one slot.
// Not parallel:
// it reads process-wide memory statistics.
func TestSlotsReleaseOnlyCollectedBlocks(t *testing.T) {
	const blockMiB = 8
	pool := slots.New(2, 10*time.Second, nil)
	verifyCost := config.Argon2{Memory: blockMiB << 10, Time: 1, Threads: 1}
	h, err := New(hcfg(verifyCost, nil, "", ""), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	argon2i := phc{variant: FormatArgon2i, params: verifyCost, salt: make([]byte, 16), key: make([]byte, 32)}.String()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 2 {
				mustHash(t, h, "velvet orbit copper lantern")
				if _, err := h.Verify(context.Background(), "velvet orbit coppér lantern", argon2i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for range pool.Size() {
		release, err := pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	if got := heapObjects(); got >= blockMiB<<20 {
		t.Errorf("with every slot free, %d MiB of heap objects, want less than one %d MiB block", got>>20, blockMiB)
	}
}
