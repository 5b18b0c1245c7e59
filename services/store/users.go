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
	return q.replaceHash(ctx, "set password", id, readHash,
		map[string]any{"password_hash": newHash, "password_changed_at": at, "updated_at": at})
}

// replaceHash writes set to the account id if its hash is still readHash:
// the guard that makes a change that committed meanwhile win. Errors:
// ErrConflict when it is not, a classified database error.
func (q Queries) replaceHash(ctx context.Context, op, id, readHash string, set map[string]any) error {
	res := q.with(ctx).Model(&userRow{}).Where("id = ? AND password_hash = ?", id, readHash).Updates(set)
	if res.Error != nil {
		return classify(op, res.Error)
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
// its wrong-password run. Run it in a transaction (InTx), so that the three
// deletes, and whatever the caller records with them, commit together. Jobs
// already queued for the account stay: the queue's composer finds no
// account and drops them. Errors: ErrNotFound, a classified database error.
func (q Queries) DeleteUser(ctx context.Context, id string) error {
	// Tokens first: they refer to the account (the foreign key would
	// cascade, but only where foreign keys are enforced).
	if err := q.with(ctx).Where("user_id = ?", id).Delete(&tokenRow{}).Error; err != nil {
		return classify("delete user", err)
	}
	if err := q.with(ctx).Exec(`DELETE FROM change_failures WHERE user_id = ?`, id).Error; err != nil {
		return classify("delete user", err)
	}
	res := q.with(ctx).Where("id = ?", id).Delete(&userRow{})
	if res.Error != nil {
		return classify("delete user", res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrNotFound
	}
	return nil
}

// RehashPassword replaces the account's hash with newHash, a hash of the
// same password, guarded by the hash the caller verified: if the password
// changed since, nothing is written. password_changed_at stays, so no
// session ends; updated_at moves to at. Errors: ErrConflict, a classified
// database error.
func (q Queries) RehashPassword(ctx context.Context, id, readHash, newHash string, at time.Time) error {
	return q.replaceHash(ctx, "rehash password", id, readHash, map[string]any{"password_hash": newHash, "updated_at": at})
}

// ListUsers returns up to limit accounts whose id sorts after after ("" for
// the first page), in the byte order of their ids, which both databases
// share: PostgreSQL is told to compare in the "C" collation (its default
// collation may order text by language), SQLite compares bytes anyway.
// Errors: a classified database error.
func (q Queries) ListUsers(ctx context.Context, after string, limit int) ([]models.User, error) {
	order := "id"
	if q.postgres {
		order = `id COLLATE "C"`
	}
	var rows []userRow
	err := q.with(ctx).Where(order+" > ?", after).Order(order).Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, classify("list users", err)
	}
	out := make([]models.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}
