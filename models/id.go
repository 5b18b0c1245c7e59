package models

import "errors"

// MaxUserIDLength is the longest account id: long enough for any id an
// adopting application already uses (UUIDs, ULIDs, numbers, "tenant:42",
// an address-like "user@realm"), short enough to index and to log.
const MaxUserIDLength = 128

// ErrInvalidUserID is returned by ValidateUserID. It never quotes the id,
// which may be anything a caller sent.
var ErrInvalidUserID = errors.New("an account id is 1–128 characters of A–Z, a–z, 0–9 and . _ : @ -")

// ValidateUserID applies the one rule for account ids, wherever an id comes
// from: the command line, an import file, or the sub claim of a bearer
// token. An id is 1–128 characters of [A-Za-z0-9._:@-]: the characters
// applications use in ids, and none that need quoting in a URL path, a log
// line, a header or a shell (no space, slash, quote, percent or control
// character). It is matched exactly: no case folding, no trimming. It
// returns ErrInvalidUserID or nil.
func ValidateUserID(id string) error {
	if id == "" || len(id) > MaxUserIDLength {
		return ErrInvalidUserID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '@' || c == '-') {
			return ErrInvalidUserID
		}
	}
	return nil
}

// MinAdminKeyLength is the shortest admin API key accepted, in bytes: 256
// bits of a random key, beyond any guessing, so the admin API needs no
// limit on wrong keys.
const MinAdminKeyLength = 32
