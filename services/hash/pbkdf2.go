package hash

// Imported Django hashes, as django.contrib.auth.hashers.PBKDF2PasswordHasher
// stores them:
//
//	pbkdf2_sha256$<iterations>$<salt>$<hash>
//
// hash is the standard base64 (padded, 44 characters) of the 32-byte
// PBKDF2-HMAC-SHA256 of the password's UTF-8 bytes, with the salt's UTF-8
// bytes as the salt. Django writes the iterations in decimal and refuses a
// salt that is empty or contains '$'; its salts are ASCII letters and digits
// (12 characters in old versions, 22 since 3.1), but any text was allowed by
// the API, so any UTF-8 without '$' or control characters, up to 128 bytes,
// is accepted. Only the canonical spelling is: no leading zeros, no sign, a
// base64 hash with zero trailing bits.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/accountpw/accountpw/services/config"
)

// Bounds on the iterations of a stored pbkdf2_sha256 hash. Django's default
// was 10,000 when it adopted PBKDF2 (1.4, 2012) and has grown with every
// release since (260,000 in 3.2, 1,000,000 in 5.2), so no hash Django made
// with its defaults has fewer than 10,000; fewer means a custom or test
// setting or a tampered row, and such an account resets instead. The upper
// bound, four times Django 5.2's default, is what password.max_pbkdf2_iterations
// may be raised to; a hash stored before a lower cap still verifies, stopped
// at password.verify_timeout like any other.
const (
	MinPBKDF2Iterations = config.MinPBKDF2Iterations
	MaxPBKDF2Iterations = config.MaxPBKDF2Iterations
)

// Lengths of a Django salt and derived key.
const maxPBKDF2Salt, pbkdf2KeyLen = 128, sha256.Size

// pbkdf2Hash is a decoded pbkdf2_sha256 hash.
type pbkdf2Hash struct {
	iterations int
	salt       string
	key        []byte
}

func (s pbkdf2Hash) String() string {
	return fmt.Sprintf("%s$%d$%s$%s", FormatPBKDF2SHA256, s.iterations, s.salt, base64.StdEncoding.EncodeToString(s.key))
}

// matches recomputes the key and compares it in constant time. The key is
// one block of PBKDF2-HMAC-SHA256 (RFC 8018: 32 bytes, SHA-256's size):
// U1 = HMAC(password, salt || 1), Ui = HMAC(password, Ui-1), key = U1 ^ … ^ Un,
// computed here rather than by crypto/pbkdf2 so that it stops when ctx ends,
// every checkEvery iterations. The tests check it against crypto/pbkdf2.
func (s pbkdf2Hash) matches(ctx context.Context, password []byte) (bool, error) {
	mac := hmac.New(sha256.New, password)
	mac.Write([]byte(s.salt))
	mac.Write([]byte{0, 0, 0, 1})
	u := mac.Sum(nil)
	key := bytes.Clone(u)
	const checkEvery = 4096 // iterations, about 1 ms here
	for i := 1; i < s.iterations; i++ {
		if i%checkEvery == 0 && ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		mac.Reset()
		mac.Write(u)
		u = mac.Sum(u[:0])
		subtle.XORBytes(key, key, u)
	}
	return subtle.ConstantTimeCompare(key, s.key) == 1, nil
}

// parsePBKDF2 accepts exactly the form Django writes, with the iterations and
// lengths within bounds.
func parsePBKDF2(encoded string) (pbkdf2Hash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != FormatPBKDF2SHA256 {
		return pbkdf2Hash{}, errors.New("not a pbkdf2_sha256 hash of four fields")
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || parts[1][0] < '1' || parts[1][0] > '9' {
		return pbkdf2Hash{}, errors.New("malformed pbkdf2 iterations")
	}
	if n < MinPBKDF2Iterations || n > MaxPBKDF2Iterations {
		return pbkdf2Hash{}, fmt.Errorf("pbkdf2 iterations out of bounds (%d–%d)", MinPBKDF2Iterations, MaxPBKDF2Iterations)
	}
	salt := parts[2]
	if salt == "" || len(salt) > maxPBKDF2Salt || !utf8.ValidString(salt) || strings.IndexFunc(salt, unicode.IsControl) >= 0 {
		return pbkdf2Hash{}, fmt.Errorf("pbkdf2 salt must be 1–%d bytes of text", maxPBKDF2Salt)
	}
	key, err := decodeExact(base64.StdEncoding.Strict(), parts[3])
	if err != nil {
		return pbkdf2Hash{}, fmt.Errorf("pbkdf2 hash: %w", err)
	}
	if len(key) != pbkdf2KeyLen {
		return pbkdf2Hash{}, fmt.Errorf("pbkdf2 hash must be %d bytes", pbkdf2KeyLen)
	}
	return pbkdf2Hash{iterations: n, salt: salt, key: key}, nil
}
