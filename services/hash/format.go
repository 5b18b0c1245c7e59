package hash

// Stored hashes come in the format this package makes (argon2id PHC strings)
// and in the formats teams bring when they adopt the service, which are
// verified but never made: argon2i PHC strings, bcrypt ($2a$, $2b$, $2y$) and
// Django's pbkdf2_sha256. Each format has a parser that accepts exactly its
// canonical form with every number and length in bounds, and a String method
// that gives that form back.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/accountpw/accountpw/services/config"
)

// The names Format returns.
const (
	FormatArgon2id     = "argon2id"
	FormatArgon2i      = "argon2i"
	FormatBcrypt       = "bcrypt"
	FormatPBKDF2SHA256 = "pbkdf2_sha256"
)

// Format names the format of a stored hash by its prefix: FormatArgon2id,
// FormatArgon2i, FormatBcrypt or FormatPBKDF2SHA256, or "" when it starts
// like none of them. It says nothing about the rest of the string: Check
// does, and Check accepts nothing Format does not name.
func Format(encoded string) string {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return FormatArgon2id
	case strings.HasPrefix(encoded, "$argon2i$"):
		return FormatArgon2i
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return FormatBcrypt
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return FormatPBKDF2SHA256
	}
	return ""
}

// Check returns nil only for a well-formed hash of a supported format whose
// parameters are within the bounds Verify accepts. It computes no hash, so an
// import can check every row cheaply. A pepper id in an argon2id hash is only
// checked for its shape: whether it names a configured pepper is Verify's
// question. The error never quotes the hash.
func Check(encoded string) error {
	_, err := parse(encoded)
	return err
}

// CheckImport is Check for a hash an import brings: besides Check's bounds,
// a bcrypt cost above password.max_bcrypt_cost or pbkdf2_sha256 iterations
// above password.max_pbkdf2_iterations are refused, because every later
// verification would hold a hashing slot for that long (see
// config.DefaultMaxBcryptCost); and an argon2 hash whose block (its
// memory, rounded as golang.org/x/crypto/argon2 rounds it) is bigger than
// the configured one's, because every later verification would allocate it
// outside the ranges and the memory budget (see memory.go). Parameters
// below the production floor, which only tests build, take the floor as
// that cap. The error never quotes the hash.
func (h *Hasher) CheckImport(encoded string) error {
	s, err := parse(encoded)
	if err != nil {
		return err
	}
	switch s := s.(type) {
	case bcryptHash:
		if c := s.cost(); c > h.maxBcryptCost {
			return fmt.Errorf("bcrypt cost %d is above password.max_bcrypt_cost (%d)", c, h.maxBcryptCost)
		}
	case pbkdf2Hash:
		if s.iterations > h.maxPBKDF2Iterations {
			return fmt.Errorf("pbkdf2 iterations %d are above password.max_pbkdf2_iterations (%d)", s.iterations, h.maxPBKDF2Iterations)
		}
	case phc:
		limit := h.params
		limit.Memory = max(limit.Memory, config.FloorArgon2Memory)
		if BlockBytes(s.params) > BlockBytes(limit) {
			return fmt.Errorf("argon2 memory m=%d (p=%d) is more than password.argon2_memory_kib (%d) holds", s.params.Memory, s.params.Threads, limit.Memory)
		}
	}
	return nil
}

// stored is a parsed hash of any supported format.
type stored interface {
	// String is the canonical encoding, equal to what was parsed.
	String() string
	// matches computes the hash of password with the stored parameters,
	// without a pepper, and compares it with the stored one in constant
	// time. Verify uses it for every imported format.
	// It stops with context.Cause(ctx) when ctx ends, where the format's
	// computation can be stopped.
	matches(ctx context.Context, password []byte) (bool, error)
}

// parse picks the parser by Format; an unknown prefix is an error.
func parse(encoded string) (stored, error) {
	switch Format(encoded) {
	case FormatArgon2id, FormatArgon2i:
		return parsePHC(encoded)
	case FormatBcrypt:
		return parseBcrypt(encoded)
	case FormatPBKDF2SHA256:
		return parsePBKDF2(encoded)
	}
	return nil, errors.New("unknown hash format")
}

// decodeExact decodes s and refuses every spelling of the bytes but the one
// enc writes: base64 decoders skip CR and LF even in strict mode, so a
// decoded value alone does not prove the string canonical.
func decodeExact(enc *base64.Encoding, s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err == nil && enc.EncodeToString(b) != s {
		err = errors.New("not canonical base64")
	}
	return b, err
}
