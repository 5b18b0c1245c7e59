package services

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/models"
	"gorm.io/gorm"
)

// Passwords is the password resource's business logic: reset requests,
// resets with a token and changes by a signed-in user.
type Passwords struct {
	db       *DB
	hasher   *Hasher
	policy   *Policy
	queue    *Queue
	limits   *Limits
	sessions *Sessions
	pseudo   *Pseudonymizer
	log      *slog.Logger
	now      func() time.Time
}

// PasswordsDeps are the collaborators of Passwords.
type PasswordsDeps struct {
	DB       *DB
	Hasher   *Hasher
	Policy   *Policy
	Queue    *Queue
	Limits   *Limits
	Sessions *Sessions
	Pseudo   *Pseudonymizer
	Log      *slog.Logger
	Now      func() time.Time // default time.Now
}

// NewPasswords returns the service.
func NewPasswords(d PasswordsDeps) *Passwords {
	clock := d.Now
	if clock == nil {
		clock = time.Now
	}
	// Always UTC: SQLite stores times as text, and text compares correctly
	// only within one offset.
	now := func() time.Time { return clock().UTC() }
	return &Passwords{db: d.DB, hasher: d.Hasher, policy: d.Policy, queue: d.Queue, limits: d.Limits,
		sessions: d.Sessions, pseudo: d.Pseudo, log: d.Log, now: now}
}

// Admit applies the coarse per-client ceiling. Errors: models.RateLimited.
func (p *Passwords) Admit(ctx context.Context, c models.Client) error {
	err := p.limits.Admit(ctx, c.IP)
	if models.KindOf(err) == models.KindRateLimited {
		p.event(ctx, c, "throttled", slog.String("limit", "client_ceiling"))
	}
	return err
}

// Authenticate verifies a bearer token; see Sessions.Authenticate.
func (p *Passwords) Authenticate(ctx context.Context, bearer string) (models.Session, error) {
	return p.sessions.Authenticate(ctx, bearer)
}

// Ready reports whether the database answers.
func (p *Passwords) Ready(ctx context.Context) error { return p.db.Ping(ctx) }

// RequestReset validates the address and durably queues a reset email. It
// does the same work for every address, known or not: it never looks the
// account up and never talks to the mail provider, so neither the answer nor
// its timing says whether an account exists. Over the per-address quota it
// silently queues nothing. Errors: models.ErrInvalidEmail, models.RateLimited
// (per client), a wrapped database error.
func (p *Passwords) RequestReset(ctx context.Context, c models.Client, email string) error {
	if err := models.ValidateEmail(email); err != nil {
		return err
	}
	key := models.EmailKey(email)
	// The limits and the enqueue commit once: a refused request keeps its
	// counts and queues nothing.
	var limited error
	queued := false
	err := p.db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		ok, err := p.limits.ResetRequest(ctx, tx, c.IP, key)
		if models.KindOf(err) == models.KindRateLimited {
			limited = err
			return nil
		}
		if err != nil || !ok {
			return err
		}
		queued = true
		return p.queue.enqueueResetTx(ctx, tx, key, c)
	})
	if err != nil {
		return storeErr("request reset", err)
	}
	if limited != nil {
		p.event(ctx, c, "throttled", slog.String("limit", "reset_request_ip"))
		return limited
	}
	p.event(ctx, c, "reset_requested", slog.String("recipient", p.pseudo.Email(key)), slog.Bool("queued", queued))
	return nil
}

// Reset sets a new password with a reset token. The token must be unused,
// unexpired and the account's newest; a policy rejection does not consume it.
// Consuming it, setting the password, ending every other token and queueing
// the notice happen in one transaction, guarded so that of many concurrent
// uses exactly one wins. Errors: models.ErrInvalidToken, models.RateLimited,
// the models.ErrPassword* policy errors, models.ErrHashBusy, a wrapped
// database error.
func (p *Passwords) Reset(ctx context.Context, c models.Client, token, newPassword string) error {
	// Every attempt counts until its token proves genuine (R-RATE-3).
	if err := p.limits.TokenAttempt(ctx, c.IP); err != nil {
		p.event(ctx, c, "throttled", slog.String("limit", "token_failures_ip"))
		return err
	}
	now := p.now()
	var tok models.ResetToken
	var u models.User
	var err error = models.ErrInvalidToken
	if wellFormedToken(token) {
		err = p.db.Gorm.WithContext(ctx).Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", hashToken(token), now).
			Take(&tok).Error
		if err == nil {
			err = p.db.Gorm.WithContext(ctx).Where("id = ?", tok.UserID).Take(&u).Error
		}
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, models.ErrInvalidToken) {
		return p.tokenFailed(ctx, c)
	}
	if err != nil {
		return storeErr("reset password", err)
	}
	if err := p.limits.TokenValid(ctx, c.IP); err != nil {
		p.log.WarnContext(ctx, "give back token attempt", slog.String("error", err.Error()))
	}
	pw := models.NormalizePassword(newPassword)
	if err := p.policy.Check(ctx, pw, u.Email); err != nil {
		p.event(ctx, c, "reset_refused", slog.String("user_id", u.ID), slog.String("reason", codeOf(err)))
		return err
	}
	// Hash outside the transaction: argon2 is slow on purpose.
	phc, err := p.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	err = p.db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&models.ResetToken{}).
			Where("id = ? AND used_at IS NULL AND expires_at > ?", tok.ID, now).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return models.ErrInvalidToken
		}
		return p.setPassword(ctx, tx, &u, phc, "reset", now, c)
	})
	if errors.Is(err, models.ErrInvalidToken) {
		return p.tokenFailed(ctx, c)
	}
	if err != nil {
		return storeErr("reset password", err)
	}
	// Proving control of the mailbox ends any wrong-old-password back-off.
	if err := p.limits.ChangeSucceeded(ctx, u.ID); err != nil {
		p.log.WarnContext(ctx, "clear change throttle", slog.String("error", err.Error()))
	}
	p.event(ctx, c, "reset_completed", slog.String("user_id", u.ID))
	return nil
}

func (p *Passwords) tokenFailed(ctx context.Context, c models.Client) error {
	p.event(ctx, c, "token_failed")
	return models.ErrInvalidToken
}

// setPassword stores a new hash, moves password_changed_at (ending every
// earlier session), deletes every outstanding reset token of the account and
// queues the notice, all inside tx.
func (p *Passwords) setPassword(ctx context.Context, tx *gorm.DB, u *models.User, phc, change string, now time.Time, c models.Client) error {
	res := tx.Model(&models.User{}).Where("id = ? AND password_hash = ?", u.ID, u.PasswordHash).
		Updates(map[string]any{"password_hash": phc, "password_changed_at": now, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		// Another change committed since we read the account.
		if change == "reset" {
			return models.ErrInvalidToken
		}
		return models.ErrWrongPassword
	}
	if err := tx.Where("user_id = ? AND used_at IS NULL", u.ID).Delete(&models.ResetToken{}).Error; err != nil {
		return err
	}
	return p.queue.enqueueNoticeTx(ctx, tx, u, change, now, c)
}

// codeOf returns the stable code of a models error, "" for others.
func codeOf(err error) string {
	var e *models.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// event logs a security event (R-LOG-4): UTC time (slog's), request id,
// client IP, outcome and, where known, the internal user id. Never an
// address in clear, a password or a token.
func (p *Passwords) event(ctx context.Context, c models.Client, outcome string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("event", outcome), slog.String("request_id", c.RequestID),
		slog.String("ip", c.IP)}, attrs...)
	p.log.LogAttrs(ctx, slog.LevelInfo, "security event", attrs...)
}
