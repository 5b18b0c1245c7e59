package hash

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
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

// The layout serve's hashing counts on (see memory.go): the runtime places
// each of layOut's allocations at the lowest free address that fits, so
// every range gets a fence just below and just above it; and once the
// chunks and ranges are freed, the rest of the heap grows into the room
// and blocks of the ranges' size land exactly on the ranges. It runs in a
// process of its own, as serve lays out a young heap: the holes earlier
// tests leave would take the fences. It fails when a Go release places
// allocations differently.
func TestLayOutPlacesBlocksOnTheirRanges(t *testing.T) {
	const child = "ACCOUNTPW_TEST_LAYOUT_CHILD"
	if os.Getenv(child) != "1" {
		cmd := exec.CommandContext(t.Context(), os.Args[0],
			"-test.run=^TestLayOutPlacesBlocksOnTheirRanges$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), child+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in a process of its own: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestLayOutPlacesBlocksOnTheirRanges") {
			t.Fatalf("in a process of its own, the test did not run:\n%s", out)
		}
		return
	}
	const block = 19 << 20 // the smallest block serve computes
	ok, ranges := layOut(2, block)
	if !ok {
		t.Fatal("layOut: a range without a fence just below or just above it")
	}
	runtime.GC()
	var rest [][]byte // small objects, as requests allocate them
	for range 4096 {
		rest = append(rest, make([]byte, 2048))
	}
	a, b := make([]byte, block), make([]byte, block)
	if got := []uintptr{address(a), address(b)}; !slices.Equal(got, ranges) {
		t.Errorf("blocks at %#x, want them on the ranges at %#x", got, ranges)
	}
	for _, r := range rest {
		if address(r) >= ranges[0] {
			t.Fatalf("a small object at %#x, in or above the ranges (from %#x), not in the room below", address(r), ranges[0])
		}
	}
}
