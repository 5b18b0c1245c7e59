package store

import (
	"context"
	"database/sql"
	"errors"
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
	// CreatedAt is the time of the request the token answers (see
	// IssueToken), which orders the links of two requests.
	CreatedAt time.Time `gorm:"not null"`
}

func (tokenRow) TableName() string { return "reset_tokens" }

// ErrTokenUsed is returned by IssueToken for a token hash that was already
// used: issuing it again would bring a used link back to life.
var ErrTokenUsed = errors.New("store: this token was used already")

// ErrSuperseded is returned by IssueToken when the account's live token
// answers a later request than the one the caller issues for: the newer
// link stands, and issuing the older one would end it.
var ErrSuperseded = errors.New("store: a newer link of the account is live")

// IssueToken finds the account whose lookup key is emailKey and makes the
// hash of a token, expiring at expires, its one live token, replacing any
// earlier unused one: a unique index allows one unused token per account,
// and one upsert writes it, so concurrent issuers leave exactly one live
// link. requested is the time of the request the token answers, kept as
// the row's created_at: a live token of another hash that answers a later
// request stands (the emails of two requests may be sent in either order,
// the later request's link must win). Issuing the hash that is already the
// live one (the same email attempted again) keeps it as it is, its expiry
// included: a send attempted again never lengthens a link's life. It
// returns the account. On PostgreSQL this is one statement, a round trip
// per reset email. Errors: ErrNotFound (no such account), ErrTokenUsed (the
// hash was used already), ErrSuperseded (a later request's link is live);
// nothing is written for either; a classified database error.
func (d *DB) IssueToken(ctx context.Context, emailKey, hash string, expires, requested time.Time) (models.User, error) {
	const upsert = `INSERT INTO reset_tokens (user_id, token_hash, expires_at, created_at)
		SELECT id, ?, ?, ? FROM u WHERE true
		ON CONFLICT (user_id) WHERE used_at IS NULL
		DO UPDATE SET token_hash = excluded.token_hash, expires_at = excluded.expires_at, created_at = excluded.created_at`
	if d.postgres {
		// Without GORM: this runs once per reset email, and GORM's
		// reflection cost more CPU than the statement. The upsert is the one
		// below, with numbered parameters, skipped for a hash already used
		// or superseded, and a no-op for the live hash itself.
		// FOR UPDATE: a concurrent change of the address (or a deletion)
		// that commits first makes the row fail email_key = $1 when the lock
		// is granted, so no link goes to an address the account no longer
		// has, after that change ended the account's tokens.
		const issue = `WITH u AS (SELECT ` + userColumns + ` FROM users WHERE email_key = $1 FOR UPDATE),
			used AS (SELECT 1 FROM reset_tokens WHERE token_hash = $2 AND used_at IS NOT NULL),
			newer AS (SELECT 1 FROM reset_tokens t JOIN u ON t.user_id = u.id
				WHERE t.used_at IS NULL AND t.token_hash <> $2 AND t.created_at > $4),
			i AS (INSERT INTO reset_tokens (user_id, token_hash, expires_at, created_at)
				SELECT id, $2, $3, $4 FROM u
				WHERE NOT EXISTS (SELECT 1 FROM used) AND NOT EXISTS (SELECT 1 FROM newer)
				ON CONFLICT (user_id) WHERE used_at IS NULL
				DO UPDATE SET token_hash = excluded.token_hash,
					expires_at = CASE WHEN reset_tokens.token_hash = excluded.token_hash THEN reset_tokens.expires_at ELSE excluded.expires_at END,
					created_at = CASE WHEN reset_tokens.token_hash = excluded.token_hash THEN reset_tokens.created_at ELSE excluded.created_at END
				WHERE reset_tokens.token_hash = excluded.token_hash OR reset_tokens.created_at <= excluded.created_at
				RETURNING user_id)
			SELECT ` + userColumns + `, EXISTS (SELECT 1 FROM i), EXISTS (SELECT 1 FROM used) FROM u`
		// newer reads the statement's snapshot, taken before the wait for
		// the account's lock: a later request's token that another issuer
		// committed during that wait is not in it. The upsert's own WHERE
		// sees the row as committed, so it is what keeps that token; the
		// issue then wrote nothing, and it was superseded unless the hash
		// was used.
		var (
			r                   userRow
			found, issued, used bool
		)
		err := d.queryRows(ctx, issue, []any{emailKey, hash, expires, requested}, func(rows *sql.Rows) error {
			found = true
			return rows.Scan(append(r.fields(), &issued, &used)...)
		})
		switch {
		case err != nil:
			return models.User{}, classify("issue token", err)
		case !found:
			return models.User{}, ErrNotFound
		case !issued && used:
			return models.User{}, ErrTokenUsed
		case !issued:
			return models.User{}, ErrSuperseded
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
		var used int64
		if err := tx.with(ctx).Model(&tokenRow{}).Where("token_hash = ? AND used_at IS NOT NULL", hash).
			Count(&used).Error; err != nil {
			return classify("issue token", err)
		}
		if used > 0 {
			return ErrTokenUsed
		}
		var live []tokenRow
		if err := tx.with(ctx).Where("user_id = ? AND used_at IS NULL", u.ID).Find(&live).Error; err != nil {
			return classify("issue token", err)
		}
		for _, t := range live {
			switch {
			case t.TokenHash == hash:
				return nil // the same email again: the link stands as it was issued
			case t.CreatedAt.After(requested):
				return ErrSuperseded
			}
		}
		return classify("issue token", tx.with(ctx).Exec(`WITH u AS (SELECT ? AS id) `+upsert, u.ID, hash, expires, requested).Error)
	})
	return u, err
}

// LiveToken returns the unused, unexpired token stored under hash and its
// account, in one query: a reset needs both before it hashes. Errors:
// ErrNotFound, a classified database error.
func (q Queries) LiveToken(ctx context.Context, hash string, now time.Time) (models.ResetToken, models.User, error) {
	var r struct {
		TokenID        int64
		TokenExpiresAt time.Time
		User           userRow `gorm:"embedded"`
	}
	res := q.with(ctx).Raw(`SELECT t.id AS token_id, t.expires_at AS token_expires_at, u.*
		FROM reset_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = ? AND t.used_at IS NULL AND t.expires_at > ?`, hash, now).Scan(&r)
	if res.Error != nil {
		return models.ResetToken{}, models.User{}, classify("find token", res.Error)
	}
	if res.RowsAffected == 0 {
		return models.ResetToken{}, models.User{}, ErrNotFound
	}
	return models.ResetToken{ID: r.TokenID, UserID: r.User.ID, ExpiresAt: r.TokenExpiresAt}, r.User.user(), nil
}

// ConsumeToken marks token id, stored under hash, used at now, guarded so
// that of many concurrent consumers exactly one succeeds. The hash is part
// of the guard because a newer token of the account replaces the row's hash
// in place (IssueToken): a token superseded after its lookup must fail, not
// consume the newer link's row. Errors: ErrConflict (used, expired,
// superseded or gone meanwhile), a classified database error.
func (q Queries) ConsumeToken(ctx context.Context, id int64, hash string, now time.Time) error {
	res := q.with(ctx).Model(&tokenRow{}).
		Where("id = ? AND token_hash = ? AND used_at IS NULL AND expires_at > ?", id, hash, now).
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
