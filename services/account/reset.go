package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
)

// Reset sets a new password with a reset token. The token must be unused,
// unexpired and the account's newest; a policy rejection does not consume it.
// Consuming it, setting the password, ending every other token and queueing
// the notice happen in one transaction, guarded so that of many concurrent
// uses exactly one wins. Errors: models.ErrInvalidToken, models.RateLimited,
// the models.ErrPassword* policy errors, models.ErrHashBusy, a wrapped
// database error.
func (p *Passwords) Reset(ctx context.Context, c models.Client, token, newPassword string) error {
	// Every attempt counts until its token proves genuine. The count and
	// the token's lookup are independent round trips, so they run at once;
	// the count decides first: a limited client learns nothing of its token.
	attempt := goSafely(func() error { return p.Limits.TokenAttempt(ctx, c.IP) })
	now := p.Now()
	var (
		tok  models.ResetToken
		u    models.User
		hash string
		err  = store.ErrNotFound
	)
	if wellFormedToken(token) {
		hash = hashToken(token)
		tok, u, err = p.DB.LiveToken(ctx, hash, now)
	}
	if aerr := <-attempt; aerr != nil {
		if me := (*models.Error)(nil); errors.As(aerr, &me) && me.Kind == models.KindRateLimited {
			p.throttled(ctx, c, LimitTokenFailuresIP)
		}
		return aerr
	}
	if errors.Is(err, store.ErrNotFound) {
		return p.tokenFailed(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	// The token is genuine: its attempt is given back while the policy and
	// the hash run; the request waits for that before it answers.
	defer p.alongside(ctx, "give back token attempt", func(ctx context.Context) error {
		return p.Limits.TokenValid(ctx, c.IP)
	})()
	pw := models.NormalizePassword(newPassword)
	if err := p.Policy.Check(ctx, pw, u.Email); err != nil {
		p.refused(ctx, c, "reset_refused", u.ID, err)
		return err
	}
	// Hash outside the transaction: argon2 is slow on purpose.
	phc, err := p.Hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	err = p.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.ConsumeToken(ctx, tok.ID, hash, now); err != nil {
			return err
		}
		return p.setPassword(ctx, tx, u, phc, models.MethodReset, now, c)
	})
	if errors.Is(err, store.ErrConflict) {
		// Used, expired or superseded meanwhile, or the password changed.
		return p.tokenFailed(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	// A completed reset proves control of the mailbox and ends any
	// wrong-old-password back-off. Only a completed one: a refused new
	// password leaves the token usable, so clearing the count earlier would
	// let one token reopen the guessing after every ten wrong passwords.
	p.settle(ctx, "clear change throttle", func(ctx context.Context) error {
		return p.Limits.ChangeSucceeded(ctx, u.ID, signInSubject(u.ID))
	})
	p.event(ctx, c, "reset_completed", slog.String("user_id", u.ID))
	return nil
}

func (p *Passwords) tokenFailed(ctx context.Context, c models.Client) error {
	p.event(ctx, c, "token_failed")
	return models.ErrInvalidToken
}

// setPassword stores a new hash, moves password_changed_at (ending every
// earlier session), deletes every outstanding reset token of the account and
// queues the notice and the password.changed event, all inside tx. The write is guarded by the hash read
// with u: if another change committed since, it returns store.ErrConflict
// and the caller answers as its operation requires.
func (p *Passwords) setPassword(ctx context.Context, tx *store.Tx, u models.User, phc string,
	method models.PasswordMethod, now time.Time, c models.Client) error {
	if err := tx.SetPassword(ctx, u.ID, u.PasswordHash, phc, now); err != nil {
		return err
	}
	if err := tx.DeleteUnusedTokens(ctx, u.ID); err != nil {
		return err
	}
	if err := p.Queue.EnqueueNotice(ctx, tx, queue.Notice{UserID: u.ID, Change: method, At: now,
		Deadline: now.Add(noticeDeadline), IP: c.IP, RequestID: c.RequestID, Recipient: p.Pseudo.Email(u.Email),
		Language: mail.Negotiate(c.Languages)}); err != nil {
		return err
	}
	return p.queueChanged(ctx, tx, u.ID, method, now)
}
