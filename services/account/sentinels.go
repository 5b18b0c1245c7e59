package account

import "github.com/accountpw/accountpw/models"

// sentinel is an outcome of the account commands: its text is what the
// command line prints, and it unwraps to the problem an admin API client
// gets, so both doors report the same outcome in their own words. Match it
// with errors.Is.
type sentinel struct {
	text    string
	problem *models.Error
}

func (e *sentinel) Error() string { return e.text }

func (e *sentinel) Unwrap() error { return e.problem }

// Outcomes of the account commands.
var (
	// ErrNoAccount is returned for an id (or address) that has no account.
	ErrNoAccount error = &sentinel{"no account with this id", &models.Error{Kind: models.KindNotFound,
		Code: "account_not_found", Message: "There is no account with this id."}}
	// ErrNoAccountForAddress is returned for an address that has no account.
	ErrNoAccountForAddress error = &sentinel{"no account with this address", &models.Error{Kind: models.KindNotFound,
		Code: "account_not_found", Message: "There is no account with this address."}}
	// ErrAccountExists is returned when another account has the address
	// (compared by lookup key).
	ErrAccountExists error = &sentinel{"an account with this address already exists", &models.Error{
		Kind: models.KindConflict, Code: codeEmailTaken, Field: memberEmail,
		Message: "Another account has this address."}}
	// ErrIDExists is returned by CreateUserWith for an id that another
	// account already has.
	ErrIDExists error = &sentinel{"an account with this id already exists", &models.Error{
		Kind: models.KindConflict, Code: "id_taken", Message: "An account with this id exists already."}}
)
