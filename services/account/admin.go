package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/store"
)

// The operator's commands for the adopting application's own account
// lifecycle: show an account, move it to another address, delete it.

// ErrNoAccount is returned by the operator commands for an id that has no
// account.
var ErrNoAccount = errors.New("no account with this id")

// AccountInfo is what an operator is shown of an account: never its hash.
type AccountInfo struct {
	ID                string    `json:"id"`
	Email             string    `json:"email"`
	Locale            string    `json:"locale"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
	// HashFormat names the stored hash's format (hash.Format): argon2id,
	// argon2i, bcrypt or pbkdf2_sha256; "none" for an account without a
	// password, "unknown" for a hash no format claims.
	HashFormat string `json:"hash_format"`
}

// Account describes the account id. Errors: models.ErrInvalidUserID,
// ErrNoAccount, a wrapped database error.
func (p *Passwords) Account(ctx context.Context, id string) (AccountInfo, error) {
	if err := models.ValidateUserID(id); err != nil {
		return AccountInfo{}, err
	}
	u, err := p.DB.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return AccountInfo{}, ErrNoAccount
	}
	if err != nil {
		return AccountInfo{}, fmt.Errorf("show account: %w", err)
	}
	format := hash.Format(u.PasswordHash)
	switch {
	case u.PasswordHash == "":
		format = "none"
	case format == "":
		format = "unknown"
	}
	return AccountInfo{ID: u.ID, Email: u.Email, Locale: u.Locale, CreatedAt: u.CreatedAt.UTC(),
		PasswordChangedAt: u.PasswordChangedAt.UTC(), HashFormat: format}, nil
}

// SetEmail moves the account id to the address email: the next reset email
// goes there, and every outstanding reset token ends in the same
// transaction (a link mailed to the old address stops working). The
// password and sessions stay. Errors: models.ErrInvalidUserID,
// models.ErrInvalidEmail, ErrNoAccount, ErrAccountExists (another account
// has the address), a wrapped database error.
func (p *Passwords) SetEmail(ctx context.Context, id, email string) error {
	if err := models.ValidateUserID(id); err != nil {
		return err
	}
	if err := models.ValidateEmail(email); err != nil {
		return err
	}
	err := p.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetEmail(ctx, id, email, models.EmailKey(email), p.Now()); err != nil {
			return err
		}
		return tx.DeleteUnusedTokens(ctx, id)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNoAccount
	case errors.Is(err, store.ErrDuplicate):
		return ErrAccountExists
	case err != nil:
		return fmt.Errorf("set email: %w", err)
	}
	return nil
}

// DeleteUser removes the account id and its reset tokens. Emails already
// queued for it are not sent: the composer finds no account and the worker
// drops them (queue.ErrNoRecipient). Errors: models.ErrInvalidUserID,
// ErrNoAccount, a wrapped database error.
func (p *Passwords) DeleteUser(ctx context.Context, id string) error {
	if err := models.ValidateUserID(id); err != nil {
		return err
	}
	err := p.DB.DeleteUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoAccount
	}
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}
