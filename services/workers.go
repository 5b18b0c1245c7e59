package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// resetArgs is a queued reset request. It carries the lookup key, not an
// account: the worker resolves it, so the request path is the same for every
// address.
type resetArgs struct {
	EmailKey    string    `json:"email_key"`
	RequestedAt time.Time `json:"requested_at"`
	IP          string    `json:"ip"`
	RequestID   string    `json:"request_id"`
	Recipient   string    `json:"recipient"` // keyed pseudonym, for operators
}

func (resetArgs) Kind() string { return "reset_email" }

// noticeArgs is a queued "your password was changed" notice.
type noticeArgs struct {
	UserID    string    `json:"user_id"`
	Change    string    `json:"change"` // "reset" or "change"
	At        time.Time `json:"at"`
	IP        string    `json:"ip"`
	RequestID string    `json:"request_id"`
	Recipient string    `json:"recipient"`
}

func (noticeArgs) Kind() string { return "password_notice" }

// backoff is the wait before attempt n+1 after n failed attempts: base (2 s
// by default) doubling per attempt, capped, with jitter over its upper half so replicas
// that failed together do not retry together. The first retry comes within
// 2–4 s (well inside the 5 s the delivery contract promises).
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

type resetWorker struct {
	river.WorkerDefaults[resetArgs]
	q *Queue
}

func (w *resetWorker) NextRetry(job *river.Job[resetArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, w.q.cfg.RetryBase, w.q.cfg.RetryCap)) // River schedules in real time
}

// Work resolves the account, issues a fresh token (superseding the one of any
// failed earlier attempt, so the delivered link always has its full
// lifetime) and sends the link to the address stored on the account.
func (w *resetWorker) Work(ctx context.Context, job *river.Job[resetArgs]) error {
	q, a := w.q, job.Args
	now := q.cfg.Now()
	msg := models.Message{ID: "job-" + strconv.FormatInt(job.ID, 10), Kind: models.MessageReset}
	u, done, err := q.recipient(ctx, msg, job.Attempt, a.Recipient, a.RequestedAt.Add(q.cfg.TokenTTL), "email_key", a.EmailKey)
	if done {
		return err
	}
	token, err := issueToken(ctx, q.db.Gorm, u.ID, now, q.cfg.TokenTTL)
	if err != nil {
		return err
	}
	link, err := resetLink(q.cfg.ResetURL, token)
	if err != nil {
		return river.JobCancel(err)
	}
	msg, err = RenderReset(ResetEmail{MessageID: msg.ID, To: u.Email, Link: link, ValidFor: q.cfg.TokenTTL})
	if err != nil {
		return river.JobCancel(fmt.Errorf("reset email: %w", err))
	}
	return q.deliver(ctx, msg, job.Attempt, a.Recipient)
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

type noticeWorker struct {
	river.WorkerDefaults[noticeArgs]
	q *Queue
}

func (w *noticeWorker) NextRetry(job *river.Job[noticeArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, w.q.cfg.RetryBase, w.q.cfg.RetryCap)) // River schedules in real time
}

// Work sends the notice to the account's stored address.
func (w *noticeWorker) Work(ctx context.Context, job *river.Job[noticeArgs]) error {
	q, a := w.q, job.Args
	msg := models.Message{ID: "job-" + strconv.FormatInt(job.ID, 10), Kind: models.MessageNotice}
	u, done, err := q.recipient(ctx, msg, job.Attempt, a.Recipient, a.At.Add(q.cfg.NoticeDeadline), "id", a.UserID)
	if done {
		return err
	}
	msg, err = RenderNotice(NoticeEmail{MessageID: msg.ID, To: u.Email, Change: a.Change, At: a.At,
		IP: a.IP, SupportContact: q.cfg.SupportContact})
	if err != nil {
		return river.JobCancel(fmt.Errorf("notice: %w", err))
	}
	return q.deliver(ctx, msg, job.Attempt, a.Recipient)
}

// recipient resolves the account a job mails (column = value). done means
// there is nothing to send and err is the job's result: a dead letter when
// the deadline has passed (the message would arrive useless), success when
// there is no such account (unknown address, or deleted since), or a
// database error to retry.
func (q *Queue) recipient(ctx context.Context, msg models.Message, attempt int, pseudonym string,
	deadline time.Time, column, value string) (u models.User, done bool, err error) {
	if q.cfg.Now().After(deadline) {
		q.logDelivery(ctx, msg, attempt, pseudonym, "expired", nil)
		return u, true, river.JobCancel(fmt.Errorf("%s email not delivered before its deadline", msg.Kind))
	}
	err = q.db.Gorm.WithContext(ctx).Where(column+" = ?", value).Take(&u).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		q.logDelivery(ctx, msg, attempt, pseudonym, "no_account", nil)
		return u, true, nil
	case err != nil:
		return u, true, fmt.Errorf("%s email: find account: %w", msg.Kind, err)
	}
	return u, false, nil
}

// deliver sends msg and turns the outcome into River's vocabulary: nil
// (done), JobCancel (permanent: dead letter at once), JobSnooze (the provider
// asked us to wait; not counted as a failure) or an error (retry with backoff).
func (q *Queue) deliver(ctx context.Context, msg models.Message, attempt int, recipient string) error {
	err := q.cfg.Mailer.Send(ctx, msg)
	var se *SendError
	switch {
	case err == nil:
		q.logDelivery(ctx, msg, attempt, recipient, "sent", nil)
		return nil
	case errors.As(err, &se) && se.Permanent:
		q.logDelivery(ctx, msg, attempt, recipient, "dead_letter", err)
		return river.JobCancel(err)
	case errors.As(err, &se) && se.Status == 429:
		wait := se.RetryAfter
		if wait <= 0 {
			wait = backoff(attempt, q.cfg.RetryBase, q.cfg.RetryCap)
		}
		q.logDelivery(ctx, msg, attempt, recipient, "throttled", err)
		return river.JobSnooze(wait)
	default:
		q.logDelivery(ctx, msg, attempt, recipient, "retry", err)
		return err
	}
}

// logDelivery writes the one structured line per delivery outcome. The
// recipient appears only as its keyed pseudonym.
func (q *Queue) logDelivery(ctx context.Context, m models.Message, attempt int, recipient, outcome string, err error) {
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("message_id", m.ID), slog.String("kind", m.Kind),
		slog.Int("attempt", attempt), slog.String("outcome", outcome), slog.String("recipient", recipient)}
	if err != nil {
		level = slog.LevelWarn
		if outcome == "dead_letter" {
			level = slog.LevelError
		}
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	q.log.LogAttrs(ctx, level, "mail delivery", attrs...)
}
