package hash

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
)

// Comparison is the outcome of Compare.
type Comparison struct {
	// Match is true when the password matches the stored hash.
	Match bool
	// Outdated is true, for a match, when the stored hash should be
	// replaced by Hash of the password's NFKC form: it is of an imported
	// format, weaker than the current argon2id parameters, under another
	// pepper than the current one (a retired one, or none while one is
	// set), or it matched only the password as sent, not its NFKC form.
	// Replacing it changes no password: the same one verifies afterwards.
	Outdated bool
}

// Verify reports whether password matches encoded; see Compare.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	c, err := h.Compare(ctx, password, encoded)
	return c.Match, err
}

// Compare checks password against encoded, a hash of any format Check
// accepts. password is the password as the client sent it, not normalised,
// because which form to hash depends on who made the hash:
//
//   - A peppered argon2id hash (k=) is this service's own, always made of
//     the NFKC form: only models.NormalizePassword(password) is tried.
//   - An unpeppered argon2id hash may be ours or imported from another
//     system. The NFKC form is tried first (ours, and what every ASCII
//     password already is), then, only when it differs, the password as
//     sent: argon2-cffi, npm's argon2 and most libraries hash the bytes
//     they are given.
//   - Imported argon2i, bcrypt and pbkdf2_sha256 hashes were made by
//     systems that mostly did not normalise, so the password as sent is
//     tried first and its NFKC form second, only when it differs.
//
// Every try runs inside one slot of the pool. A password whose NFKC form
// equals it (all ASCII) costs one computation; any other costs two when it
// is wrong, whoever made the hash, so the time of a wrong password tells
// nothing about the hash's origin. Stopping at the first match tells
// nothing the caller does not know: it chose the password.
//
// The computation is bounded by password.verify_timeout: a bcrypt or
// pbkdf2_sha256 hash whose cost takes longer (one imported before
// password.max_bcrypt_cost or max_pbkdf2_iterations were lowered, or on an
// overloaded machine) is stopped there and answers models.ErrHashBusy, so
// the request answers 503 + Retry-After within its timeout and the slot is
// free. An argon2 computation cannot be stopped; its parameters' bounds
// bound it.
//
// Errors: models.ErrHashBusy (no slot in time, or the bound passed), ctx's
// error, and a wrapped "verify password: stored hash: …" error for a
// malformed, unknown-format or out-of-bounds stored hash or an unknown
// pepper id.
func (h *Hasher) Compare(ctx context.Context, password, encoded string) (Comparison, error) {
	parsed, err := parse(encoded)
	if err != nil {
		return Comparison{}, fmt.Errorf("verify password: stored hash: %w", err)
	}
	nfkc := models.NormalizePassword(password)
	tries := []string{password, nfkc}
	var pepper []byte
	if s, ok := parsed.(phc); ok && s.variant == FormatArgon2id {
		tries = []string{nfkc, password}
		if s.keyID != "" {
			if pepper = h.peppers[s.keyID]; pepper == nil {
				return Comparison{}, fmt.Errorf("verify password: stored hash: unknown pepper id %q", s.keyID)
			}
			tries = tries[:1]
		}
	}
	if len(tries) == 2 && tries[0] == tries[1] {
		tries = tries[:1]
	}
	release, err := h.slots.Acquire(ctx)
	if err != nil {
		return Comparison{}, err
	}
	var memKiB uint32 // an argon2 hash allocates its memory parameter
	if s, ok := parsed.(phc); ok {
		memKiB = s.params.Memory
	}
	defer collectThenRelease(release, memKiB)
	defer h.observe(time.Now())
	// Every try together holds the slot at most verifyTimeout: bcrypt and
	// PBKDF2 stop then, whatever cost the stored hash has.
	ctx, cancel := context.WithTimeoutCause(ctx, h.verifyTimeout, errTooSlow)
	defer cancel()
	for i, pw := range tries {
		if i > 0 {
			collectBetween(memKiB) // one block per slot, the second try's too
		}
		var ok bool
		if s, isPHC := parsed.(phc); isPHC {
			ok, err = s.matchesWith([]byte(pw), pepper)
		} else {
			ok, err = parsed.matches(ctx, []byte(pw))
		}
		if errors.Is(err, errTooSlow) {
			return Comparison{}, fmt.Errorf("verify password: %w", errors.Join(models.ErrHashBusy, err))
		}
		if err != nil && ctx.Err() != nil {
			return Comparison{}, err // the caller's context ended
		}
		if err != nil {
			return Comparison{}, fmt.Errorf("verify password: stored hash: %w", err)
		}
		if ok {
			return Comparison{Match: true, Outdated: pw != nfkc || h.outdated(parsed)}, nil
		}
	}
	return Comparison{}, nil
}

// errTooSlow is the cause of a verification stopped at its bound.
var errTooSlow = errors.New("the stored hash took longer than password.verify_timeout to verify")

// outdated reports whether a stored hash is of another format than ours,
// weaker than the current parameters, or under another pepper. More memory
// or passes than today's is not weaker, nor is another lane count: lanes
// split the same memory and passes, and change nothing an attacker pays.
func (h *Hasher) outdated(s stored) bool {
	p, ok := s.(phc)
	if !ok || p.variant != FormatArgon2id {
		return true
	}
	return p.keyID != h.pepperID || p.params.Memory < h.params.Memory || p.params.Time < h.params.Time ||
		len(p.salt) < saltLen || len(p.key) < keyLen
}

// DummyHash returns a hash in the current format, parameters and pepper
// that no password matches: comparing a password with it costs what
// comparing it with a current hash of a real account costs, so a sign-in
// check for an address without an account takes the same time.
func (h *Hasher) DummyHash() string { return h.dummy }

// newDummy makes DummyHash's hash: random salt and key, so nothing matches it.
func newDummy(params config.Argon2, keyID string) string {
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	rand.Read(salt) // never fails
	rand.Read(key)
	return phc{variant: FormatArgon2id, params: params, keyID: keyID, salt: salt, key: key}.String()
}
