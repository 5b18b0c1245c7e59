package models

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Length limits of a password, in Unicode code points after NFKC (NIST SP
// 800-63B-4 §3.1.1.2: 15 for single-factor passwords; ASVS 4.0.3 2.1.2 denies
// more than 128).
const (
	MinPasswordLength = 15
	MaxPasswordLength = 128
)

// Policy errors. Each is a 422 with a stable code and a sentence of guidance;
// none echoes the password.
var (
	ErrPasswordTooShort = &Error{Kind: KindPolicy, Code: "password_too_short", Field: "new",
		Message: "The new password must have at least 15 characters. A few unrelated words make a long password that is easy to remember."}
	ErrPasswordTooLong = &Error{Kind: KindPolicy, Code: "password_too_long", Field: "new",
		Message: "The new password must have at most 128 characters."}
	ErrPasswordInvalidCharacter = &Error{Kind: KindPolicy, Code: "password_invalid_character", Field: "new",
		Message: "The new password contains a control character (such as a line break or NUL) that cannot be typed reliably. Remove it."}
	ErrPasswordBlocklisted = &Error{Kind: KindPolicy, Code: "password_blocklisted", Field: "new",
		Message: "This password is on a list of commonly used passwords. Use a few unrelated words or a password manager."}
	ErrPasswordPredictable = &Error{Kind: KindPolicy, Code: "password_predictable", Field: "new",
		Message: "This password is too easy to guess: it is built from repetition, sequences, keyboard patterns, dates or common words. Use a few unrelated words or a password manager."}
	ErrPasswordContext = &Error{Kind: KindPolicy, Code: "password_context", Field: "new",
		Message: "The new password must not be built from your email address or the name of this service. Use a few unrelated words or a password manager."}
	ErrPasswordBreached = &Error{Kind: KindPolicy, Code: "password_breached", Field: "new",
		Message: "This password has appeared in a data breach. Choose a different one, for example with a password manager."}
)

// NormalizePassword returns the NFKC form of a password. It is the only
// transformation ever applied: no trimming, case folding or space collapsing
// (ASVS 5.0 6.2.8). Setting and verifying a password both use it, so the same
// password typed on different keyboards verifies.
func NormalizePassword(s string) string { return norm.NFKC.String(s) }

// CheckPasswordShape applies the rules that need no context to a normalised
// password: 15–128 code points and no C0 or C1 control character. Control
// characters are refused rather than accepted because they cannot be typed
// reliably and NUL invites truncation bugs in other systems.
func CheckPasswordShape(normalized string) error {
	for _, r := range normalized {
		if unicode.IsControl(r) {
			return ErrPasswordInvalidCharacter
		}
	}
	switch n := utf8.RuneCountInString(normalized); {
	case n < MinPasswordLength:
		return ErrPasswordTooShort
	case n > MaxPasswordLength:
		return ErrPasswordTooLong
	}
	return nil
}
