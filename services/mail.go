package services

import (
	"context"
	"time"

	"github.com/accountpw/accountpw/models"
)

// Mailer delivers one rendered message. Implementations: SendGrid, SMTP, the
// log mailer (development) and test fakes.
type Mailer interface {
	// Send delivers m. A failure the queue should classify is a *SendError;
	// any other error is treated as temporary.
	Send(ctx context.Context, m models.Message) error
}

// SendError is a classified delivery failure.
type SendError struct {
	// Permanent failures are never retried (dead letter at once).
	Permanent bool
	// RetryAfter, when positive, is the provider's requested wait (429).
	RetryAfter time.Duration
	// Status is the provider's status (HTTP or SMTP code), 0 if none.
	Status int
	// Reason is the provider's error text; never contains the message body.
	Reason string
}

func (e *SendError) Error() string { return "send: " + e.Reason }

// ResetEmail is the data of a reset email.
type ResetEmail struct {
	MessageID string
	To        string
	Link      string
	ValidFor  time.Duration
}

// NoticeEmail is the data of a "your password was changed" notice.
type NoticeEmail struct {
	MessageID      string
	To             string
	Change         string // "reset" or "change"
	At             time.Time
	IP             string
	SupportContact string
}

// RenderReset renders the reset email from templates.
func RenderReset(d ResetEmail) (models.Message, error) { panic("TODO") }

// RenderNotice renders the password-changed notice from templates.
func RenderNotice(d NoticeEmail) (models.Message, error) { panic("TODO") }
