package hash

// How hashing stays within its memory budget.
//
// golang.org/x/crypto/argon2 allocates a fresh block of the memory
// parameter (64 MiB by default) for every hash and offers no way to hand it
// one to reuse. Once a hash returns, its block is garbage, but it stays in
// the heap until the next collection, and the collector starts one only
// after an allocation has grown the heap past its goal: the next hash's
// block. So with two slots, three or four blocks were in the heap at once
// (measured: 212 MiB of heap for 2 × 64 MiB), and with
// GODEBUG=madvdontneed=0, which the container image sets, the pages of
// that growth stay in the process's resident memory after they are freed.
//
// Instead, a slot that computed an argon2 hash is released only after a
// collection has freed the block: at any moment each slot accounts for at
// most one block, computing or being freed, and a slot's next block reuses
// the pages of the one before. The caller does not wait for the collection
// (it has its result); only the next user of the slot does. A collection
// costs about 10 ms here with the small live heap of this service, run
// concurrently with the other slots' hashing.

import "runtime"

// collectAboveKiB is the smallest argon2 memory whose block is collected
// before its slot is released. Below a mebibyte a block is no bigger than
// what a request allocates anyway, and the collector's own pacing bounds
// it; tests, which hash with a few KiB, never wait for a collection.
const collectAboveKiB = 1 << 10

// collectThenRelease releases a slot whose computation allocated an argon2
// block of memKiB: at once for a small block, else after a collection, in
// the background.
func collectThenRelease(release func(), memKiB uint32) {
	if memKiB < collectAboveKiB {
		release()
		return
	}
	go func() {
		runtime.GC()
		release()
	}()
}

// collectBetween frees the block of a slot's first argon2 computation
// before its second, when a verification tries two forms of a password.
func collectBetween(memKiB uint32) {
	if memKiB >= collectAboveKiB {
		runtime.GC()
	}
}
