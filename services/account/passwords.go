// Package account holds the password resource's operations: requesting a
// reset (RequestReset), completing one with a token (Reset), changing a
// known password (Change); the operator's account commands (CreateUser,
// Import, Account, SetEmail, DeleteUser); the password.changed event queued
// with every new password; and the Composer the mail queue calls to turn
// its jobs into emails, which issues each reset token at the send attempt.
//
// It imports models, config, store, hash, policy, ratelimit, queue, mail
// (for rendering), sessions and webhook (to build events).
package account

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/batch"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/policy"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/ratelimit"
	"github.com/accountpw/accountpw/services/sessions"
	"github.com/accountpw/accountpw/services/store"
)

// noticeDeadline is how long a "password changed" notice is retried.
const noticeDeadline = 24 * time.Hour

// Deps are the collaborators of Passwords.
type Deps struct {
	DB       *store.DB
	Hasher   *hash.Hasher
	Policy   *policy.Policy
	Limits   *ratelimit.Limits
	Queue    *queue.Queue
	Sessions *sessions.Sessions
	Pseudo   *Pseudonymizer
	Log      *slog.Logger
	Now      func() time.Time
}

// Passwords is the password resource's business logic.
type Passwords struct {
	Deps
	reset  config.Reset
	resets *batch.Batcher[resetRequest, resetOutcome]
}

// New returns the operations under the reset section (the token lifetime).
// Close stops the batcher of reset requests.
func New(reset config.Reset, d Deps) *Passwords {
	p := &Passwords{Deps: d, reset: reset}
	p.resets = batch.New(batch.ForDatabase(d.DB.Postgres()), p.flushResets)
	return p
}

// Close lets the reset requests already waiting commit, then refuses new
// ones (models.ErrUnavailable), within ctx.
func (p *Passwords) Close(ctx context.Context) error { return p.resets.Close(ctx) }

// Admit applies the coarse per-client ceiling. Errors: models.RateLimited, a
// wrapped database error.
func (p *Passwords) Admit(ctx context.Context, c models.Client) error {
	err := p.Limits.Admit(ctx, c.IP)
	if models.KindOf(err) == models.KindRateLimited {
		p.event(ctx, c, "throttled", slog.String("limit", "client_ceiling"))
	}
	return err
}

// Authenticate verifies a bearer token; see sessions.Sessions.Authenticate.
func (p *Passwords) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	return p.Sessions.Authenticate(ctx, bearer)
}

// Ready reports whether the database answers.
func (p *Passwords) Ready(ctx context.Context) error { return p.DB.Ping(ctx) }

// codeOf returns the stable code of a models error, "" for others.
func codeOf(err error) string {
	var e *models.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// event logs a security event: UTC time (slog's), request id, client IP,
// outcome and, where known, the internal user id. Never an address in
// clear, a password or a token.
func (p *Passwords) event(ctx context.Context, c models.Client, outcome string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("event", outcome), slog.String("request_id", c.RequestID),
		slog.String("ip", c.IP)}, attrs...)
	p.Log.LogAttrs(ctx, slog.LevelInfo, "security event", attrs...)
}
