package account

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// tokenBytes is the entropy of a reset token: 256 bits, 43 base64url
// characters. At this size a fast hash is enough to store it and online
// guessing is hopeless, throttled or not.
const tokenBytes = 32

// newToken returns a fresh reset token and the hash under which it is stored.
func newToken() (plain, hash string) {
	var b [tokenBytes]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+ panics
	// rather than return an error), so there is no error path to handle.
	_, _ = rand.Read(b[:])
	plain = base64.RawURLEncoding.EncodeToString(b[:])
	return plain, hashToken(plain)
}

// newTokenSeed returns the random seed a reset email's token is derived
// from (tokenFromSeed), queued with the email.
func newTokenSeed() string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:]) // never fails; see newToken
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// tokenFromSeed derives a reset token and its stored hash from the seed
// queued with the email, under key: HMAC-SHA-256, as long and as uniform
// as a random token. Every attempt to send one email so carries the same
// link, while the database, which holds the seed and the hash, gives no
// usable token without the key, which it never holds.
func tokenFromSeed(key []byte, seed string) (plain, hash string) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("accountpw reset token v1\x00"))
	m.Write([]byte(seed))
	plain = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return plain, hashToken(plain)
}

// hashToken returns the stored form of a token: hex SHA-256.
func hashToken(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

// wellFormedToken reports whether s can be a token at all: 43 characters of
// the base64url alphabet that decode to 32 bytes. A malformed token gets the
// same 403 as an unknown one; this check only spares the database.
func wellFormedToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == tokenBytes
}
