package services

import (
	"context"
	"errors"
	"log/slog"

	"github.com/accountpw/accountpw/models"
	"gorm.io/gorm"
)

// Change replaces the password of the session's account after verifying the
// old one. Attempts are counted per account before the old password is
// checked and throttled with back-off; a correct old password clears the
// count. The change ends every session issued
// before it, the caller's included, and every outstanding reset token.
// Errors: models.ErrUnauthenticated (account gone), models.RateLimited,
// models.ErrWrongPassword, the models.ErrPassword* policy errors,
// models.ErrHashBusy, a wrapped database error.
func (p *Passwords) Change(ctx context.Context, c models.Client, s models.Session, oldPassword, newPassword string) error {
	var u models.User
	err := p.db.Gorm.WithContext(ctx).Where("id = ?", s.UserID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.ErrUnauthenticated
	}
	if err != nil {
		return storeErr("change password", err)
	}
	oldPw, newPw := models.NormalizePassword(oldPassword), models.NormalizePassword(newPassword)
	// The policy first: a refused new password says nothing about the old
	// one and is not counted as a guess.
	if err := p.policy.Check(ctx, newPw, u.Email); err != nil {
		p.event(ctx, c, "change_refused", slog.String("user_id", u.ID), slog.String("reason", codeOf(err)))
		return err
	}
	if err := p.limits.ChangeAttempt(ctx, u.ID); err != nil {
		p.event(ctx, c, "throttled", slog.String("limit", "wrong_old_password"), slog.String("user_id", u.ID))
		return err
	}
	ok, _, err := p.hasher.Verify(ctx, oldPw, u.PasswordHash)
	if err != nil {
		if lerr := p.limits.ChangeUnchecked(ctx, u.ID); lerr != nil {
			p.log.WarnContext(ctx, "give back change attempt", slog.String("error", lerr.Error()))
		}
		return err
	}
	if !ok {
		p.event(ctx, c, "change_failed", slog.String("user_id", u.ID))
		return models.ErrWrongPassword
	}
	if err := p.limits.ChangeSucceeded(ctx, u.ID); err != nil {
		p.log.WarnContext(ctx, "clear change throttle", slog.String("error", err.Error()))
	}
	// Hash outside the transaction: argon2 is slow on purpose. The new hash
	// uses the current parameters and pepper, which also upgrades an old one.
	phc, err := p.hasher.Hash(ctx, newPw)
	if err != nil {
		return err
	}
	now := p.now()
	err = p.db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return p.setPassword(ctx, tx, &u, phc, "change", now, c)
	})
	if err != nil {
		if errors.Is(err, models.ErrWrongPassword) {
			return err
		}
		return storeErr("change password", err)
	}
	p.event(ctx, c, "change_succeeded", slog.String("user_id", u.ID))
	return nil
}
