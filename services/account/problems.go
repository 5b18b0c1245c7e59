package account

import (
	"errors"
	"strings"

	"github.com/accountpw/accountpw/models"
)

// Stable codes of what can be wrong with an account as the adopting
// application sends it (an import line, the admin API's PUT body). The
// import reports them per line; the admin API answers the first one as a
// problem (400, or 409 for codeEmailTaken).
const (
	codeInvalidBody        = "invalid_body"
	codeInvalidUserID      = "invalid_user_id"
	codeInvalidEmail       = "invalid_email" // models.ErrInvalidEmail's
	codeInvalidPasswordHsh = "invalid_password_hash"
	codeInvalidLocale      = "invalid_locale"
	codeInvalidChangedAt   = "invalid_password_changed_at"
	codeEmailTaken         = "email_taken"
)

// problem is one thing wrong with an account: the member it concerns, its
// stable code, and a sentence that never quotes a value of the line (an
// address or a hash), only member names this service defines. cause, when
// set, is the sentinel a Go caller matches with errors.Is.
type problem struct {
	field, code, text string
	cause             error
}

// problems are everything wrong with one account, in the order found. As an
// error its text is every sentence, joined by "; ", and it unwraps to a
// *models.Error with the first problem's code and field and that text (what
// a client is told), and to each problem's cause.
type problems []problem

func (ps problems) Error() string {
	texts := make([]string, len(ps))
	for i, p := range ps {
		texts[i] = p.text
	}
	return strings.Join(texts, "; ")
}

func (ps problems) Unwrap() []error {
	if len(ps) == 0 {
		return nil
	}
	kind := models.KindInvalid
	if ps[0].code == codeEmailTaken {
		kind = models.KindConflict
	}
	out := []error{&models.Error{Kind: kind, Code: ps[0].code, Field: ps[0].field, Message: ps.Error()}}
	for _, p := range ps {
		if p.cause != nil {
			out = append(out, p.cause)
		}
	}
	return out
}

// code is the first problem's code.
func (ps problems) code() string {
	if len(ps) == 0 {
		return ""
	}
	return ps[0].code
}

// codeOfLine is the stable code of a line's error: a problems' first code,
// else invalid_body (a line that could not be read or decoded at all).
func codeOfLine(err error) string {
	var ps problems
	if errors.As(err, &ps) {
		return ps.code()
	}
	return codeInvalidBody
}

// bodyProblem is a problems of one invalid_body sentence.
func bodyProblem(text string) problems {
	return problems{{code: codeInvalidBody, text: text}}
}
