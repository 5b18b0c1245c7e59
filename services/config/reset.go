package config

import (
	"time"

	"github.com/accountpw/accountpw/models"
)

// Defaults and bounds of the reset section.
const (
	DefaultResetURL = "http://localhost:8080/password-reset"
	DefaultTokenTTL = 30 * time.Minute
	// MaxTokenTTL bounds how long a reset link may live: long enough for slow
	// mail, short enough that an old mailbox holds no live link.
	MaxTokenTTL = time.Hour
	// MinTokenTTL is the shortest lifetime the reset email can state: it
	// says how long a link lasts in whole seconds, rounded down.
	MinTokenTTL = time.Second
	// MinTokenKeyBytes is the shortest reset token key accepted: as long as
	// the HMAC-SHA-256 output it keys.
	MinTokenKeyBytes = 32
)

// Reset configures the emailed reset link and the built-in page it opens.
type Reset struct {
	// URL is the page the link opens; ?token= is appended.
	URL      string        `yaml:"url" env:"URL"`
	TokenTTL time.Duration `yaml:"token_ttl" env:"TOKEN_TTL"`
	// TokenKey (a secret, from the environment only) derives a reset
	// email's token from the random seed queued with it, so that every
	// attempt to send that email carries the same link. Empty means one
	// derived from the JWT secret; in JWKS mode without it, each attempt
	// issues a new token instead.
	TokenKey string `yaml:"-" env:"TOKEN_KEY"`
	// SignInURL, when set, is where the built-in page's "continue to sign
	// in" link leads once a reset succeeded; empty shows no link.
	SignInURL string `yaml:"sign_in_url" env:"SIGN_IN_URL"`
}

// DefaultReset returns the reset section's defaults.
func DefaultReset() Reset { return Reset{URL: DefaultResetURL, TokenTTL: DefaultTokenTTL} }

// Validate checks the section.
func (r Reset) Validate() error {
	var p problems
	if r.TokenTTL < MinTokenTTL || r.TokenTTL > MaxTokenTTL {
		p.add("reset.token_ttl must be at least %s and at most %s, got %s", MinTokenTTL, MaxTokenTTL, r.TokenTTL)
	}
	if err := models.CheckServiceURL(r.URL, false); err != nil {
		p.add("reset.url: %v", err)
	}
	if r.TokenKey != "" && len(r.TokenKey) < MinTokenKeyBytes {
		p.add("ACCOUNTPW_RESET_TOKEN_KEY must have at least %d bytes", MinTokenKeyBytes)
	}
	if r.SignInURL != "" {
		// Linked from a page people trust because it came by email: as
		// trustworthy as reset.url. A query may carry where to go next.
		if err := models.CheckServiceURL(r.SignInURL, true); err != nil {
			p.add("reset.sign_in_url: %v", err)
		}
	}
	return p.err()
}
