package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
)

// Mails turns the queue's jobs into emails: it is the queue's Composer.
type Mails struct {
	db         *store.DB
	reset      config.Reset
	requestURL string
	renderer   *mail.Renderer
	tokenKey   []byte
	now        func() time.Time
}

// NewMails returns the composer for cfg's reset section (link and token
// lifetime) and request page (config.Config.RequestPageURL, linked from the
// notice), rendering with r. tokenKey derives each reset email's token from
// the seed queued with it (services.ResetTokenKey); nil means every attempt
// issues a token of its own.
func NewMails(db *store.DB, cfg config.Config, r *mail.Renderer, tokenKey []byte, now func() time.Time) *Mails {
	return &Mails{db: db, reset: cfg.Reset, requestURL: cfg.RequestPageURL(), renderer: r, tokenKey: tokenKey, now: now}
}

// ComposeReset resolves the address of a reset request, issues its token
// (at its first attempt, with the full lifetime from then), and renders the
// link to the address stored on the account, in the account's locale, else
// the language negotiated from the request, else the default.
//
// Every attempt of one job carries the same link: the token is derived from
// the job's seed under the token key, so an email sent again because a
// crash cut its first send short (the provider may have taken it) does not
// kill the link of the first; a retry keeps the link's first expiry, so it
// never lives longer than one lifetime. A later request for the account
// (another seed) supersedes it, in whichever order the two are sent: an
// attempt of the earlier request after the later one's link was issued
// sends nothing. If the link was used meanwhile, that email evidently
// arrived and nothing is sent: issuing the used token again would revive
// it. (The used row outlives the job: the job stops at its deadline, the
// request time plus the lifetime, and the row is deleted only after its own
// expiry, at least that.) A job without a seed, or a composer without a
// key, issues a fresh token per attempt.
//
// Errors: queue.ErrNoRecipient (no such account), queue.ErrLinkUsed,
// queue.ErrSuperseded, a queue.Permanent error when the email cannot be
// rendered, a wrapped database error.
func (m *Mails) ComposeReset(ctx context.Context, job queue.Reset, messageID string) (models.Message, error) {
	now := m.now()
	// The link answers the job's request: a later request's link stands.
	// Without a seed every attempt is a new link, which answers now.
	var plain, hash string
	requested := now
	if m.tokenKey != nil && job.TokenSeed != "" {
		plain, hash = tokenFromSeed(m.tokenKey, job.TokenSeed)
		if !job.RequestedAt.IsZero() {
			requested = job.RequestedAt
		}
	} else {
		plain, hash = newToken()
	}
	u, err := m.db.IssueToken(ctx, job.EmailKey, hash, now.Add(m.reset.TokenTTL), requested)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return models.Message{}, queue.ErrNoRecipient
	case errors.Is(err, store.ErrTokenUsed):
		return models.Message{}, queue.ErrLinkUsed
	case errors.Is(err, store.ErrSuperseded):
		return models.Message{}, queue.ErrSuperseded
	case err != nil:
		return models.Message{}, fmt.Errorf("issue reset token: %w", err)
	}
	link, err := resetLink(m.reset.URL, plain)
	if err != nil {
		return models.Message{}, queue.Permanent(err)
	}
	msg, err := m.renderer.RenderReset(mail.ResetEmail{MessageID: messageID, To: u.Email,
		Language: m.renderer.Language(u.Locale, job.Language), Link: link, ValidFor: m.reset.TokenTTL})
	if err != nil {
		return models.Message{}, queue.Permanent(err)
	}
	return msg, nil
}

// ComposeNotice renders the "password changed" notice to the account's
// stored address, in the account's locale, else the language negotiated from
// the request that made the change, else the default. Errors:
// queue.ErrNoRecipient, a queue.Permanent error when it cannot be rendered,
// a wrapped database error.
func (m *Mails) ComposeNotice(ctx context.Context, job queue.Notice, messageID string) (models.Message, error) {
	u, err := m.db.UserByID(ctx, job.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return models.Message{}, queue.ErrNoRecipient
	}
	if err != nil {
		return models.Message{}, fmt.Errorf("find account: %w", err)
	}
	msg, err := m.renderer.RenderNotice(mail.NoticeEmail{MessageID: messageID, To: u.Email,
		Language: m.renderer.Language(u.Locale, job.Language), Change: job.Change, At: job.At, IP: job.IP,
		RequestLink: m.requestURL})
	if err != nil {
		return models.Message{}, queue.Permanent(err)
	}
	return msg, nil
}

// resetLink appends ?token= to the configured page. Scheme and host come
// only from configuration, never from the request.
func resetLink(base, token string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("reset link: %w", err)
	}
	u.RawQuery = url.Values{"token": {token}}.Encode()
	u.Fragment = ""
	return u.String(), nil
}
