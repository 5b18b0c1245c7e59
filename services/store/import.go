package store

import (
	"context"
	"strings"

	"gorm.io/gorm/clause"

	"github.com/accountpw/accountpw/models"
)

// Bulk statements for importing accounts: a batch of a few hundred lines is
// read with one query and written with one multi-row statement per kind of
// write, so an import costs a handful of round trips per batch instead of
// several per line.

// maxRowsPerStatement keeps a multi-row statement under the parameter
// limits of both databases (PostgreSQL 65535, SQLite 32766) with room to
// spare: 8 parameters per row.
const maxRowsPerStatement = 1000

// UsersForImport returns every account whose id is one of ids or whose
// lookup key is one of keys: what an import batch must know before it
// decides. In a transaction on PostgreSQL the rows stay locked until it
// ends, so no reset or change slips between the decision and the write
// (SQLite's IMMEDIATE transactions serialise writers anyway). Errors: a
// classified database error.
func (q Queries) UsersForImport(ctx context.Context, ids, keys []string, lock bool) ([]models.User, error) {
	var out []models.User
	for len(ids) > 0 || len(keys) > 0 {
		i, k := min(len(ids), maxRowsPerStatement), min(len(keys), maxRowsPerStatement)
		g := q.with(ctx).Where("id IN ? OR email_key IN ?", nonEmpty(ids[:i]), nonEmpty(keys[:k]))
		if lock {
			// In id order, so that concurrent imports lock in one order.
			g = g.Order("id").Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
		}
		var rows []userRow
		if err := g.Find(&rows).Error; err != nil {
			return nil, classify("find users to import", err)
		}
		for _, r := range rows {
			out = append(out, r.user())
		}
		ids, keys = ids[i:], keys[k:]
	}
	return out, nil
}

// nonEmpty keeps "IN ?" valid SQL for an empty list: an id or key that
// cannot exist ("" is neither).
func nonEmpty(s []string) []string {
	if len(s) == 0 {
		return []string{""}
	}
	return s
}

// InsertUsers inserts accounts with multi-row statements. Errors:
// ErrDuplicate when an id or lookup key is taken, a classified database
// error.
func (q Queries) InsertUsers(ctx context.Context, users []models.User) error {
	for len(users) > 0 {
		n := min(len(users), maxRowsPerStatement)
		args := make([]any, 0, 8*n)
		for _, u := range users[:n] {
			args = append(args, u.ID, u.Email, u.EmailKey, u.PasswordHash, u.Locale, u.PasswordChangedAt, u.CreatedAt, u.UpdatedAt)
		}
		insert := `INSERT INTO users (id, email, email_key, password_hash, locale, password_changed_at, created_at, updated_at) VALUES ` +
			valueRows(n, 8)
		if err := q.with(ctx).Exec(insert, args...).Error; err != nil {
			return classify("insert users", err)
		}
		users = users[n:]
	}
	return nil
}

// UpdateUsers writes address, lookup key, hash, locale, password_changed_at
// and updated_at of existing accounts, by id, with multi-row statements.
// The caller holds the rows (UsersForImport in the same transaction) and
// gives each id once, and no key that another row still holds: a unique
// key is checked row by row, so a swap within one statement would fail.
// Errors: ErrConflict when an account is gone, ErrDuplicate, a classified
// database error.
func (q Queries) UpdateUsers(ctx context.Context, users []models.User) error {
	// PostgreSQL types the parameters of a VALUES list from the first row;
	// SQLite has no such types, and a cast there would change what is
	// stored (a time would become a number), so it binds them as they come.
	text, ts := "CAST(? AS TEXT)", "CAST(? AS TIMESTAMPTZ)"
	if !q.postgres {
		text, ts = "?", "?"
	}
	row := "(" + strings.Join([]string{text, text, text, text, text, ts, ts}, ", ") + ")"
	for len(users) > 0 {
		n := min(len(users), maxRowsPerStatement)
		var sb strings.Builder
		args := make([]any, 0, 7*n)
		sb.WriteString(`WITH v (id, email, email_key, password_hash, locale, password_changed_at, updated_at) AS (VALUES `)
		for i, u := range users[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(row)
			args = append(args, u.ID, u.Email, u.EmailKey, u.PasswordHash, u.Locale, u.PasswordChangedAt, u.UpdatedAt)
		}
		sb.WriteString(`) UPDATE users SET email = v.email, email_key = v.email_key, password_hash = v.password_hash,
			locale = v.locale, password_changed_at = v.password_changed_at, updated_at = v.updated_at
			FROM v WHERE users.id = v.id`)
		res := q.with(ctx).Exec(sb.String(), args...)
		if res.Error != nil {
			return classify("update users", res.Error)
		}
		if res.RowsAffected != int64(n) {
			return ErrConflict
		}
		users = users[n:]
	}
	return nil
}

// DeleteUnusedTokensOf deletes every unused reset token of the accounts,
// in one statement per thousand. Errors: a classified database error.
func (q Queries) DeleteUnusedTokensOf(ctx context.Context, userIDs []string) error {
	for len(userIDs) > 0 {
		n := min(len(userIDs), maxRowsPerStatement)
		if err := q.with(ctx).Where("user_id IN ? AND used_at IS NULL", userIDs[:n]).Delete(&tokenRow{}).Error; err != nil {
			return classify("delete tokens", err)
		}
		userIDs = userIDs[n:]
	}
	return nil
}
