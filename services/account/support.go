package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/ratelimit"
	"github.com/accountpw/accountpw/services/store"
)

// A support desk's reset: the adopting application asks, by account id, for
// a reset email to be sent, or for the link itself (an application that
// sends its own mail). No client of the public resource is involved, so no
// per-client limit applies; the per-address quota does, to emails.

// EmailReset queues a reset email for the account id, as a {"email"}
// request for its address would: the link is issued when the email is
// composed, in the account's language, and supersedes any earlier link.
// The email counts against the address's quota (a support desk cannot
// flood a mailbox either). Errors: models.ErrInvalidUserID, ErrNoAccount,
// models.RateLimited (over the quota; Retry-After is when it frees), a
// wrapped database error.
func (p *Passwords) EmailReset(ctx context.Context, c models.Client, id string) error {
	u, err := p.supportAccount(ctx, id)
	if err != nil {
		return err
	}
	now := p.Now()
	recipient := p.Pseudo.Email(u.EmailKey)
	err = p.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := p.Limits.AddressQuota(ctx, tx, u.EmailKey); err != nil {
			return err
		}
		return p.Queue.EnqueueResets(ctx, tx, []queue.Reset{{EmailKey: u.EmailKey, RequestedAt: now,
			Deadline: now.Add(p.reset.TokenTTL), IP: c.IP, RequestID: c.RequestID, Recipient: recipient,
			Language: mail.Negotiate(c.Languages), TokenSeed: newTokenSeed()}})
	})
	if models.KindOf(err) == models.KindRateLimited {
		p.event(ctx, c, "support_reset_refused", slog.String("user_id", u.ID), slog.String("reason", ratelimit.ReasonAddressQuota))
		return err
	}
	if err != nil {
		return fmt.Errorf("support reset: %w", err)
	}
	p.event(ctx, c, "support_reset_queued", slog.String("user_id", u.ID), slog.String("recipient", recipient))
	return nil
}

// issueAttempts bounds how often ResetLink looks the account up again when
// its address moved between the lookup and the token's issue.
const issueAttempts = 3

// ResetLink issues a reset link for the account id and returns it instead
// of mailing it: the same link, lifetime and rules as an emailed one, and
// like one it supersedes any earlier link. It is not counted against the
// address's quota (nothing is sent). The link is a secret of the account:
// it is never logged. Errors: models.ErrInvalidUserID, ErrNoAccount, a
// wrapped database error.
func (p *Passwords) ResetLink(ctx context.Context, c models.Client, id string) (models.ResetLink, error) {
	for range issueAttempts {
		u, err := p.supportAccount(ctx, id)
		if err != nil {
			return models.ResetLink{}, err
		}
		plain, hash := newToken()
		now := p.Now()
		expires := now.Add(p.reset.TokenTTL)
		// Issued by address, as an emailed link is: the statement locks the
		// account and fails if its address moved since it was read.
		if _, err = p.DB.IssueToken(ctx, u.EmailKey, hash, expires, now); errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return models.ResetLink{}, fmt.Errorf("reset link: %w", err)
		}
		link, err := resetLink(p.reset.URL, plain)
		if err != nil {
			return models.ResetLink{}, err
		}
		p.event(ctx, c, "reset_link_issued", slog.String("user_id", u.ID))
		return models.ResetLink{Link: link, ExpiresAt: expires}, nil
	}
	return models.ResetLink{}, ErrNoAccount
}

// supportAccount is the account a support reset names.
func (p *Passwords) supportAccount(ctx context.Context, id string) (models.User, error) {
	if err := models.ValidateUserID(id); err != nil {
		return models.User{}, invalidID(err)
	}
	u, err := p.DB.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return models.User{}, ErrNoAccount
	}
	if err != nil {
		return models.User{}, fmt.Errorf("support reset: %w", err)
	}
	return u, nil
}
