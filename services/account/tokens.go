package account

import (
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
