package hash

// How hashing stays within its memory budget.
//
// golang.org/x/crypto/argon2 allocates a fresh block of the memory
// parameter (64 MiB by default) for every hash and offers no way to hand it
// one to reuse. The budget holds only if every block lands on the pages of
// one before, and four things used to move them:
//
//   - Garbage. Once a hash returns, its block is garbage, but the collector
//     starts only after an allocation has grown the heap past its goal: the
//     next hash's block. So with two slots, three or four blocks were in the
//     heap at once. Instead, a slot that computed an argon2 hash is released
//     only after a collection has freed its block: each slot accounts for at
//     most one block, computing or being freed. The caller does not wait for
//     the collection (it has its result); only the next user of the slot
//     does. A collection costs about 10 ms here with the small live heap of
//     this service, run concurrently with the other slots' hashing.
//   - The rest of the heap. The Go runtime places every allocation at the
//     lowest free address that fits, so the small objects of concurrent
//     requests settled in a freed block's pages whenever those were the
//     lowest free ones, and the next block no longer fitted there.
//   - Neighbours. A block placed where the pages below it are free starts
//     lower, across the boundary of the block before: blocks crept down and
//     across each other until one no longer fitted anywhere.
//   - The runtime's scavenger, which hands free pages back to the operating
//     system, highest first: the blocks'. While it hands back part of a
//     freed block, that part counts as taken, so a block placed at that
//     moment goes elsewhere.
//
// So before the first block, reserve lays the heap out: first a room for
// the rest of the heap (chunks smaller than any block, each with a small
// live fence just above it), then ranges of exactly one block, each with a
// fence just above it, and frees the chunks and ranges again. The rest of
// the heap grows into the room first, because it is lower, and no block
// fits there; a block fits a range exactly and cannot cross a fence, so it
// never creeps. There is one range per slot and one more, for a block
// placed while the scavenger hands back part of the range it would have
// taken. Reserving touches none of the pages it takes fresh from the
// operating system (such memory is not cleared), so the room and the spare
// range cost address space, not resident memory, until they are used; a
// chunk or fence placed in a hole of the older heap is cleared, but those
// pages were resident already.
//
// Without this, under GODEBUG=madvdontneed=0, which the container image
// sets, each move added a block to the process's resident memory (the
// pages a block leaves stay resident until the kernel needs them): one or
// two blocks more in most bursts of five waves of 200 requests. With the
// layout, in twenty runs of ten waves no block landed outside its ranges,
// and a range holds at most one resident block. Handing every free page
// back after each hash instead (so that the scavenger has nothing of a
// range to hand back) kept to two ranges, but doubled the time of the next
// hash on this machine: pages handed back
// with MADV_FREE fault in again when written.

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/accountpw/accountpw/services/config"
)

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

// The layout reserve makes. The rest of the heap grows up to about 70 MiB
// under waves of 200 concurrent requests; the room is more, because its
// pages cost nothing until they are used. A chunk is smaller than any
// block serve computes (configuration refuses less than
// config.FloorArgon2Memory, 19 MiB); a fence is the smallest allocation the
// runtime places at the lowest free address itself (16 pages) instead of
// from a per-processor page cache.
const (
	roomBytes  = 128 << 20
	roomChunk  = 8 << 20
	fenceBytes = 128 << 10
	// fenceTries bounds the fences tried above one allocation: a fence
	// lands in the lowest hole that fits it, so a few may fill holes
	// further down before one lands just above. Each stays allocated.
	fenceTries = 64
	// heapPage is the runtime's page: an allocation's pages end at its
	// length rounded up to it.
	heapPage = 8 << 10
)

var (
	reserveOnce sync.Once
	laidOut     atomic.Bool // whether reserve's layout held
	fences      [][]byte    // live for the process's life
)

// reserve lays the heap out for ranges blocks of blockBytes, once per
// process; see the top of this file. It must run before the first block is
// allocated.
func reserve(ranges, blockBytes int) {
	reserveOnce.Do(func() {
		ok, _ := layOut(ranges, blockBytes)
		laidOut.Store(ok)
		// Tell the runtime the freed chunks' and ranges' pages are not
		// resident, so that it neither counts them against its memory
		// limit nor hands them back later.
		debug.FreeOSMemory()
	})
}

// LaidOut reports whether the heap was laid out for the blocks: every range
// lies between two fences, the first one just above the room's last. It is
// false before the first WarmUp with production memory, or when the
// runtime did not place the layout's allocations where it places them
// today; then a block may be placed in new memory under load, and resident
// memory can pass the budget.
func LaidOut() bool { return laidOut.Load() }

// layOut allocates the room and n ranges of blockBytes, each with its
// fence, and frees the chunks and ranges again (at the next
// collection). It reports whether every range has a fence just below and
// just above it, and returns where the ranges start. A chunk placed in a
// hole whose top is taken gets no fence just above it; it stays allocated
// instead (address space, or pages the older heap had made resident
// already), so no free stretch of the room ever holds a block.
func layOut(n, blockBytes int) (bool, []uintptr) {
	var (
		free   [][]byte
		ranges []uintptr
		ok     = true
	)
	for range roomBytes / roomChunk {
		c := make([]byte, roomChunk)
		if fenceAbove(c) {
			free = append(free, c)
		} else {
			fences = append(fences, c)
		}
	}
	for range n {
		below := fences[len(fences)-1]
		r := make([]byte, blockBytes)
		free = append(free, r)
		ranges = append(ranges, address(r))
		fenced := fenceAbove(r) // even when below is not just below: the next range starts above it
		ok = fenced && end(below) == address(r) && ok
	}
	runtime.KeepAlive(free)
	return ok, ranges
}

// fenceAbove allocates fences until one lies just above b, and reports
// whether one did. A fence lands in the lowest free stretch that holds it:
// one below b filled a hole there, and the next may land above b; one above
// b but not just above it means the pages just above b are taken (or too
// few for a fence), and no further fence would land there.
func fenceAbove(b []byte) bool {
	for range fenceTries {
		f := make([]byte, fenceBytes)
		fences = append(fences, f)
		switch a := address(f); {
		case a == end(b):
			return true
		case a > end(b):
			return false
		}
	}
	return false
}

// address is where b's memory starts, and end where its pages end, for
// comparing placements only.
func address(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
func end(b []byte) uintptr     { return address(b) + (uintptr(len(b))+heapPage-1)/heapPage*heapPage }

// BlockBytes is the memory golang.org/x/crypto/argon2 (v0.58.0) allocates
// for a hash of p: the memory parameter rounded down to whole segments of
// 4 × threads blocks of 1 KiB, and at least two of them. Should a release
// allocate otherwise, blocks no longer fit the ranges, and .ci/loadtest
// sees the resident memory grow.
func BlockBytes(p config.Argon2) int {
	const syncPoints = 4
	segment := syncPoints * uint32(p.Threads)
	m := max(p.Memory, 2*segment) / segment * segment
	return int(m) << 10
}
