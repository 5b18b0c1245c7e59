package hash

import (
	"context"
	"crypto/rand"
	"runtime"
	"sync"
)

// WarmUp computes two throwaway hashes in every slot, all slots at once, so
// that the memory hashing needs is already mapped before the first request:
// the first hashes of a new process pay the page faults of every block they
// touch (on a virtual machine, 64 MiB costs about as much again as the hash
// itself), and the second round covers the blocks the garbage collector has
// not freed yet when the next hash starts. It returns the first error, such
// as ctx ending. Its hashes and slot waits are not observed: they pay page
// faults no request pays, and they are not load.
//
// It ends with a garbage collection: until one runs, the last blocks are
// still counted as live heap, the first request's hash cannot reuse their
// pages, and the runtime maps and faults in fresh memory for it (measured
// here: 32,000 page faults and three times a warm hash's time).
func (h *Hasher) WarmUp(ctx context.Context) error {
	w := *h
	w.slots, w.obs = h.slots.Unobserved(), nil
	var (
		wg   sync.WaitGroup
		once sync.Once
		err  error
	)
	for range w.slots.Size() {
		wg.Go(func() {
			for range 2 {
				salt := make([]byte, saltLen)
				rand.Read(salt) // never fails
				if _, e := w.derive(ctx, rand.Text(), salt, w.params, keyLen, nil); e != nil {
					once.Do(func() { err = e })
					return
				}
			}
		})
	}
	wg.Wait()
	runtime.GC()
	return err
}
