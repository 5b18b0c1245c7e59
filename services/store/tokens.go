package store

import (
	"context"
	"time"

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

// IssueToken finds the account whose lookup key is emailKey and makes the
// hash of a new token, expiring at expires, its one live token, replacing
// any earlier unused one: a unique index allows one unused token per
// account, and one upsert writes it, so concurrent issuers leave exactly one
// live link. It returns the account. On PostgreSQL this is one statement, a
// round trip per reset email. Errors: ErrNotFound (no such account), a
// classified database error.
func (d *DB) IssueToken(ctx context.Context, emailKey, hash string, expires, now time.Time) (models.User, error) {
	const upsert = `INSERT INTO reset_tokens (user_id, token_hash, expires_at, created_at)
		SELECT id, ?, ?, ? FROM u WHERE true
		ON CONFLICT (user_id) WHERE used_at IS NULL
		DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at, created_at = excluded.created_at`
	if d.postgres {
		var r userRow
		res := d.with(ctx).Raw(`WITH u AS (SELECT * FROM users WHERE email_key = ?),
			i AS (`+upsert+` RETURNING user_id)
			SELECT u.* FROM u JOIN i ON i.user_id = u.id`, emailKey, hash, expires, now).Scan(&r)
		if res.Error != nil {
			return models.User{}, classify("issue token", res.Error)
		}
		if res.RowsAffected == 0 {
			return models.User{}, ErrNotFound
		}
		return r.user(), nil
	}
	// SQLite has no data-modifying CTE: the same in a transaction.
	var u models.User
	err := d.InTx(ctx, func(tx *Tx) error {
		var r userRow
		if err := tx.with(ctx).Where("email_key = ?", emailKey).Take(&r).Error; err != nil {
			return classify("issue token", err)
		}
		u = r.user()
		return classify("issue token", tx.with(ctx).Exec(`WITH u AS (SELECT ? AS id) `+upsert, u.ID, hash, expires, now).Error)
	})
	return u, err
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
