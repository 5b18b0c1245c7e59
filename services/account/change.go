package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// Change replaces the password of the session's account after verifying the
// old one. Attempts are counted per account before the old password is
// checked and throttled with back-off; a correct old password clears the
// count. The change ends every session issued before it, the caller's
// included, and every outstanding reset token. Errors:
// models.ErrUnauthenticated (account gone), models.RateLimited,
// models.ErrWrongPassword, the models.ErrPassword* policy errors,
// models.ErrHashBusy, a wrapped database error.
func (p *Passwords) Change(ctx context.Context, c models.Client, s models.Session, oldPassword, newPassword string) error {
	u, err := p.DB.UserByID(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return models.ErrUnauthenticated
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	newPw := models.NormalizePassword(newPassword)
	// The policy first: a refused new password says nothing about the old
	// one and is not counted as a guess.
	if err := p.Policy.Check(ctx, newPw, u.Email); err != nil {
		p.refused(ctx, c, "change_refused", u.ID, err)
		return err
	}
	if err := p.Limits.ChangeAttempt(ctx, u.ID); err != nil {
		p.throttled(ctx, c, LimitWrongOldPassword, slog.String("user_id", u.ID))
		return err
	}
	// An account imported without a password has no hash: no old password
	// is right, and the way in is a reset by email. It is a wrong password
	// like any other (counted above), not a stored-hash fault.
	if u.PasswordHash == "" {
		p.event(ctx, c, "change_failed", slog.String("user_id", u.ID), slog.String("reason", "no_password"))
		return models.ErrWrongPassword
	}
	// The old password goes to Verify as sent: an imported hash may have
	// been made of it unnormalised, and Verify knows which forms each
	// format needs (for ours, the NFKC form).
	ok, err := p.Hasher.Verify(ctx, oldPassword, u.PasswordHash)
	if err != nil {
		p.settle(ctx, "give back change attempt", func(ctx context.Context) error {
			return p.Limits.ChangeUnchecked(ctx, u.ID)
		})
		return err
	}
	if !ok {
		p.event(ctx, c, "change_failed", slog.String("user_id", u.ID))
		return models.ErrWrongPassword
	}
	// The right old password ends the wrong-old-password back-off, while
	// the new password hashes.
	defer p.alongside(ctx, "clear change throttle", func(ctx context.Context) error {
		return p.Limits.ChangeSucceeded(ctx, u.ID, signInSubject(u.ID))
	})()
	// Hash outside the transaction: argon2 is slow on purpose. The new hash
	// uses the current parameters and pepper, which also upgrades an old one.
	phc, err := p.Hasher.Hash(ctx, newPw)
	if err != nil {
		return err
	}
	now := p.Now()
	err = p.DB.InTx(ctx, func(tx *store.Tx) error {
		return p.setPassword(ctx, tx, u, phc, models.MethodChange, now, c)
	})
	if errors.Is(err, store.ErrConflict) {
		// Another change committed since the old password was checked.
		return models.ErrWrongPassword
	}
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	p.event(ctx, c, "change_succeeded", slog.String("user_id", u.ID))
	return nil
}
