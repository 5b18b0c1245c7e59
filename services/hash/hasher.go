// Package hash hashes passwords with argon2id, stored as PHC strings and
// optionally keyed with an HMAC pepper that can be rotated, and verifies
// them together with the hashes teams bring when they adopt the service:
// argon2id and argon2i PHC strings of other libraries, bcrypt and Django's
// pbkdf2_sha256. It never makes a hash of those formats: Compare says when a
// verified hash is outdated, and the caller replaces it (the next sign-in
// check, change or reset). Every computation runs inside a
// slot of the shared slots.Pool, and an Observer, when given, hears how long
// each took inside its slot. Format and Check name and check a stored hash
// without computing anything.
//
// It imports models, config, slots and golang.org/x/crypto.
package hash

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/slots"
)

// Lengths of what new hashes store.
const (
	saltLen = 16
	keyLen  = 32
)

// Observer hears every password hash computed, for metrics. It is called
// on the request path and must not block.
type Observer interface {
	// ObserveHash hears the time one computation took inside its slot (an
	// argon2id hash, or the verification of an imported hash), without the
	// wait for the slot.
	ObserveHash(elapsed time.Duration)
}

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params   config.Argon2
	pepperID string            // current pepper's id, "" for none
	peppers  map[string][]byte // current and retired, by id
	slots    *slots.Pool
	obs      Observer // nil: nobody listens
	dummy    string   // DummyHash's answer
	// verifyTimeout bounds Compare's computation; maxBcryptCost and
	// maxPBKDF2Iterations cap what CheckImport accepts.
	verifyTimeout       time.Duration
	maxBcryptCost       int
	maxPBKDF2Iterations int
}

// New returns a Hasher for the password section (its argon2id cost and
// peppers) that computes inside pool; obs, when not nil, hears how long
// each computation took. It refuses parameters out of bounds and malformed
// peppers, with the same checks config.Password.Validate makes; the OWASP
// floor is Validate's alone, so tests can hash cheaply.
func New(cfg config.Password, pool *slots.Pool, obs Observer) (*Hasher, error) {
	if err := cfg.Argon2.CheckBounds(); err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	peppers, err := cfg.Peppers()
	if err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	h := &Hasher{params: cfg.Argon2, pepperID: cfg.CurrentPepperID(), peppers: peppers, slots: pool, obs: obs,
		verifyTimeout: cfg.VerifyTimeout, maxBcryptCost: cfg.MaxBcryptCost, maxPBKDF2Iterations: cfg.MaxPBKDF2Iterations}
	// Zero values (tests that build a section by hand) take the defaults.
	if h.verifyTimeout <= 0 {
		h.verifyTimeout = config.DefaultVerifyTimeout
	}
	if h.maxBcryptCost == 0 {
		h.maxBcryptCost = config.DefaultMaxBcryptCost
	}
	if h.maxPBKDF2Iterations == 0 {
		h.maxPBKDF2Iterations = config.DefaultMaxPBKDF2Iterations
	}
	h.dummy = newDummy(h.params, h.pepperID)
	return h, nil
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
	return phc{variant: FormatArgon2id, params: h.params, keyID: h.pepperID, salt: salt, key: key}.String(), nil
}

// derive computes the stored key inside a slot, so at most the pool's size
// times the memory parameter is ever allocated by hashing.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p config.Argon2, n uint32, pepper []byte) ([]byte, error) {
	release, err := h.slots.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer collectThenRelease(release, p.Memory)
	defer h.observe(time.Now())
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, n)
	if pepper == nil {
		return key, nil
	}
	return peppered(key, pepper), nil
}

// peppered is the stored key of a peppered hash: HMAC-SHA-256 of the
// argon2id output under the pepper.
func peppered(key, pepper []byte) []byte {
	mac := hmac.New(sha256.New, pepper)
	mac.Write(key)
	return mac.Sum(nil)
}

// observe tells the observer how long the computation that began at start
// took.
func (h *Hasher) observe(start time.Time) {
	if h.obs != nil {
		h.obs.ObserveHash(time.Since(start))
	}
}
