package services

// Stored password hashes are PHC strings (RFC 9106 parameters, R-HASH-1..3):
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>          no pepper
//	$argon2id$v=19$m=65536,t=3,p=4,k=<id>$<salt>$<key>   peppered
//
// salt and key are unpadded standard base64 (RawStdEncoding). New hashes have
// a 16-byte random salt and a 32-byte key. With a pepper the key is
// HMAC-SHA-256(pepper, argon2id(password, salt, m, t, p, 32)) and k names the
// pepper, so keys can be rotated (R-HASH-4); k is 1–32 of [A-Za-z0-9_-].
// Without k the key is the raw argon2id output, whatever its length (16–64),
// which lets hashes made by other argon2id libraries verify.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on parameters read back from a stored hash, checked before any
	// work is done so a tampered row cannot make Verify allocate 4 GiB.
	maxMemory, maxTime, maxThreads   = 1 << 20, 16, 64
	minSalt, maxSalt, minKey, maxKey = 8, 64, 16, 64
	minPepper                        = 16
)

var (
	// productionParams are RFC 9106's second recommended option (R-HASH-1),
	// used when HasherConfig.Params is zero.
	productionParams = HashParams{Memory: 64 * 1024, Time: 3, Threads: 4}
	// floorParams is the OWASP/ASVS minimum: 19 MiB, 2 passes, 1 lane.
	floorParams = HashParams{Memory: 19456, Time: 2, Threads: 1}
	b64         = base64.RawStdEncoding.Strict()
)

// HashParams are argon2id cost parameters.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// valid reports whether p is within the bounds Verify accepts; RFC 9106
// requires at least 8 KiB of memory per lane.
func (p HashParams) valid() bool {
	return p.Memory <= maxMemory && p.Memory >= 8*uint32(p.Threads) &&
		p.Time >= 1 && p.Time <= maxTime && p.Threads >= 1 && p.Threads <= maxThreads
}

// HasherConfig configures a Hasher.
type HasherConfig struct {
	// Params are the cost of new hashes; zero means m=65536, t=3, p=4.
	Params HashParams
	// AllowWeak permits Params below the OWASP floor (m=19456, t=2, p=1).
	// Only tests set it.
	AllowWeak bool
	// Slots bounds concurrent hash computations (memory = Slots × Memory);
	// zero means runtime.GOMAXPROCS(0).
	Slots int
	// Wait is how long a caller waits for a free slot before ErrHashBusy;
	// zero means 100ms.
	Wait time.Duration
	// Pepper, when set, is the current HMAC-SHA-256 key (at least 16 bytes)
	// applied to the argon2id output; PepperID names it in the stored hash.
	Pepper   []byte
	PepperID string
	// OldPeppers are retired keys by id: hashes under them still verify and
	// are reported as needing a rehash.
	OldPeppers map[string][]byte
}

// Hasher hashes and verifies passwords with argon2id in PHC format. It is
// safe for concurrent use.
type Hasher struct {
	cfg     HasherConfig
	peppers map[string][]byte // current and old, by id
	slots   slots
	// held, when set by a test, runs while a slot is held.
	held func()
}

// NewHasher validates cfg, fills in its defaults and returns a Hasher.
func NewHasher(cfg HasherConfig) (*Hasher, error) {
	if cfg.Params == (HashParams{}) {
		cfg.Params = productionParams
	}
	p := cfg.Params
	if !p.valid() {
		return nil, fmt.Errorf("argon2 params %+v out of bounds", p)
	}
	if !cfg.AllowWeak && (p.Memory < floorParams.Memory || p.Time < floorParams.Time) {
		return nil, fmt.Errorf("argon2 params %+v below the OWASP floor m=19456,t=2,p=1", p)
	}
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.GOMAXPROCS(0)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 100 * time.Millisecond
	}
	if (len(cfg.Pepper) == 0) != (cfg.PepperID == "") {
		return nil, errors.New("argon2 pepper and pepper id must be set together")
	}
	peppers := map[string][]byte{cfg.PepperID: cfg.Pepper}
	for id, key := range cfg.OldPeppers {
		if _, dup := peppers[id]; dup {
			return nil, fmt.Errorf("argon2 pepper id %q given twice", id)
		}
		peppers[id] = key
	}
	delete(peppers, "")
	for id, key := range peppers {
		if !validKeyID(id) || len(key) < minPepper {
			return nil, fmt.Errorf("argon2 pepper %q: id must be 1-32 of [A-Za-z0-9_-] and key at least %d bytes", id, minPepper)
		}
	}
	return &Hasher{cfg: cfg, peppers: peppers, slots: newSlots(cfg.Slots)}, nil
}

