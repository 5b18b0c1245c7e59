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

// ErrAccountExists is returned by CreateUser for an address that already
// has an account (compared by lookup key).
var ErrAccountExists = errors.New("an account with this address already exists")

// ErrIDExists is returned by CreateUserWith for an id that another account
// already has.
var ErrIDExists = errors.New("an account with this id already exists")

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
// as a reset. It is an operator command, not an API. Errors:
// models.ErrInvalidUserID, models.ErrInvalidEmail, models.ErrUnsupportedLocale
// (wrapped: the locale is not a supported language), models.ErrPassword*,
// ErrIDExists, ErrAccountExists, a wrapped database error.
func (p *Passwords) CreateUserWith(ctx context.Context, n NewUser) (models.User, error) {
	email, password := n.Email, n.Password
	if n.ID != "" {
		if err := models.ValidateUserID(n.ID); err != nil {
			return models.User{}, err
		}
	}
	if err := models.ValidateEmail(email); err != nil {
		return models.User{}, err
	}
	locale, err := models.Languages.ParseLocale(n.Locale)
	if err != nil {
		return models.User{}, err
	}
	pw := models.NormalizePassword(password)
	if err := p.Policy.Check(ctx, pw, email); err != nil {
		return models.User{}, err
	}
	phc, err := p.Hasher.Hash(ctx, pw)
	if err != nil {
		return models.User{}, err
	}
	id := n.ID
	if id == "" {
		gen, err := uuid.NewRandomFromReader(rand.Reader)
		if err != nil {
			return models.User{}, fmt.Errorf("create user: %w", err)
		}
		id = gen.String()
	}
	now := p.Now()
	u := models.User{ID: id, Email: email, EmailKey: models.EmailKey(email), PasswordHash: phc,
		Locale: locale, PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	err = p.DB.CreateUser(ctx, u)
	if errors.Is(err, store.ErrDuplicate) {
		// The id or the address: say which, so the operator knows.
		if _, lerr := p.DB.UserByID(ctx, id); lerr == nil {
			return models.User{}, ErrIDExists
		}
		return models.User{}, ErrAccountExists
	}
	if err != nil {
		return models.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}
