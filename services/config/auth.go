package config

import (
	"time"

	"github.com/accountpw/accountpw/models"
)

// MinJWTSecretBytes is the shortest HS256 secret accepted: 256 bits, the
// size of the HMAC-SHA-256 output.
const MinJWTSecretBytes = 32

// Auth configures how bearer tokens are verified: HS256 with JWTSecret, or
// asymmetric keys from JWKSURL. On the embedded default, with neither set, a
// secret is generated into the data directory.
type Auth struct {
	JWTSecret string `yaml:"-" env:"JWT_SECRET"`
	JWKSURL   string `yaml:"jwks_url" env:"JWKS_URL"`
	Issuer    string `yaml:"issuer" env:"ISSUER"`
	Audience  string `yaml:"audience" env:"AUDIENCE"`
	// MaxTokenAge, when positive, refuses a bearer whose iat is older than
	// this, however far its exp lies: a bound on sessions for issuers that
	// mint long-lived tokens. Zero leaves it off.
	MaxTokenAge time.Duration `yaml:"max_token_age" env:"MAX_TOKEN_AGE"`
}

// Validate checks the section.
func (a Auth) Validate() error {
	var p problems
	if a.JWTSecret != "" && a.JWKSURL != "" {
		p.add("set only one of ACCOUNTPW_AUTH_JWT_SECRET and ACCOUNTPW_AUTH_JWKS_URL")
	}
	if a.JWTSecret != "" && len(a.JWTSecret) < MinJWTSecretBytes {
		p.add("ACCOUNTPW_AUTH_JWT_SECRET must have at least %d bytes", MinJWTSecretBytes)
	}
	if a.MaxTokenAge < 0 {
		p.add("auth.max_token_age must not be negative (0 turns it off)")
	}
	if a.JWKSURL != "" {
		if err := models.CheckServiceURL(a.JWKSURL, true); err != nil {
			p.add("auth.jwks_url: %v", err)
		}
	}
	return p.err()
}
