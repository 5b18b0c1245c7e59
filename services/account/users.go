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

// CreateUser creates an account with the given address and password, under
// the same policy as a reset. It is an operator command, not an API.
// Errors: models.ErrInvalidEmail, models.ErrPassword*, ErrAccountExists, a
// wrapped database error.
func (p *Passwords) CreateUser(ctx context.Context, email, password string) (models.User, error) {
	if err := models.ValidateEmail(email); err != nil {
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
	id, err := uuid.NewRandomFromReader(rand.Reader)
	if err != nil {
		return models.User{}, fmt.Errorf("create user: %w", err)
	}
	now := p.Now()
	u := models.User{ID: id.String(), Email: email, EmailKey: models.EmailKey(email), PasswordHash: phc,
		PasswordChangedAt: now, CreatedAt: now, UpdatedAt: now}
	err = p.DB.CreateUser(ctx, u)
	if errors.Is(err, store.ErrDuplicate) {
		return models.User{}, ErrAccountExists
	}
	if err != nil {
		return models.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}
