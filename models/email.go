package models

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on an address, from RFC 5321 §4.5.3.1 as OWASP's Input Validation
// cheat sheet applies them.
const (
	maxEmailLength = 254
	maxLocalLength = 64
)

// ValidateEmail applies the syntax rules to a submitted address: exactly one
// "@", a local part of 1–64 bytes without control, space, quote or backslash
// characters, a domain of ASCII letters, digits, "-" and "." in non-empty
// labels, and at most 254 bytes in all. It returns ErrInvalidEmail or nil.
//
// The rules are the same for every address, known or not, so the answer says
// nothing about accounts.
func ValidateEmail(s string) error {
	if len(s) > maxEmailLength || !utf8.ValidString(s) || strings.Count(s, "@") != 1 {
		return ErrInvalidEmail
	}
	local, domain, _ := strings.Cut(s, "@")
	if local == "" || len(local) > maxLocalLength || domain == "" {
		return ErrInvalidEmail
	}
	for _, r := range local {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '"' || r == '\\' || r == '`' ||
			r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == ':' ||
			r == '[' || r == ']' || r == utf8.RuneError {
			return ErrInvalidEmail
		}
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return ErrInvalidEmail
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return ErrInvalidEmail
			}
		}
	}
	return nil
}

// EmailKey is the lookup form of a valid address: the domain lower-cased and
// the local part ASCII-lower-cased. There is deliberately no Unicode case
// folding or normalisation, so "mıke@" (dotless i) or a fullwidth "ｍike@"
// never match "mike@" (the 2016 GitHub reset bug); mail only ever goes to the
// address stored on the account, never to the submitted string.
func EmailKey(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