// Hash returns the PHC string of a normalised password. Errors:
// models.ErrHashBusy when no slot frees up within the wait, ctx errors.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt) // never fails; crashes the process if the OS cannot supply randomness
	key, err := h.derive(ctx, password, salt, h.cfg.Params, keyLen, h.cfg.Pepper)
	if err != nil {
		return "", err
	}
	return phc{h.cfg.Params, h.cfg.PepperID, salt, key}.String(), nil
}

// Verify reports whether password matches encoded, and whether encoded should
// be replaced because its parameters, lengths or pepper differ from the
// current ones. Errors: models.ErrHashBusy, ctx errors, and a wrapped error
// for a malformed or out-of-bounds stored hash or an unknown pepper id.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, rehash bool, err error) {
	s, err := parsePHC(encoded)
	if err != nil {
		return false, false, fmt.Errorf("verify password: stored hash: %w", err)
	}
	var pepper []byte
	if s.keyID != "" {
		if pepper = h.peppers[s.keyID]; pepper == nil {
			return false, false, fmt.Errorf("verify password: stored hash: unknown pepper id %q", s.keyID)
		}
	}
	key, err := h.derive(ctx, password, s.salt, s.params, uint32(len(s.key)), pepper)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, s.key) != 1 {
		return false, false, nil
	}
	rehash = s.params != h.cfg.Params || s.keyID != h.cfg.PepperID ||
		len(s.salt) != saltLen || len(s.key) != keyLen
	return true, rehash, nil
}

// derive computes the stored key inside a slot, so at most Slots × Memory is
// ever allocated by hashing (R-HASH-6).
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p HashParams, n uint32, pepper []byte) ([]byte, error) {
	release, err := h.slots.acquire(ctx, h.cfg.Wait)
	if err != nil {
		return nil, err
	}
	defer release()
	if h.held != nil {
		h.held()
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, n)
	if pepper == nil {
		return key, nil
	}
	mac := hmac.New(sha256.New, pepper)
	mac.Write(key)
	return mac.Sum(nil), nil
}

// phc is a decoded stored hash.
type phc struct {
	params    HashParams
	keyID     string
	salt, key []byte
}

func (s phc) String() string {
	k := ""
	if s.keyID != "" {
		k = ",k=" + s.keyID
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d%s$%s$%s", argon2.Version,
		s.params.Memory, s.params.Time, s.params.Threads, k, b64.EncodeToString(s.salt), b64.EncodeToString(s.key))
}

// parsePHC accepts exactly the canonical form String produces, with every
// number and length within bounds; anything else is an error.
func parsePHC(encoded string) (phc, error) {
	var s phc
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return s, errors.New("not an argon2id PHC string")
	}
	if parts[2] != "v=19" {
		return s, errors.New("unsupported argon2 version")
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 && len(fields) != 4 {
		return s, errors.New("malformed parameters")
	}
	var nums [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		n, err := strconv.ParseUint(v, 10, []int{32, 32, 8}[i]) // p is a uint8
		if !ok || err != nil || v[0] == '0' {
			return s, errors.New("malformed parameters")
		}
		nums[i] = uint32(n)
	}
	s.params = HashParams{Memory: nums[0], Time: nums[1], Threads: uint8(nums[2])}
	if !s.params.valid() {
		return s, errors.New("parameters out of bounds")
	}
	if len(fields) == 4 {
		id, ok := strings.CutPrefix(fields[3], "k=")
		if !ok || !validKeyID(id) {
			return s, errors.New("malformed pepper id")
		}
		s.keyID = id
	}
	var err1, err2 error
	s.salt, err1 = b64.DecodeString(parts[4])
	s.key, err2 = b64.DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("salt or key: %w", err)
	}
	if len(s.salt) < minSalt || len(s.salt) > maxSalt || len(s.key) < minKey || len(s.key) > maxKey ||
		s.keyID != "" && len(s.key) != sha256.Size {
		return s, errors.New("salt or key length out of bounds")
	}
	return s, nil
}

func validKeyID(id string) bool {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	return id != "" && len(id) <= 32 && strings.Trim(id, chars) == ""
}
