package queue

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// WebhookDeadline is how long an event is retried. After a day the
// receiver is better served by comparing password_changed_at than by a
// late event, and a dead letter tells the operator something is wrong.
const WebhookDeadline = 24 * time.Hour

// KindWebhook is the kind of webhook jobs in delivery log lines and in the
// dead-letter list, next to the mail kinds.
const KindWebhook = "webhook"

// Webhook is a queued event for the adopting application. It holds the
// event itself, never an address, a hash or a client IP.
type Webhook struct {
	// MessageID is the webhook-id of every attempt, chosen at enqueue so
	// that a retried event keeps it and the receiver can drop a repeat.
	MessageID string        `json:"message_id"`
	Event     webhook.Event `json:"event"`
	Deadline  time.Time     `json:"deadline"`
}

// Kind names the job in River.
func (Webhook) Kind() string { return KindWebhook }

// SendsEvents reports whether events are queued at all: webhook.url is set.
func (q *Queue) SendsEvents() bool { return q.deps.Webhooks != nil }

// SendsEvent reports whether events of type typ are queued: webhook.url is
// set and webhook.events lists the type.
func (q *Queue) SendsEvent(typ string) bool { return q.SendsEvents() && q.deps.Webhooks.Wants(typ) }

// EnqueueEvents records the events of the types webhook.events lists inside
// tx, in one statement, so that each exists exactly when the change it
// reports commits; the others, and every event without webhook.url, are
// dropped here. Errors: a database error classified by store.
func (q *Queue) EnqueueEvents(ctx context.Context, tx *store.Tx, events []webhook.Event) error {
	params := make([]river.InsertManyParams, 0, len(events))
	for _, e := range events {
		if q.SendsEvent(e.Type) {
			params = append(params, river.InsertManyParams{Args: Webhook{MessageID: newMessageID(), Event: e,
				Deadline: e.Timestamp.Add(WebhookDeadline)}})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := q.client.InsertManyFastTx(ctx, tx.SQL(), params); err != nil {
		return q.deps.DB.Classify(ctx, "enqueue webhook events", err)
	}
	return nil
}

// newMessageID returns "msg_" and 128 random bits in base64url: unique
// without coordination, and safe in a header.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms (Go 1.24+)
	return "msg_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// webhookWorker delivers one event per job through the webhook.Sender and
// turns its outcome into River's vocabulary.
type webhookWorker struct {
	river.WorkerDefaults[Webhook]
	q *Queue
}

// NextRetry schedules the next attempt after a failure, as for mail.
func (w *webhookWorker) NextRetry(job *river.Job[Webhook]) time.Time {
	return time.Now().Add(backoff(job.Attempt, w.q.tuning.RetryBase, w.q.retryCap))
}

// Work makes one attempt. Any 2xx: done. No answer, a network error, 408
// or 5xx: retried with backoff until the deadline. 429: snoozed for its
// Retry-After (or one backoff step). 410: the receiver asked for no more
// events, so the event is dropped, logged and not kept as a dead letter.
// Any other 4xx or a 3xx, an event past its deadline, or a job left over
// from when webhook.url was set: a dead letter at once.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[Webhook]) error {
	q, a := w.q, job.Args
	log := func(outcome string, err error) {
		// No RequestedAt: the delivery lag measured from it is the emails'.
		q.logDelivery(ctx, Delivery{Kind: KindWebhook, Attempt: job.Attempt}, a.MessageID, "", outcome, err)
	}
	if q.deps.Webhooks == nil {
		err := errors.New("webhook: webhook.url is not set any more; the event was not sent")
		log("dead_letter", err)
		return river.JobCancel(err)
	}
	if !a.Deadline.IsZero() && q.deps.Now().After(a.Deadline) {
		log("expired", nil)
		return river.JobCancel(fmt.Errorf("webhook: not delivered within %s", WebhookDeadline))
	}
	body, err := a.Event.Body()
	if err != nil {
		log("dead_letter", err)
		return river.JobCancel(fmt.Errorf("webhook: %w", err))
	}
	o := q.deps.Webhooks.Send(ctx, a.MessageID, body)
	reason := errors.New(o.Reason)
	switch {
	case o.Delivered:
		log("sent", nil)
		return nil
	case o.Gone:
		log("gone", reason)
		return nil
	case o.Permanent:
		log("dead_letter", reason)
		return river.JobCancel(reason)
	case o.Status == 429:
		wait := o.RetryAfter
		if wait <= 0 {
			wait = backoff(job.Attempt, q.tuning.RetryBase, q.retryCap)
		}
		log("throttled", reason)
		return river.JobSnooze(wait)
	default:
		log("retry", reason)
		return reason
	}
}
