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
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Bounds on the cost of a stored bcrypt hash (the base-2 logarithm of its
// key-expansion rounds): every cost bcrypt itself defines, 4–31, so that any
// hash a framework produced verifies. Each step doubles the work: here cost
// 12, the default of PHP 8.4, Laravel and Rails, takes about 0.25 s and cost
// 14 about 1 s, and a verification holds a hashing slot for as long (it
// cannot be interrupted), so an account imported with a far higher cost is
// better reset than changed; the README says so. Only an operator's import
// writes such hashes.
const (
	MinBcryptCost = bcrypt.MinCost // 4
	MaxBcryptCost = bcrypt.MaxCost // 31
)

// bcryptMaxPassword is how many bytes of a password bcrypt reads.
const bcryptMaxPassword = 72

var bcryptB64 = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").
	WithPadding(base64.NoPadding).Strict()

// bcryptHash is a checked bcrypt hash, kept as stored: bcrypt compares it
// whole.
type bcryptHash string

func (s bcryptHash) String() string { return string(s) }

// matches compares in constant time (bcrypt.CompareHashAndPassword compares
// the recomputed hash with subtle.ConstantTimeCompare). bcrypt reads only the
// first 72 bytes of a password, so a longer legacy password verifies against
// the hash its system made of those 72 bytes. The x/crypto version in go.mod
// truncates silently in CompareHashAndPassword (only GenerateFromPassword
// refuses more than 72 bytes); the password is cut here anyway, so the rule
// holds whatever a later version does with longer input.
func (s bcryptHash) matches(password []byte) (bool, error) {
	err := bcrypt.CompareHashAndPassword([]byte(s), password[:min(len(password), bcryptMaxPassword)])
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("bcrypt: %w", err)
}

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
