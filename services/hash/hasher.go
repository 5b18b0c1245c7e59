// Package hash hashes and verifies passwords with argon2id, stored as PHC
// strings, optionally keyed with an HMAC pepper that can be rotated. Every
// computation runs inside a slot of the shared slots.Pool.
//
// It imports models, config, slots and golang.org/x/crypto.
package hash

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

// Lengths of what new hashes store.
const (
	saltLen = 16
	keyLen  = 32
)

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params   config.Argon2
	pepperID string            // current pepper's id, "" for none
	peppers  map[string][]byte // current and retired, by id
	slots    *slots.Pool
}

// New returns a Hasher for the password section (its argon2id cost and
// peppers) that computes inside pool. It refuses parameters out of bounds
// and malformed peppers, with the same checks config.Password.Validate
// makes; the OWASP floor is Validate's alone, so tests can hash cheaply.
func New(cfg config.Password, pool *slots.Pool) (*Hasher, error) {
	if err := cfg.Argon2.CheckBounds(); err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	peppers, err := cfg.Peppers()
	if err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	return &Hasher{params: cfg.Argon2, pepperID: cfg.CurrentPepperID(), peppers: peppers, slots: pool}, nil
}

// Hash returns the PHC string of a normalised password, made with the
// current parameters and pepper. Errors: models.ErrHashBusy when no slot
// frees up in time, ctx's error.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails; crashes the process if the OS cannot supply randomness
	key, err := h.derive(ctx, password, salt, h.params, keyLen, h.peppers[h.pepperID])
	if err != nil {
		return "", err
	}
	return phc{h.params, h.pepperID, salt, key}.String(), nil
}

// Verify reports whether password matches encoded. Whatever its parameters
// or pepper, a matching hash is replaced at the next password change, which
// always hashes anew. Errors: models.ErrHashBusy, ctx's error, and a wrapped
// error for a malformed or out-of-bounds stored hash or an unknown pepper id.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	s, err := parsePHC(encoded)
	if err != nil {
		return false, fmt.Errorf("verify password: stored hash: %w", err)
	}
	var pepper []byte
	if s.keyID != "" {
		if pepper = h.peppers[s.keyID]; pepper == nil {
			return false, fmt.Errorf("verify password: stored hash: unknown pepper id %q", s.keyID)
		}
	}
	key, err := h.derive(ctx, password, s.salt, s.params, uint32(len(s.key)), pepper)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, s.key) == 1, nil
}

// derive computes the stored key inside a slot, so at most the pool's size
// times the memory parameter is ever allocated by hashing.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p config.Argon2, n uint32, pepper []byte) ([]byte, error) {
	release, err := h.slots.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, n)
	if pepper == nil {
		return key, nil
	}
	mac := hmac.New(sha256.New, pepper)
	mac.Write(key)
	return mac.Sum(nil), nil
}
