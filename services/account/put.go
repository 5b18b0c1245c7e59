package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// Writing one account. The command line (users create, users set-email)
// and the admin API (PUT /admin/v1/accounts/{id}) write an account as a
// one-line import: the same checks (checkLine), the same decision against
// the database (decide) and the same writes and events (importer.write), so
// the rules of an import line are the rules of every door.

// NewUser is an account to create.
type NewUser struct {
	// ID is the adopting application's id for the account, checked by
	// models.ValidateUserID; empty means a generated UUID.
	ID       string
	Email    string
	Password string
	// Locale is the language of the account's emails, a BCP 47 tag of a
	// supported language ("de", "fr-CA"); empty means the language of each
	// request, else mail.default_locale.
	Locale string
}

// CreateUser creates an account with the given address and password, a
// generated id and no locale; see CreateUserWith.
func (p *Passwords) CreateUser(ctx context.Context, email, password string) (models.User, error) {
	return p.CreateUserWith(ctx, NewUser{Email: email, Password: password})
}

// CreateUserWith creates the account n, its password under the same policy
// as a reset. Errors: models.ErrInvalidUserID, models.ErrInvalidEmail,
// models.ErrUnsupportedLocale, models.ErrPassword*, models.ErrHashBusy,
// ErrIDExists, ErrAccountExists, a wrapped database error.
func (p *Passwords) CreateUserWith(ctx context.Context, n NewUser) (models.User, error) {
	id := n.ID
	if id == "" {
		gen, err := uuid.NewRandomFromReader(rand.Reader)
		if err != nil {
			return models.User{}, fmt.Errorf("create user: %w", err)
		}
		id = gen.String()
	}
	values := map[string]string{memberID: id, memberEmail: n.Email, memberPassword: n.Password}
	if n.Locale != "" {
		values[memberLocale] = n.Locale
	}
	u, _, err := p.putValues(ctx, values, onlyNew, "new")
	return u, err
}

// SetEmail moves the account id to the address email: the next reset email
// goes there, and every outstanding reset token ends in the same
// transaction (a link mailed to the old address stops working), with the
// account.email_changed event. The password and sessions stay. Errors:
// models.ErrInvalidUserID, models.ErrInvalidEmail, ErrNoAccount,
// ErrAccountExists (another account has the address), a wrapped database
// error.
func (p *Passwords) SetEmail(ctx context.Context, id, email string) error {
	_, _, err := p.putValues(ctx, map[string]string{memberID: id, memberEmail: email}, onlyExisting, "")
	return err
}

// PutAccount creates the account id or updates it from body, a JSON object
// with the members of an import line but the id (which is id): email, and
// optionally locale, password_hash and password_changed_at, or instead of a
// hash a password in clear, which the policy checks and which is hashed
// here (set now). The import rules apply, as to one line: a hash older
// than the stored password is not taken (the note says so), a moved
// address ends the reset links, a replaced hash queues password.changed
// (method import), and the account.* events are queued as webhook.events
// asks. Errors: a problems error (as a models.Error: invalid_body,
// invalid_user_id, invalid_email, invalid_locale, invalid_password_hash,
// invalid_password_changed_at), models.ErrPassword* (for the member
// password), models.ErrHashBusy, ErrAccountExists, a wrapped database
// error.
func (p *Passwords) PutAccount(ctx context.Context, id string, body []byte) (models.AccountPut, error) {
	if err := models.ValidateUserID(id); err != nil {
		return models.AccountPut{}, invalidID(err)
	}
	values, err := decodeFlatObject(body, putMembers)
	if err != nil {
		return models.AccountPut{}, err
	}
	values[memberID] = id
	_, put, err := p.putValues(ctx, values, anyExisting, memberPassword)
	return put, err
}

// putValues checks an account's members, hashes its password in clear if
// it has one (policy errors name passwordField), and writes it as a
// one-line import.
func (p *Passwords) putValues(ctx context.Context, values map[string]string, exists existence,
	passwordField string) (models.User, models.AccountPut, error) {
	l, err := checkLine(0, values, p.Now(), p.Hasher.CheckImport)
	if err != nil {
		return models.User{}, models.AccountPut{}, err
	}
	l.exists = exists
	if l.hasPassword {
		pw := models.NormalizePassword(l.password)
		if err := p.Policy.Check(ctx, pw, l.email); err != nil {
			return models.User{}, models.AccountPut{}, withField(err, passwordField)
		}
		// Hash outside the transaction: argon2 is slow on purpose.
		if l.hash, err = p.Hasher.Hash(ctx, pw); err != nil {
			return models.User{}, models.AccountPut{}, err
		}
	}
	return p.putLine(ctx, l)
}

// putLine decides and writes one line in a transaction of its own, tried
// again when a concurrent writer took its id or address meanwhile.
func (p *Passwords) putLine(ctx context.Context, l importLine) (models.User, models.AccountPut, error) {
	im := &importer{p: p, view: newImportView()}
	var ld lineDecision
	var err error
	for range importAttempts {
		now := p.Now()
		err = p.DB.InTx(ctx, func(tx *store.Tx) error {
			ds, plan, err := im.decideBatch(ctx, tx.Queries, tx, []importLine{l}, now)
			if err != nil {
				return err
			}
			if ld = ds[0]; ld.err != nil {
				return nil // nothing to write; the line's own error is returned below
			}
			return im.write(ctx, tx, plan, now)
		})
		if !errors.Is(err, store.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return models.User{}, models.AccountPut{}, fmt.Errorf("write account: %w", err)
	}
	if errors.Is(ld.err, ErrAccountExists) {
		// The import's per-line wording names another id; one account's
		// door says it plainly.
		return models.User{}, models.AccountPut{}, ErrAccountExists
	}
	if ld.err != nil {
		return models.User{}, models.AccountPut{}, ld.err
	}
	put := models.AccountPut{Account: infoOf(ld.d.user), Created: ld.d.outcome == lineImported}
	if ld.d.kept {
		put.NoteCode, put.Note = CodeHashNotTaken, hashNotTaken
	}
	return ld.d.user, put, nil
}

// withField is err, a policy refusal, naming field as the member at fault
// (the public resource's is "new"); any other error as it is.
func withField(err error, field string) error {
	var e *models.Error
	if field == "" || !errors.As(err, &e) || e.Kind != models.KindPolicy {
		return err
	}
	c := *e
	c.Field = field
	return &c
}
