package mail

import (
	"crypto/rand"
	"encoding/base32"
	"strings"

	"golang.org/x/net/idna"
)

// messageIDBytes is the randomness of a Message-ID: 160 bits, so that no two
// messages ever share one, across databases and deployments. Mail systems
// may drop a message whose Message-ID they have seen before, so an id built
// from something that repeats (a job number restarts with every database) is
// not good enough.
const messageIDBytes = 20

var messageIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newMessageID returns a fresh Message-ID, without its angle brackets: 32
// base32 characters at domain, the sender's domain (RFC 5322 §3.6.4).
func newMessageID(domain string) string {
	var b [messageIDBytes]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+ panics
	// rather than return an error).
	_, _ = rand.Read(b[:])
	return strings.ToLower(messageIDEncoding.EncodeToString(b[:])) + "@" + domain
}

// messageIDDomain is the right-hand side of Message-IDs for the sender
// address from: its domain in ASCII (an internationalised domain in
// punycode), or "localhost" when it has none usable, so a header never
// carries characters RFC 5322 does not allow there.
func messageIDDomain(from string) string {
	domain := from[strings.LastIndex(from, "@")+1:]
	ascii, err := idna.Lookup.ToASCII(strings.Trim(domain, "[]"))
	if err != nil || ascii == "" || strings.ContainsFunc(ascii, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}) {
		return "localhost"
	}
	return ascii
}
