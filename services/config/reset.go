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
)

// Reset configures the emailed reset link.
type Reset struct {
	// URL is the page the link opens; ?token= is appended.
	URL      string        `yaml:"url" env:"URL"`
	TokenTTL time.Duration `yaml:"token_ttl" env:"TOKEN_TTL"`
}

// DefaultReset returns the reset section's defaults.
func DefaultReset() Reset { return Reset{URL: DefaultResetURL, TokenTTL: DefaultTokenTTL} }

// Validate checks the section.
func (r Reset) Validate() error {
	var p problems
	if r.TokenTTL <= 0 || r.TokenTTL > MaxTokenTTL {
		p.add("reset.token_ttl must be more than 0 and at most %s, got %s", MaxTokenTTL, r.TokenTTL)
	}
	if err := models.CheckServiceURL(r.URL, false); err != nil {
		p.add("reset.url: %v", err)
	}
	return p.err()
}
