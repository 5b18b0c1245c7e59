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
	"fmt"
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

// Names of the limits a throttled security event names; Observer hears the
// same names. They are the rate limits' own.
const (
	LimitClientCeiling    = ratelimit.LimitClientCeiling
	LimitResetRequestIP   = ratelimit.LimitResetRequestIP
	LimitTokenFailuresIP  = ratelimit.LimitTokenFailuresIP
	LimitWrongOldPassword = ratelimit.LimitWrongOldPassword
	LimitSignInIP         = ratelimit.LimitSignInIP
	LimitSignInAccount    = ratelimit.LimitSignInAccount
)

// Observer hears the refusals the security events log, for metrics. Its
// methods are called on the request path and must not block; their
// arguments are names fixed in code, never data from a request.
type Observer interface {
	// ObserveRateLimited hears a 429 and the limit (one of the Limit…
	// names) that caused it.
	ObserveRateLimited(limit string)
	// ObservePolicyRejection hears a new password the policy refused, by
	// its error code (models.ErrPasswordTooShort's "password_too_short", …).
	ObservePolicyRejection(code string)
	// ObserveSignIn hears the outcome of every sign-in check that got as
	// far as its limits: SignInValid, SignInInvalid, SignInLimited or
	// SignInRehashed.
	ObserveSignIn(outcome string)
}

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
	// Observer, when not nil, hears every 429 and policy refusal.
	Observer Observer
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
		p.throttled(ctx, c, LimitClientCeiling)
	}
	return err
}

// Authenticate verifies a bearer token; see sessions.Sessions.Authenticate.
func (p *Passwords) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	return p.Sessions.Authenticate(ctx, bearer)
}

// Ready reports whether the service can answer requests: the database
// answers, its schema is at this binary's migrations, and the bearer keys
// are loaded (in JWKS mode, after the first successful fetch). Errors:
// models.ErrUnavailable with the cause.
func (p *Passwords) Ready(ctx context.Context) error {
	if err := p.DB.Ping(ctx); err != nil {
		return err
	}
	if err := p.DB.SchemaReady(ctx); err != nil {
		return err
	}
	return p.Sessions.Ready()
}

// settle runs bookkeeping that must not depend on the client staying (an
// attempt counter given back or cleared): with the request's values but not
// its cancellation, since a client that hangs up after its password was
// checked must not leave the counters wrong (the store bounds each
// statement). A failure is logged as a warning; it never changes the answer.
func (p *Passwords) settle(ctx context.Context, what string, f func(context.Context) error) {
	if err := f(context.WithoutCancel(ctx)); err != nil {
		p.Log.WarnContext(ctx, what, slog.String("error", err.Error()))
	}
}

// alongside runs settle's work in its own goroutine, so that its round trips
// overlap the slow work that follows (the policy and the hash), and returns
// the wait for it: a request calls it before it answers, so that no
// bookkeeping outlives the request (and tests see it done).
func (p *Passwords) alongside(ctx context.Context, what string, f func(context.Context) error) (wait func()) {
	done := goSafely(func() error { return f(context.WithoutCancel(ctx)) })
	return func() {
		if err := <-done; err != nil {
			p.Log.WarnContext(ctx, what, slog.String("error", err.Error()))
		}
	}
}

// goSafely runs f in a goroutine of its own and delivers its error on the
// returned channel (buffered: nobody has to read it). A panic in f becomes
// an error there, as the HTTP server's recovery makes it of a panic in the
// request's own goroutine, instead of ending the process.
func goSafely(f func() error) <-chan error {
	out := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				out <- fmt.Errorf("panic: %v", r)
			}
		}()
		out <- f()
	}()
	return out
}

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

// throttled logs the security event of a 429 caused by limit and tells the
// observer.
func (p *Passwords) throttled(ctx context.Context, c models.Client, limit string, attrs ...slog.Attr) {
	p.event(ctx, c, "throttled", append([]slog.Attr{slog.String("limit", limit)}, attrs...)...)
	if p.Observer != nil {
		p.Observer.ObserveRateLimited(limit)
	}
}

// refused logs the security event (reset_refused, change_refused) of a new
// password that err, from the policy, refused, and tells the observer when
// it is a policy rule's code: the policy can also fail for want of a slot
// or of the breach check, which is no rejection.
func (p *Passwords) refused(ctx context.Context, c models.Client, event, userID string, err error) {
	p.event(ctx, c, event, slog.String("user_id", userID), slog.String("reason", codeOf(err)))
	if p.Observer != nil && models.KindOf(err) == models.KindPolicy {
		p.Observer.ObservePolicyRejection(codeOf(err))
	}
}
