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
	if now.After(a.RequestedAt.Add(q.cfg.TokenTTL)) {
		q.logDelivery(ctx, msg, job.Attempt, a.Recipient, "expired", nil)
		return river.JobCancel(errors.New("reset email not delivered within the token lifetime"))
	}
	var u models.User
	err := q.db.Gorm.WithContext(ctx).Where("email_key = ?", a.EmailKey).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		q.logDelivery(ctx, msg, job.Attempt, a.Recipient, "no_account", nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reset email: find account: %w", err)
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
	if q.cfg.Now().After(a.At.Add(q.cfg.NoticeDeadline)) {
		q.logDelivery(ctx, msg, job.Attempt, a.Recipient, "expired", nil)
		return river.JobCancel(errors.New("notice not delivered within its deadline"))
	}
	var u models.User
	err := q.db.Gorm.WithContext(ctx).Where("id = ?", a.UserID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		q.logDelivery(ctx, msg, job.Attempt, a.Recipient, "no_account", nil)
		return nil
	}
	if err != nil {
		return fmt.Errorf("notice: find account: %w", err)
	}
	msg, err = RenderNotice(NoticeEmail{MessageID: msg.ID, To: u.Email, Change: a.Change, At: a.At,
		IP: a.IP, SupportContact: q.cfg.SupportContact})
	if err != nil {
		return river.JobCancel(fmt.Errorf("notice: %w", err))
	}
	return q.deliver(ctx, msg, job.Attempt, a.Recipient)
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
