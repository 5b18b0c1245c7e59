package hash

// Imported bcrypt hashes, as crypt(3), PHP, Ruby, Node and most frameworks
// store them (60 characters):
//
//	$2b$12$<22 characters of salt><31 characters of hash>
//
// $2a$ (the original, and what golang.org/x/crypto/bcrypt writes), $2b$
// (OpenBSD since 2014) and $2y$ (PHP's crypt_blowfish after its 2011 fix)
// compute the same function for every password this service can receive, so
// all three verify alike. $2x$ (crypt_blowfish's bug-compatible mode for
// hashes made by its broken versions) and the prefix-less $2$ are refused:
// golang.org/x/crypto does not compute them as they were made.
//
// Salt and hash use bcrypt's own base64 alphabet without padding. The 22nd
// salt character carries 4 unused bits and the 31st hash character 2 (16
// and 23 bytes in 22 and 31 characters); they must be zero, as every bcrypt
// writes them, so each hash has one spelling and a string that could never
// verify is refused as malformed rather than compared.
//
// This package never makes bcrypt hashes: bcrypt reads only the first 72
// bytes of a password, which a new hash must not do.

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/blowfish" //nolint:staticcheck // bcrypt is Blowfish's key schedule; verified only, never made

	"github.com/accountpw/accountpw/services/config"
)

// Bounds on the cost of a stored bcrypt hash (the base-2 logarithm of its
// key-expansion rounds): every cost bcrypt itself defines, 4–31, so that a
// hash imported before a lower password.max_bcrypt_cost still verifies (an
// import accepts at most that cap, see Hasher.CheckImport). Each step
// doubles the work; a verification is stopped at password.verify_timeout,
// so even cost 31 holds a slot no longer than that.
const (
	MinBcryptCost = config.MinBcryptCost // 4, bcrypt.MinCost
	MaxBcryptCost = config.MaxBcryptCost // 31, bcrypt.MaxCost
)

// bcryptMaxPassword is how many bytes of a password bcrypt reads.
const bcryptMaxPassword = 72

var bcryptB64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").
	WithPadding(base64.NoPadding).Strict()

// bcryptHash is a checked bcrypt hash, kept as stored: bcrypt compares it
// whole.
type bcryptHash string

func (s bcryptHash) String() string { return string(s) }

// matches recomputes the hash and compares it in constant time. bcrypt
// reads only the first 72 bytes of a password, so a longer legacy password
// verifies against the hash its system made of those 72 bytes (as
// golang.org/x/crypto/bcrypt's CompareHashAndPassword does too).
//
// It is bcrypt as x/crypto/bcrypt computes it, on x/crypto/blowfish, with
// one difference: the 2^cost rounds of key expansion, all of bcrypt's cost,
// stop when ctx ends, every checkEvery rounds, so a hash of any cost holds
// its slot no longer than Compare's bound. The tests check it against
// x/crypto/bcrypt for every cost from 4 to 10 and the fixed vectors.
func (s bcryptHash) matches(ctx context.Context, password []byte) (bool, error) {
	cost := s.cost()
	salt, err := decodeExact(bcryptB64, string(s[7:29])) // checked by parseBcrypt
	if err != nil {
		return false, fmt.Errorf("bcrypt salt: %w", err)
	}
	// Like every C bcrypt, x/crypto expands the key with its trailing NUL;
	// blowfish reads 72 bytes of it at most.
	n := min(len(password), bcryptMaxPassword)
	key := make([]byte, n+1)
	copy(key, password[:n])
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return false, fmt.Errorf("bcrypt: %w", err)
	}
	const checkEvery = 64 // rounds, about 4 ms here
	for i := range uint64(1) << cost {
		if i%checkEvery == 0 && ctx.Err() != nil {
			return false, context.Cause(ctx)
		}
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
	}
	text := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < len(text); i += 8 {
		for range 64 {
			c.Encrypt(text[i:i+8], text[i:i+8])
		}
	}
	// bcrypt keeps 23 of the 24 encrypted bytes.
	sum := bcryptB64.EncodeToString(text[:23])
	return subtle.ConstantTimeCompare([]byte(sum), []byte(s[29:])) == 1, nil
}

// cost is the stored cost, two digits parseBcrypt checked.
func (s bcryptHash) cost() int { return int(s[4]-'0')*10 + int(s[5]-'0') }

// parseBcrypt accepts exactly $2a$, $2b$ or $2y$, a two-digit cost within
// bounds, and 53 characters of canonical salt and hash.
func parseBcrypt(encoded string) (bcryptHash, error) {
	const size = 60 // "$2b$" + "12" + "$" + 22 + 31
	if len(encoded) != size || encoded[0] != '$' || encoded[1] != '2' || encoded[3] != '$' || encoded[6] != '$' {
		return "", errors.New("not a bcrypt hash of 60 characters")
	}
	if v := encoded[2]; v != 'a' && v != 'b' && v != 'y' {
		return "", errors.New("unsupported bcrypt version")
	}
	d1, d2 := encoded[4], encoded[5]
	if d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' {
		return "", errors.New("malformed bcrypt cost")
	}
	cost := int(d1-'0')*10 + int(d2-'0')
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return "", fmt.Errorf("bcrypt cost out of bounds (%d–%d)", MinBcryptCost, MaxBcryptCost)
	}
	// 22 and 31 characters that decode exactly are 16 and 23 bytes.
	if _, err := decodeExact(bcryptB64, encoded[7:29]); err != nil {
		return "", fmt.Errorf("bcrypt salt: %w", err)
	}
	if _, err := decodeExact(bcryptB64, encoded[29:]); err != nil {
		return "", fmt.Errorf("bcrypt hash: %w", err)
	}
	return bcryptHash(encoded), nil
}
