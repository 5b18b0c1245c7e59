package account

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
)

// RequestReset validates the address and durably queues a reset email. It
// does the same work for every address, known or not: it never looks the
// account up and never talks to the mail provider, so neither the answer nor
// its timing says whether an account exists. Over the per-address quota it
// silently queues nothing. Errors: models.ErrInvalidEmail, models.RateLimited
// (per client), a wrapped database error.
func (p *Passwords) RequestReset(ctx context.Context, c models.Client, email string) error {
	if err := models.ValidateEmail(email); err != nil {
		return err
	}
	key := models.EmailKey(email)
	recipient := p.Pseudo.Email(key)
	// From the request alone, like everything here: the account's own
	// locale is looked up only when the email is composed.
	lang := mail.Negotiate(c.Languages)
	// The limits and the enqueue commit once: a refused request keeps its
	// counts and queues nothing.
	var limited error
	queued := false
	err := p.DB.InTx(ctx, func(tx *store.Tx) error {
		ok, err := p.Limits.ResetRequest(ctx, tx, c.IP, key)
		if models.KindOf(err) == models.KindRateLimited {
			limited = err
			return nil
		}
		if err != nil || !ok {
			return err
		}
		queued = true
		now := p.Now()
		return p.Queue.EnqueueReset(ctx, tx, queue.Reset{EmailKey: key, RequestedAt: now,
			Deadline: now.Add(p.reset.TokenTTL), IP: c.IP, RequestID: c.RequestID, Recipient: recipient, Language: lang})
	})
	if err != nil {
		return fmt.Errorf("request reset: %w", err)
	}
	if limited != nil {
		p.event(ctx, c, "throttled", slog.String("limit", "reset_request_ip"))
		return limited
	}
	p.event(ctx, c, "reset_requested", slog.String("recipient", recipient), slog.Bool("queued", queued))
	return nil
}
