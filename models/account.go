package models

import "time"

// The shapes the operator's doors (the command line and the admin API) show
// of accounts and of what was done to them. Their JSON is a public
// contract: the admin API answers it and `users show` prints it.

// AccountInfo is what is shown of an account: never its hash.
type AccountInfo struct {
	ID                string    `json:"id"`
	Email             string    `json:"email"`
	Locale            string    `json:"locale"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
	// HashFormat names the stored hash's format: argon2id, argon2i, bcrypt
	// or pbkdf2_sha256; "none" for an account without a password, "unknown"
	// for a hash no format claims.
	HashFormat string `json:"hash_format"`
}

// AccountPage is one page of a listing of accounts. NextAfter is the cursor
// of the next page (the last id of this one), "" on the last page.
type AccountPage struct {
	Accounts  []AccountInfo `json:"accounts"`
	NextAfter string        `json:"next_after,omitempty"`
}

// AccountPut is what writing one account did: the account afterwards,
// whether it was created, and, when the account was written without the
// hash that was sent (the stored password is newer), a note saying so.
type AccountPut struct {
	Account AccountInfo
	Created bool
	// NoteCode and Note explain a write that did less than was sent; empty
	// otherwise.
	NoteCode, Note string
}

// ImportSummary counts the lines of an import by what they did.
type ImportSummary struct {
	Imported  int `json:"imported"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Errors    int `json:"errors"`
}

// Lines is the number of account lines counted (blank lines are not).
func (s ImportSummary) Lines() int { return s.Imported + s.Updated + s.Unchanged + s.Errors }

// ImportResult is what one line of an import did. Outcome is imported,
// updated, unchanged or error; Code and Detail say why for an error (a
// stable code and a sentence that quotes no value of the line), and for a
// line applied without its hash.
type ImportResult struct {
	Line    int    `json:"line"`
	ID      string `json:"id,omitempty"`
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// SignIn is the adopting application's question at sign-in: does this
// password belong to the account with this id, or with this address?
// Exactly one of ID and Email is set. ClientIP, when set, is the address
// of the person signing in, for the per-client failure limit.
type SignIn struct {
	ID, Email, Password, ClientIP string
}

// SignInResult is the answer. ID and PasswordChangedAt are set only when
// Valid: a wrong password and an unknown account are the same answer.
type SignInResult struct {
	Valid             bool      `json:"valid"`
	ID                string    `json:"id,omitempty"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
}

// ResetLink is a reset link handed to the adopting application instead of
// being emailed, and when it stops working.
type ResetLink struct {
	Link      string    `json:"link"`
	ExpiresAt time.Time `json:"expires_at"`
}
