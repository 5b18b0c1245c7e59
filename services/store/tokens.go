package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/accountpw/accountpw/models"
)

// tokenRow is the reset_tokens table; TokenHash is the lookup key and the
// only form of the token ever stored.
type tokenRow struct {
	ID        int64      `gorm:"primaryKey;autoIncrement"`
	UserID    string     `gorm:"type:text;not null;index"`
	TokenHash string     `gorm:"type:text;not null;uniqueIndex"`
	ExpiresAt time.Time  `gorm:"not null"`
	UsedAt    *time.Time ``
	CreatedAt time.Time  `gorm:"not null"`
}

func (tokenRow) TableName() string { return "reset_tokens" }

// IssueToken supersedes the account's unused tokens and stores the hash of a
// new one that expires at expires, in one transaction. The account row is
// locked first, so two issuers at once cannot each delete what they see and
// both insert: one live token per account. (SQLite's IMMEDIATE transactions
// serialise anyway; GORM leaves FOR UPDATE out there.) Errors: ErrNotFound
// (no such account), a classified database error.
func (d *DB) IssueToken(ctx context.Context, userID, hash string, expires, now time.Time) error {
	return d.InTx(ctx, func(tx *Tx) error {
		var u userRow
		err := tx.with(ctx).Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate}).Select("id").
			Where("id = ?", userID).Take(&u).Error
		if err != nil {
			return classify("issue token", err)
		}
		if err := tx.DeleteUnusedTokens(ctx, userID); err != nil {
			return err
		}
		return classify("issue token", tx.with(ctx).Create(&tokenRow{
			UserID: userID, TokenHash: hash, ExpiresAt: expires, CreatedAt: now,
		}).Error)
	})
}

// LiveToken returns the unused, unexpired token stored under hash. Errors:
// ErrNotFound, a classified database error.
func (q Queries) LiveToken(ctx context.Context, hash string, now time.Time) (models.ResetToken, error) {
	var r tokenRow
	err := q.with(ctx).Where("token_hash = ? AND used_at IS NULL AND expires_at > ?", hash, now).Take(&r).Error
	return models.ResetToken{ID: r.ID, UserID: r.UserID, ExpiresAt: r.ExpiresAt}, classify("find token", err)
}

// ConsumeToken marks token id used at now, guarded so that of many
// concurrent consumers exactly one succeeds. Errors: ErrConflict (used,
// expired or gone meanwhile), a classified database error.
func (q Queries) ConsumeToken(ctx context.Context, id int64, now time.Time) error {
	res := q.with(ctx).Model(&tokenRow{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", id, now).
		Update("used_at", now)
	if res.Error != nil {
		return classify("consume token", res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrConflict
	}
	return nil
}

// DeleteUnusedTokens deletes every unused token of the account. Errors: a
// classified database error.
func (q Queries) DeleteUnusedTokens(ctx context.Context, userID string) error {
	return classify("delete tokens", q.with(ctx).Where("user_id = ? AND used_at IS NULL", userID).Delete(&tokenRow{}).Error)
}

// DeleteExpiredTokens deletes every token that expired before now, used or
// not, and returns how many went. Errors: a classified database error.
func (q Queries) DeleteExpiredTokens(ctx context.Context, now time.Time) (int64, error) {
	res := q.with(ctx).Where("expires_at < ?", now).Delete(&tokenRow{})
	return res.RowsAffected, classify("delete expired tokens", res.Error)
}
