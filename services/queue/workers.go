package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/mail"
)

// mailJob is what every mail job carries besides its content.
type mailJob interface {
	river.JobArgs
	deadline() time.Time
	recipient() string
	requestedAt() time.Time
}

// mailWorker works one kind of mail job: check its deadline, have it
// composed, deliver it.
type mailWorker[T mailJob] struct {
	river.WorkerDefaults[T]
	q       *Queue
	kind    string
	compose func(ctx context.Context, job T, messageID string) (models.Message, error)
}

// NextRetry schedules the next attempt after a failure: see backoff. River
// schedules in real time, whatever the queue's clock says.
func (w *mailWorker[T]) NextRetry(job *river.Job[T]) time.Time {
	return time.Now().Add(backoff(job.Attempt, w.q.tuning.RetryBase, w.q.retryCap))
}

// Work sends one message. A job past its deadline is dropped as a dead
// letter (the message would arrive useless); a job without a recipient is
// done without sending. A job without a deadline (queued by a version that
// did not set one) is sent whenever it runs: a reset link is issued with its
// full lifetime at the send attempt, so it is never dead on arrival.
func (w *mailWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	q, a := w.q, job.Args
	id := "job-" + strconv.FormatInt(job.ID, 10)
	d := Delivery{Kind: w.kind, Attempt: job.Attempt, RequestedAt: a.requestedAt()}
	if dl := a.deadline(); !dl.IsZero() && q.deps.Now().After(dl) {
		q.logDelivery(ctx, d, id, a.recipient(), "expired", nil)
		return river.JobCancel(fmt.Errorf("%s email not delivered before its deadline", w.kind))
	}
	msg, err := w.compose(ctx, a, id)
	switch {
	case errors.Is(err, ErrNoRecipient):
		q.logDelivery(ctx, d, id, a.recipient(), "no_account", nil)
		return nil
	case errors.Is(err, ErrLinkUsed):
		q.logDelivery(ctx, d, id, a.recipient(), "link_used", nil)
		return nil
	case errors.Is(err, ErrSuperseded):
		q.logDelivery(ctx, d, id, a.recipient(), "superseded", nil)
		return nil
	case err != nil:
		return fmt.Errorf("%s email: %w", w.kind, err)
	}
	d.Kind = msg.Kind
	return q.deliver(ctx, msg, d, a.recipient())
}

// backoff is the wait before attempt n+1 after n failed attempts: within
// base·2^(n−1) and base·2^n, capped at limit, so the first retry comes
// within base and twice base (2–4 s by default) and each later one waits
// about twice as long. The wait is spread over the upper half of its step
// so that replicas that failed together do not retry together; the cap is
// never exceeded.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := 2 * base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// deliver sends msg (attempt d) and turns the outcome into River's
// vocabulary: nil (done), JobCancel (permanent: dead letter at once),
// JobSnooze (the provider asked us to wait; not counted as a failure) or an
// error (retry with backoff).
func (q *Queue) deliver(ctx context.Context, msg models.Message, d Delivery, recipient string) error {
	err := q.deps.Mailer.Send(ctx, msg)
	var se *mail.SendError
	switch {
	case err == nil:
		q.logDelivery(ctx, d, msg.ID, recipient, "sent", nil)
		return nil
	case errors.As(err, &se) && se.Permanent:
		q.logDelivery(ctx, d, msg.ID, recipient, "dead_letter", err)
		return river.JobCancel(err)
	case errors.As(err, &se) && se.Status == 429:
		wait := se.RetryAfter
		if wait <= 0 {
			wait = backoff(d.Attempt, q.tuning.RetryBase, q.retryCap)
		}
		q.logDelivery(ctx, d, msg.ID, recipient, "throttled", err)
		return river.JobSnooze(wait)
	default:
		q.logDelivery(ctx, d, msg.ID, recipient, "retry", err)
		return err
	}
}

// logDelivery writes the one structured line per delivery outcome of attempt
// d and tells the observer, with the outcome and its time filled in. The
// recipient appears only as its keyed pseudonym.
func (q *Queue) logDelivery(ctx context.Context, d Delivery, id, recipient, outcome string, err error) {
	d.Outcome, d.At = outcome, q.deps.Now()
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("message_id", id), slog.String("kind", d.Kind),
		slog.Int("attempt", d.Attempt), slog.String("outcome", outcome), slog.String("recipient", recipient)}
	if err != nil {
		level = slog.LevelWarn
		if outcome == "dead_letter" {
			level = slog.LevelError
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	q.deps.Log.LogAttrs(ctx, level, "mail delivery", attrs...)
	if q.deps.Observe != nil {
		q.deps.Observe(d)
	}
}
