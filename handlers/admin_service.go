package handlers

import (
	"context"
	"io"

	"github.com/accountpw/accountpw/models"
)

// AdminService is what the admin API needs from the business layer; the
// account package's Passwords implements it, handler tests use a fake.
// Every method returns models errors for outcomes the caller can act on
// (an unknown account is models.KindNotFound, an address another account
// holds models.KindConflict) and anything else for a server fault.
type AdminService interface {
	// Account describes the account id.
	Account(ctx context.Context, id string) (models.AccountInfo, error)
	// AccountByEmail describes the account of an address.
	AccountByEmail(ctx context.Context, email string) (models.AccountInfo, error)
	// Accounts lists up to limit accounts (0: the default page) after the
	// id after, in byte order.
	Accounts(ctx context.Context, after string, limit int) (models.AccountPage, error)
	// PutAccount creates or updates the account id from body, a JSON
	// object it decodes itself (the members of an import line).
	PutAccount(ctx context.Context, id string, body []byte) (models.AccountPut, error)
	// DeleteUser deletes the account id.
	DeleteUser(ctx context.Context, id string) error
	// ImportAccounts imports the JSON Lines of r in one batch, telling each
	// line's result to each, in line order; a dry run writes nothing.
	ImportAccounts(ctx context.Context, r io.Reader, dryRun bool, each func(models.ImportResult)) (models.ImportSummary, error)
	// EmailReset queues a reset email for the account id.
	EmailReset(ctx context.Context, c models.Client, id string) error
	// ResetLink issues a reset link for the account id and returns it.
	ResetLink(ctx context.Context, c models.Client, id string) (models.ResetLink, error)
	// SignIn checks a password at the application's sign-in.
	SignIn(ctx context.Context, c models.Client, in models.SignIn) (models.SignInResult, error)
}
