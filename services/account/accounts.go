package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/store"
)

// Reading accounts, for the adopting application's operators and its admin
// API: one by id or by address, or all of them page by page. Never a hash.

// Page sizes of Accounts.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// infoOf is what is shown of u.
func infoOf(u models.User) models.AccountInfo {
	format := hash.Format(u.PasswordHash)
	switch {
	case u.PasswordHash == "":
		format = "none"
	case format == "":
		format = "unknown"
	}
	return models.AccountInfo{ID: u.ID, Email: u.Email, Locale: u.Locale, CreatedAt: u.CreatedAt.UTC(),
		PasswordChangedAt: u.PasswordChangedAt.UTC(), HashFormat: format}
}

// Account describes the account id. Errors: models.ErrInvalidUserID,
// ErrNoAccount, a wrapped database error.
func (p *Passwords) Account(ctx context.Context, id string) (models.AccountInfo, error) {
	if err := models.ValidateUserID(id); err != nil {
		return models.AccountInfo{}, invalidID(err)
	}
	return p.accountBy(ctx, ErrNoAccount, func(q store.Queries) (models.User, error) { return q.UserByID(ctx, id) })
}

// AccountByEmail describes the account of an address, compared as every
// lookup compares addresses (models.EmailKey: ASCII letters in any case,
// nothing else folded). Errors: models.ErrInvalidEmail,
// ErrNoAccountForAddress, a wrapped database error.
func (p *Passwords) AccountByEmail(ctx context.Context, email string) (models.AccountInfo, error) {
	if err := models.ValidateEmail(email); err != nil {
		return models.AccountInfo{}, err
	}
	key := models.EmailKey(email)
	return p.accountBy(ctx, ErrNoAccountForAddress, func(q store.Queries) (models.User, error) { return q.UserByEmailKey(ctx, key) })
}

func (p *Passwords) accountBy(ctx context.Context, none error, find func(store.Queries) (models.User, error)) (models.AccountInfo, error) {
	u, err := find(p.DB.Queries)
	if errors.Is(err, store.ErrNotFound) {
		return models.AccountInfo{}, none
	}
	if err != nil {
		return models.AccountInfo{}, fmt.Errorf("show account: %w", err)
	}
	return infoOf(u), nil
}

// Accounts lists up to limit accounts (DefaultPageSize when 0, at most
// MaxPageSize) whose id sorts after after, "" for the first page, in the
// byte order of their ids. Accounts created or deleted while a listing
// walks its pages may or may not appear; none appears twice. Errors:
// models.Invalid for a cursor that cannot be an id or a limit out of range,
// a wrapped database error.
func (p *Passwords) Accounts(ctx context.Context, after string, limit int) (models.AccountPage, error) {
	if after != "" && models.ValidateUserID(after) != nil {
		return models.AccountPage{}, &models.Error{Kind: models.KindInvalid, Code: "invalid_cursor", Field: "after",
			Message: "after must be the id of the last account of the previous page."}
	}
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 1 || limit > MaxPageSize {
		return models.AccountPage{}, &models.Error{Kind: models.KindInvalid, Code: "invalid_limit", Field: "limit",
			Message: fmt.Sprintf("limit must be 1–%d.", MaxPageSize)}
	}
	// One more than asked says whether another page follows.
	users, err := p.DB.ListUsers(ctx, after, limit+1)
	if err != nil {
		return models.AccountPage{}, fmt.Errorf("list accounts: %w", err)
	}
	page := models.AccountPage{Accounts: make([]models.AccountInfo, 0, min(len(users), limit))}
	for i, u := range users {
		if i == limit {
			page.NextAfter = users[limit-1].ID
			break
		}
		page.Accounts = append(page.Accounts, infoOf(u))
	}
	return page, nil
}

// invalidID is models.ErrInvalidUserID (for errors.Is) as the problem an
// admin API client gets.
func invalidID(err error) error {
	return problems{{field: memberID, code: codeInvalidUserID, cause: err, text: err.Error()}}
}
