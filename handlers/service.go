package handlers

import (
	"context"

	"github.com/accountpw/accountpw/models"
)

// Service is what the handlers need from the business layer. services
// implements it; handler tests use a fake. Every method returns models
// errors (sentinels or *models.Error) for outcomes a client can act on and
// anything else for a server fault.
type Service interface {
	// Admit applies the coarse per-client ceiling to every request of the
	// password resource except {"email"} (models.RateLimited).
	Admit(ctx context.Context, c models.Client) error
	// RequestReset answers {"email"}, counting the per-client ceiling too.
	RequestReset(ctx context.Context, c models.Client, email string) error
	// Reset answers {"token","new"}.
	Reset(ctx context.Context, c models.Client, token, newPassword string) error
	// Change answers {"old","new"} for the holder of session s.
	Change(ctx context.Context, c models.Client, s models.Session, oldPassword, newPassword string) error
	// Authenticate verifies a bearer token (without the "Bearer " prefix).
	// Errors: models.ErrUnauthenticated, models.ErrStaleSession.
	Authenticate(ctx context.Context, bearer string) (models.Session, error)
	// Ready reports whether the database is reachable.
	Ready(ctx context.Context) error
}
