package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/batch"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/ratelimit"
	"github.com/accountpw/accountpw/services/store"
)

// resetRequest is one {"email"} waiting for its batch.
type resetRequest struct {
	client               models.Client
	key, recipient, lang string
	at                   time.Time
}

// resetOutcome is what its batch decided: refused per client (limited), or
// counted and queued, or counted and silently over the address's quota
// (quota names the full window's setting, for the log).
type resetOutcome struct {
	limited   error
	limitedBy string
	queued    bool
	quota     string
}

// RequestReset validates the address and durably queues a reset email. It
// does the same work for every address, known or not: it never looks the
// account up and never talks to the mail provider, so neither the answer nor
// its timing says whether an account exists. Over the per-address quota it
// silently queues nothing.
//
// Concurrent requests are committed together (group commit): one
// transaction counts the limits of a whole batch in one statement, decides
// each request in arrival order, and inserts the batch's jobs in one more,
// so the limits and the enqueue still commit atomically for every request.
// A request answers only after its batch committed. It counts against the
// per-client ceiling too, in the same statement as its other limits.
// Errors: models.ErrInvalidEmail, models.RateLimited (per client),
// models.ErrUnavailable (shutting down), a wrapped database error (the whole
// batch failed: nothing of it was counted or queued).
func (p *Passwords) RequestReset(ctx context.Context, c models.Client, email string) error {
	if err := models.ValidateEmail(email); err != nil {
		// Refused before its batch, it still counts against the ceiling.
		if lerr := p.Admit(ctx, c); lerr != nil {
			return lerr
		}
		return err
	}
	key := models.EmailKey(email)
	// The language is negotiated from the request alone, like everything
	// here: the account's own locale is looked up only when the email is
	// composed.
	req := resetRequest{client: c, key: key, recipient: p.Pseudo.Email(key), lang: mail.Negotiate(c.Languages), at: p.Now()}
	out, err := p.resets.Do(ctx, req)
	if errors.Is(err, batch.ErrClosed) || errors.Is(err, batch.ErrFull) {
		return models.ErrUnavailable
	}
	if err != nil {
		return fmt.Errorf("request reset: %w", err)
	}
	if out.limited != nil {
		p.throttled(ctx, c, out.limitedBy)
		return out.limited
	}
	attrs := []slog.Attr{slog.String("recipient", req.recipient), slog.Bool("queued", out.queued)}
	if !out.queued {
		// Only the log says why nothing was sent; the answer is the same
		// 202 as for every address, known or not, within the quota or not.
		attrs = append(attrs, slog.String("reason", ratelimit.ReasonAddressQuota), slog.String("limit", out.quota))
	}
	p.event(ctx, c, "reset_requested", attrs...)
	return nil
}

// flushResets commits one batch of reset requests: their limits and the jobs
// of those within them, in one transaction.
func (p *Passwords) flushResets(ctx context.Context, reqs []resetRequest) ([]resetOutcome, error) {
	out := make([]resetOutcome, len(reqs))
	err := p.DB.InTx(ctx, func(tx *store.Tx) error {
		limits := make([]ratelimit.ResetRequest, len(reqs))
		for i, r := range reqs {
			limits[i] = ratelimit.ResetRequest{IP: r.client.IP, Key: r.key}
		}
		verdicts, err := p.Limits.ResetRequests(ctx, tx, limits)
		if err != nil {
			return err
		}
		jobs := make([]queue.Reset, 0, len(reqs))
		for i, v := range verdicts {
			out[i] = resetOutcome{limited: v.Limited, limitedBy: v.LimitedBy, queued: v.Send, quota: v.Quota}
			if v.Send {
				r := reqs[i]
				jobs = append(jobs, queue.Reset{EmailKey: r.key, RequestedAt: r.at, Deadline: r.at.Add(p.reset.TokenTTL),
					IP: r.client.IP, RequestID: r.client.RequestID, Recipient: r.recipient, Language: r.lang,
					TokenSeed: newTokenSeed()})
			}
		}
		return p.Queue.EnqueueResets(ctx, tx, jobs)
	})
	return out, err
}
