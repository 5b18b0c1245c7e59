// Package hash hashes passwords with argon2id, stored as PHC strings and
// optionally keyed with an HMAC pepper that can be rotated, and verifies
// them together with the hashes teams bring when they adopt the service:
// argon2i PHC strings, bcrypt and Django's pbkdf2_sha256. It never makes a
// hash of those formats; a verified one is replaced at the next password
// change or reset, which always hashes anew. Every computation runs inside a
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
	"crypto/subtle"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/models"
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
	return &Hasher{params: cfg.Argon2, pepperID: cfg.CurrentPepperID(), peppers: peppers, slots: pool, obs: obs}, nil
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

// Verify reports whether password matches encoded, a hash of any format
// Check accepts. password is the password as the client sent it, not
// normalised, because which form to hash depends on who made the hash:
//
//   - argon2id hashes are this service's own, always made of the NFKC form,
//     so only models.NormalizePassword(password) is tried (a caller that
//     normalises first gets the same result, NFKC being idempotent). An
//     argon2id hash imported from another system verifies when its
//     password is its own NFKC form, as every ASCII password is; trying a
//     second form for every argon2id hash would double the cost of each
//     wrong guess at our own hashes.
//   - Imported hashes (argon2i, bcrypt, pbkdf2_sha256) were made by systems
//     that mostly did not normalise (Django, PHP and bcrypt libraries hash
//     the bytes they are given), so the password as given is tried first
//     and, only when it differs, its NFKC form second: that covers both a
//     system that hashed raw input and one that normalised. Both tries run
//     in one slot; a password whose NFKC form equals it (all ASCII) costs
//     one.
//
// Whatever its format, parameters or pepper, a matching hash is replaced at
// the next password change, which always hashes anew. Errors:
// models.ErrHashBusy, ctx's error, and a wrapped "verify password: stored
// hash: …" error for a malformed, unknown-format or out-of-bounds stored
// hash or an unknown pepper id.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	parsed, err := parse(encoded)
	if err != nil {
		return false, fmt.Errorf("verify password: stored hash: %w", err)
	}
	if s, ok := parsed.(phc); ok && s.variant == FormatArgon2id {
		return h.verifyArgon2id(ctx, models.NormalizePassword(password), s)
	}
	return h.verifyLegacy(ctx, password, parsed)
}

func (h *Hasher) verifyArgon2id(ctx context.Context, password string, s phc) (bool, error) {
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

// verifyLegacy tries the password as given, then its NFKC form if that
// differs, inside one slot of the pool argon2id uses: bcrypt and PBKDF2 are
// as CPU-heavy as a hash of ours and count against the same bound. Stopping
// at the first match tells nothing the caller does not know: it chose the
// password.
func (h *Hasher) verifyLegacy(ctx context.Context, password string, s stored) (bool, error) {
	release, err := h.slots.Acquire(ctx)
	if err != nil {
		return false, err
	}
	var memKiB uint32 // an argon2i hash allocates its memory parameter
	if p, ok := s.(phc); ok {
		memKiB = p.params.Memory
	}
	defer collectThenRelease(release, memKiB)
	defer h.observe(time.Now())
	tries := []string{password}
	if n := models.NormalizePassword(password); n != password {
		tries = append(tries, n)
	}
	for _, pw := range tries {
		ok, err := s.matches([]byte(pw))
		if err != nil {
			return false, fmt.Errorf("verify password: stored hash: %w", err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
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
	mac := hmac.New(sha256.New, pepper)
	mac.Write(key)
	return mac.Sum(nil), nil
}

// observe tells the observer how long the computation that began at start
// took.
func (h *Hasher) observe(start time.Time) {
	if h.obs != nil {
		h.obs.ObserveHash(time.Since(start))
	}
}
