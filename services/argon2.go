package services

import (
	"context"
	"time"
)

// HashParams are argon2id cost parameters.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// HasherConfig configures a Hasher.
type HasherConfig struct {
	Params HashParams
	// Slots bounds concurrent hash computations (memory = Slots × Memory).
	Slots int
	// Wait is how long a caller waits for a free slot before ErrHashBusy.
	Wait time.Duration
	// Pepper, when set, is the current HMAC-SHA-256 key applied to the
	// argon2id output; PepperID names it in the stored hash.
	Pepper   []byte
	PepperID string
	// OldPeppers are retired keys by id: hashes under them still verify and
	// are reported as needing a rehash.
	OldPeppers map[string][]byte
}

// Hasher hashes and verifies passwords with argon2id in PHC format.
type Hasher struct{ cfg HasherConfig }

// NewHasher validates cfg and returns a Hasher.
func NewHasher(cfg HasherConfig) (*Hasher, error) { return &Hasher{cfg: cfg}, nil }

// Hash returns the PHC string of a normalised password. Errors:
// models.ErrHashBusy when no slot frees up within the wait, ctx errors.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	panic("TODO")
}

// Verify reports whether password matches encoded, and whether encoded should
// be replaced because its parameters or pepper differ from the current ones.
// Errors: models.ErrHashBusy, a wrapped error for a malformed or out-of-bounds
// stored hash.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	panic("TODO")
}
