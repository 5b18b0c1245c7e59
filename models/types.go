package models

import "time"

// User is an account whose password this service manages. ID is the
// adopting application's own id for the person when it brought one (see
// ValidateUserID), else a generated UUID; it is the sub of bearer tokens.
// PasswordHash is empty for an account without a password (imported
// without one: it can only be reset by email). Email is the address as
// stored (mail goes only there); EmailKey is its lookup form (see EmailKey)
// and is unique. Locale, when set, is the language its emails are written
// in (a BCP 47 tag checked by Languages.ParseLocale).
type User struct {
	ID                string
	Email             string
	EmailKey          string
	PasswordHash      string
	Locale            string
	PasswordChangedAt time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// ResetToken is the stored half of a live reset link. Only a hash of the
// token is ever stored, so a copy of the database holds no usable link.
type ResetToken struct {
	ID        int64
	UserID    string
	ExpiresAt time.Time
}

// PasswordMethod says how a password was set.
type PasswordMethod string

// The ways a password changes.
const (
	MethodReset  PasswordMethod = "reset"  // with a token from a reset email
	MethodChange PasswordMethod = "change" // by a signed-in user who knew the old one
)

// Session is what a verified bearer token says about its holder.
type Session struct {
	UserID   string
	IssuedAt time.Time
}

// Client describes who sent a request, for rate limits, notices and logs.
type Client struct {
	// IP is the connection peer, or the address a trusted proxy reported.
	IP string
	// RequestID correlates log lines of one request and its jobs.
	RequestID string
	// Languages is the request's Accept-Language value, capped at
	// MaxAcceptLanguage bytes; services negotiate it into a supported tag
	// (Languages.Negotiate) and never keep the raw value.
	Languages string
}

// Message kinds.
const (
	MessageReset  = "reset"  // the reset link
	MessageNotice = "notice" // "your password was changed"
)

// Message is one rendered email, ready for a Mailer.
type Message struct {
	// ID is unique per message and stable across delivery attempts.
	ID   string
	Kind string
	To   string
	// Language is the BCP 47 tag the message is written in.
	Language string
	Subject  string
	Text     string
	HTML     string
}

// The webhook event types: their names are a contract with the adopting
// application's receiver. password.changed is sent whenever webhooks are
// on; the account ones only when asked for.
const (
	EventPasswordChanged     = "password.changed"
	EventAccountCreated      = "account.created"
	EventAccountEmailChanged = "account.email_changed"
	EventAccountDeleted      = "account.deleted"
)

// EventTypes lists every webhook event type.
var EventTypes = []string{EventPasswordChanged, EventAccountCreated, EventAccountEmailChanged, EventAccountDeleted}
