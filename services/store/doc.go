// Package store is the only place in accountpw that speaks SQL: it opens
// PostgreSQL or the embedded SQLite file, applies the embedded migrations
// (the service's own and the mail queue's), and offers named queries over
// the users, reset_tokens, rate_limit_counters and change_failures tables,
// on the pool or inside a transaction (InTx), with multi-row forms for bulk
// imports (import.go), and counts the mail queue's jobs by state for the
// metrics.
//
// Every error it returns is classified once, here (errors.go): ErrNotFound,
// ErrDuplicate and ErrConflict are outcomes the caller decides about; an
// error that means the database cannot be used right now also matches
// models.ErrUnavailable (503 + Retry-After), and so does a missing table
// while the schema is behind the binary's migrations (schema.go); anything
// else is a server fault. No statement outlasts a few seconds unless its
// caller bounds it (timeout.go), and statements are logged as placeholder
// text only, never with a bound value (logger.go).
//
// It imports models, config, GORM and the database drivers, goose, and
// River's migrator; nothing above it (the domain packages) touches SQL.
package store
