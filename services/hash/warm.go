package hash

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// WarmUp first lays the heap out for hashing, once per process (one range
// per slot and a spare; see memory.go and LaidOut), then computes a
// throwaway hash in every slot, all slots at once, so that the memory
// hashing needs is already mapped before the first request: the
// first hash of a new process pays the page faults of every block it
// touches (on a virtual machine, 64 MiB costs about as much again as the
// hash itself). Every slot's block is collected before the slot is released
// (see memory.go), and WarmUp returns only once it holds every slot again,
// so the first request's block reuses warmed pages and none of WarmUp's is
// still waiting to be freed. It returns the first error, such as ctx
// ending. Its hashes and slot waits are not observed: they pay page faults
// no request pays, and they are not load.
func (h *Hasher) WarmUp(ctx context.Context) error {
	if h.params.Memory >= config.FloorArgon2Memory { // what configuration allows; tests hash with less
		reserve(h.slots.Size()+1, BlockBytes(h.params))
	}
	w := *h
	w.slots, w.obs = h.slots.Unobserved(), nil
	var (
		wg   sync.WaitGroup
		once sync.Once
		err  error
	)
	for range w.slots.Size() {
		wg.Go(func() {
			salt := make([]byte, saltLen)
			rand.Read(salt) // never fails
			if _, e := w.derive(ctx, rand.Text(), salt, w.params, keyLen, nil); e != nil {
				once.Do(func() { err = e })
			}
		})
	}
	wg.Wait()
	if err != nil {
		return err
	}
	// Take every slot, each as soon as its collection has released it: the
	// pool's wait is for requests, a collection on a loaded machine may
	// outlast it, and WarmUp has nothing better to do.
	var releases []func()
	defer func() {
		for _, release := range releases {
			release()
		}
	}()
	for len(releases) < w.slots.Size() {
		release, err := w.slots.Acquire(ctx)
		switch {
		case errors.Is(err, models.ErrHashBusy):
			continue
		case err != nil:
			return err
		}
		releases = append(releases, release)
	}
	return nil
}
