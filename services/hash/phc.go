package hash

// Stored password hashes are PHC strings with RFC 9106 parameters:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>          no pepper
//	$argon2id$v=19$m=65536,t=3,p=4,k=<id>$<salt>$<key>   peppered
//	$argon2i$v=19$m=65536,t=4,p=1$<salt>$<key>           imported
//
// The three parameters may come in any order: the reference implementation
// and argon2-cffi write m,t,p, npm's argon2 (0.40 and later) writes m,p,t.
// A parsed hash keeps the order it was written in, so that each hash still
// has exactly one spelling; new hashes are written m,t,p.
//
// salt and key are unpadded standard base64 (RawStdEncoding). New hashes have
// a 16-byte random salt and a 32-byte key. With a pepper the key is
// HMAC-SHA-256(pepper, argon2id(password, salt, m, t, p, 32)) and k names the
// pepper, so peppers can be rotated; k is 1–32 of [A-Za-z0-9_-]. Without k
// the key is the raw argon2id output, whatever its length (16–64), which lets
// hashes made by other argon2id libraries verify.
//
// argon2i hashes are only imported (PHP's PASSWORD_ARGON2I, the reference
// argon2 tool and libraries of its time made them); they never carry a
// pepper and are bounded like argon2id. Only version 19 is accepted: it is
// the only one golang.org/x/crypto/argon2 computes, and the older version 16
// (strings without v= or with v=16) is refused as out of reach.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/accountpw/accountpw/services/config"
)

// Bounds on the salt and key read back from a stored hash.
const minSalt, maxSalt, minKey, maxKey = 8, 64, 16, 64

var b64 = base64.RawStdEncoding.Strict()

// phc is a decoded argon2 hash.
type phc struct {
	variant   string // FormatArgon2id or FormatArgon2i
	params    config.Argon2
	order     string // the parameters' names in the order written; "" means "mtp"
	keyID     string
	salt, key []byte
}

// canonicalOrder is the order this package writes: RFC 9106's m, t, p.
const canonicalOrder = "mtp"

func (s phc) String() string {
	order := s.order
	if order == "" {
		order = canonicalOrder
	}
	params := make([]string, 0, 4)
	for _, name := range order {
		switch name {
		case 'm':
			params = append(params, fmt.Sprintf("m=%d", s.params.Memory))
		case 't':
			params = append(params, fmt.Sprintf("t=%d", s.params.Time))
		case 'p':
			params = append(params, fmt.Sprintf("p=%d", s.params.Threads))
		}
	}
	if s.keyID != "" {
		params = append(params, "k="+s.keyID)
	}
	return fmt.Sprintf("$%s$v=%d$%s$%s$%s", s.variant, argon2.Version, strings.Join(params, ","),
		b64.EncodeToString(s.salt), b64.EncodeToString(s.key))
}

// matches verifies an unpeppered hash of either variant.
// golang.org/x/crypto/argon2 cannot be stopped: ctx is not read, and an
// argon2 hash is bounded by its parameters' bounds instead.
func (s phc) matches(_ context.Context, password []byte) (bool, error) {
	return s.matchesWith(password, nil)
}

// matchesWith verifies the hash under pepper (nil for none): the stored key
// is then HMAC-SHA-256(pepper, argon2id output).
func (s phc) matchesWith(password, pepper []byte) (bool, error) {
	kdf := argon2.IDKey
	if s.variant == FormatArgon2i {
		kdf = argon2.Key
	}
	key := kdf(password, s.salt, s.params.Time, s.params.Memory, s.params.Threads, uint32(len(s.key)))
	if pepper != nil {
		key = peppered(key, pepper)
	}
	return subtle.ConstantTimeCompare(key, s.key) == 1, nil
}

// parsePHC accepts exactly the canonical form String produces, with every
// number and length within bounds; anything else is an error.
func parsePHC(encoded string) (phc, error) {
	var s phc
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || (parts[1] != FormatArgon2id && parts[1] != FormatArgon2i) {
		return s, errors.New("not an argon2id or argon2i PHC string")
	}
	s.variant = parts[1]
	if parts[2] != "v=19" {
		return s, errors.New("unsupported argon2 version")
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 && len(fields) != 4 {
		return s, errors.New("malformed parameters")
	}
	var nums [3]uint32 // m, t, p
	var order [3]byte
	for i := range order {
		name, v, ok := strings.Cut(fields[i], "=")
		at := strings.Index(canonicalOrder, name)
		if !ok || len(name) != 1 || at < 0 || nums[at] != 0 || v == "" || v[0] == '0' {
			return s, errors.New("malformed parameters")
		}
		n, err := strconv.ParseUint(v, 10, []int{32, 32, 8}[at]) // p is a uint8
		if err != nil {
			return s, errors.New("malformed parameters")
		}
		nums[at], order[i] = uint32(n), name[0]
	}
	s.params = config.Argon2{Memory: nums[0], Time: nums[1], Threads: uint8(nums[2])}
	if string(order[:]) != canonicalOrder {
		s.order = string(order[:])
	}
	if err := s.params.CheckBounds(); err != nil {
		return s, errors.New("parameters out of bounds")
	}
	if len(fields) == 4 {
		id, ok := strings.CutPrefix(fields[3], "k=")
		if s.variant != FormatArgon2id {
			return s, errors.New("a pepper id is only valid in an argon2id hash")
		}
		if !ok || !config.ValidPepperID(id) {
			return s, errors.New("malformed pepper id")
		}
		s.keyID = id
	}
	var err1, err2 error
	s.salt, err1 = decodeExact(b64, parts[4])
	s.key, err2 = decodeExact(b64, parts[5])
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("salt or key: %w", err)
	}
	if len(s.salt) < minSalt || len(s.salt) > maxSalt || len(s.key) < minKey || len(s.key) > maxKey ||
		s.keyID != "" && len(s.key) != sha256.Size {
		return s, errors.New("salt or key length out of bounds")
	}
	return s, nil
}
