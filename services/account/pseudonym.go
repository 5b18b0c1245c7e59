package account

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/accountpw/accountpw/models"
)

// Pseudonymizer turns an email address into a stable keyed pseudonym for
// logs: the same address always gives the same pseudonym under one key, so
// an operator can follow one person's requests, but the log alone does not
// reveal or confirm an address.
type Pseudonymizer struct{ key []byte }

// NewPseudonymizer returns a Pseudonymizer under key.
func NewPseudonymizer(key []byte) *Pseudonymizer { return &Pseudonymizer{key: key} }

// Email returns the pseudonym of an address, "e:" and 16 hex digits of
// HMAC-SHA-256 over its lookup key.
func (p *Pseudonymizer) Email(addr string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(models.EmailKey(addr)))
	return "e:" + hex.EncodeToString(m.Sum(nil)[:8])
}

// ID returns the pseudonym of an account id, "i:" and 16 hex digits of
// HMAC-SHA-256 over it (apart from any address's: the input is prefixed).
func (p *Pseudonymizer) ID(id string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("id:" + id))
	return "i:" + hex.EncodeToString(m.Sum(nil)[:8])
}
