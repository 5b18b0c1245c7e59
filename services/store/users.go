package store

import (
	"context"
	"time"

	"github.com/accountpw/accountpw/models"
)

// userRow is the users table.
type userRow struct {
	ID                string    `gorm:"primaryKey;type:text"`
	Email             string    `gorm:"type:text;not null"`
	EmailKey          string    `gorm:"type:text;not null;uniqueIndex"`
	PasswordHash      string    `gorm:"type:text;not null"`
	Locale            string    `gorm:"type:text;not null;default:''"`
	PasswordChangedAt time.Time `gorm:"not null"`
	CreatedAt         time.Time `gorm:"not null"`
	UpdatedAt         time.Time `gorm:"not null"`
}

func (userRow) TableName() string { return "users" }

// userColumns are the users table's columns in the order of fields.
const userColumns = `id, email, email_key, password_hash, locale, password_changed_at, created_at, updated_at`

// fields are r's fields in the order of userColumns, for Scan.
func (r *userRow) fields() []any {
	return []any{&r.ID, &r.Email, &r.EmailKey, &r.PasswordHash, &r.Locale, &r.PasswordChangedAt, &r.CreatedAt, &r.UpdatedAt}
}

func (r userRow) user() models.User {
	return models.User{ID: r.ID, Email: r.Email, EmailKey: r.EmailKey, PasswordHash: r.PasswordHash,
		Locale: r.Locale, PasswordChangedAt: r.PasswordChangedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// CreateUser inserts an account. Errors: ErrDuplicate when its id or email
// key is taken, a classified database error.
func (q Queries) CreateUser(ctx context.Context, u models.User) error {
	r := userRow{ID: u.ID, Email: u.Email, EmailKey: u.EmailKey, PasswordHash: u.PasswordHash, Locale: u.Locale,
		PasswordChangedAt: u.PasswordChangedAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	return classify("create user", q.with(ctx).Create(&r).Error)
}

// UserByID returns an account. Errors: ErrNotFound, a classified database
// error.
func (q Queries) UserByID(ctx context.Context, id string) (models.User, error) {
	var r userRow
	err := q.with(ctx).Where("id = ?", id).Take(&r).Error
	return r.user(), classify("find user", err)
}

// UserByEmailKey returns the account whose lookup key is key. Errors:
// ErrNotFound, a classified database error.
func (q Queries) UserByEmailKey(ctx context.Context, key string) (models.User, error) {
	var r userRow
	err := q.with(ctx).Where("email_key = ?", key).Take(&r).Error
	return r.user(), classify("find user", err)
}

// PasswordChangedAt returns when the account's password last changed, for
// session checks. Errors: ErrNotFound, a classified database error.
func (q Queries) PasswordChangedAt(ctx context.Context, id string) (time.Time, error) {
	var r userRow
	err := q.with(ctx).Select("id", "password_changed_at").Where("id = ?", id).Take(&r).Error
	return r.PasswordChangedAt, classify("find user", err)
}

// SetPassword replaces the account's hash with newHash and moves
// password_changed_at to at, guarded by the hash the caller read: if another
// change committed since, nothing is written. Errors: ErrConflict, a
// classified database error.
func (q Queries) SetPassword(ctx context.Context, id, readHash, newHash string, at time.Time) error {
	res := q.with(ctx).Model(&userRow{}).Where("id = ? AND password_hash = ?", id, readHash).
		Updates(map[string]any{"password_hash": newHash, "password_changed_at": at, "updated_at": at})
	if res.Error != nil {
		return classify("set password", res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrConflict
	}
	return nil
}

// SetEmail replaces the account's address and its lookup key. Errors:
// ErrNotFound, ErrDuplicate (another account has the key), a classified
// database error.
func (q Queries) SetEmail(ctx context.Context, id, email, key string, at time.Time) error {
	res := q.with(ctx).Model(&userRow{}).Where("id = ?", id).
		Updates(map[string]any{"email": email, "email_key": key, "updated_at": at})
	if res.Error != nil {
		return classify("set email", res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}

// DeleteUser removes the account with its reset tokens (used or not) and
// its wrong-old-password run, in one transaction. Jobs already queued for it
// stay: the queue's composer finds no account and drops them. Errors:
// ErrNotFound, a classified database error.
func (d *DB) DeleteUser(ctx context.Context, id string) error {
	return d.InTx(ctx, func(tx *Tx) error {
		// Tokens first: they refer to the account (the foreign key would
		// cascade, but only where foreign keys are enforced).
		if err := tx.with(ctx).Where("user_id = ?", id).Delete(&tokenRow{}).Error; err != nil {
			return classify("delete user", err)
		}
		if err := tx.with(ctx).Exec(`DELETE FROM change_failures WHERE user_id = ?`, id).Error; err != nil {
			return classify("delete user", err)
		}
		res := tx.with(ctx).Where("id = ?", id).Delete(&userRow{})
		if res.Error != nil {
			return classify("delete user", res.Error)
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return nil
	})
}
