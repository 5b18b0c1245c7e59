// Package services wires accountpw together: App opens the database, builds
// every capability from the configuration and hands the handlers their
// Service. main.go, the end-to-end tests and the benchmarks all build the
// application through Open, so they run the same thing.
//
// The capabilities live in the packages below it, each owning one concern:
//
//	config     typed configuration sections, defaults, Validate, Load
//	store      the only SQL: open, migrate, named queries, error classes
//	slots      the bound on concurrent memory-heavy computations
//	hash       argon2id PHC hashing and peppers
//	policy     whether a new password is acceptable
//	ratelimit  rate limits counted in the database
//	mail       rendering and the log, SendGrid and SMTP providers
//	webhook    signed password.changed events for the adopting application
//	queue      the durable mail and event queue (River)
//	sessions   bearer JWT verification
//	account    the operations: request a reset, reset, change; the
//	           operator's create, import, show, set-email and delete
//
// Imports point down this list (config and models at the bottom); nothing
// under services imports echo or handlers. The command line, services/cli,
// sits above App: it opens it for each command, and nothing here imports it.
package services
