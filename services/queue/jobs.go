package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// Reset is a queued reset request. It carries the lookup key, not an
// account: the Composer resolves it when the job runs, so the request path is
// the same for every address.
type Reset struct {
	EmailKey    string    `json:"email_key"`
	RequestedAt time.Time `json:"requested_at"`
	// Deadline is when the email is no longer worth sending (the link's
	// lifetime after the request).
	Deadline  time.Time `json:"deadline"`
	IP        string    `json:"ip"`
	RequestID string    `json:"request_id"`
	Recipient string    `json:"recipient"` // keyed pseudonym, for operators
	// Language is the supported tag negotiated from the request's
	// Accept-Language (mail.Negotiate), or "": never the raw header.
	Language string `json:"language,omitempty"`
	// TokenSeed is the random seed the link's token is derived from under
	// a key the database never holds, so that every attempt to send this
	// email carries the same link; "" (a job queued by an older version)
	// means each attempt issues a token of its own.
	TokenSeed string `json:"token_seed,omitempty"`
}

// Kind names the job in River.
func (Reset) Kind() string { return "reset_email" }

// Notice is a queued "your password was changed" notice.
type Notice struct {
	UserID    string                `json:"user_id"`
	Change    models.PasswordMethod `json:"change"`
	At        time.Time             `json:"at"`
	Deadline  time.Time             `json:"deadline"`
	IP        string                `json:"ip"`
	RequestID string                `json:"request_id"`
	Recipient string                `json:"recipient"`
	// Language is the supported tag negotiated from the Accept-Language of
	// the request that changed the password, or "".
	Language string `json:"language,omitempty"`
}

// Kind names the job in River.
func (Notice) Kind() string { return "password_notice" }

func (r Reset) deadline() time.Time     { return r.Deadline }
func (r Reset) recipient() string       { return r.Recipient }
func (r Reset) requestedAt() time.Time  { return r.RequestedAt }
func (n Notice) deadline() time.Time    { return n.Deadline }
func (n Notice) recipient() string      { return n.Recipient }
func (n Notice) requestedAt() time.Time { return n.At }

// EnqueueResets durably records reset requests inside tx, in one statement,
// so they exist exactly when tx commits. Errors: a database error classified
// by store (models.ErrUnavailable when the database cannot be used now).
func (q *Queue) EnqueueResets(ctx context.Context, tx *store.Tx, jobs []Reset) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{Args: j}
	}
	if _, err := q.client.InsertManyFastTx(ctx, tx.SQL(), params); err != nil {
		return q.deps.DB.Classify(ctx, "enqueue reset emails", err)
	}
	return nil
}

// EnqueueNotice records a notice inside tx, so it is sent exactly when the
// change it reports commits. Errors: a database error classified by store.
func (q *Queue) EnqueueNotice(ctx context.Context, tx *store.Tx, job Notice) error {
	if _, err := q.client.InsertTx(ctx, tx.SQL(), job, nil); err != nil {
		return q.deps.DB.Classify(ctx, "enqueue notice", err)
	}
	return nil
}
