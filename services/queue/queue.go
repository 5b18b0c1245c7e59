// Package queue is the durable mail queue: River jobs in the service's own
// database, inserted in the caller's transaction (so a message exists exactly
// when the change that causes it commits), worked by every replica with
// retries by outcome, per-job deadlines, dead letters an operator can list
// and retry, and an hourly housekeeping job run by the leader alone. The
// webhook events for the adopting application travel the same way
// (webhook.go), delivered with a webhook.Sender.
//
// Workers do not know accounts or tokens: they ask a Composer (the account
// package) to turn a job into a message, then deliver it with a mail.Mailer.
//
// It imports models, config, store, mail, webhook and River.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// Timing of crash recovery: a job whose process died while sending is
// "stuck" after rescueAfter and put back by the leader's rescuer, which runs
// every 30 s, so another process sends it within about a minute.
const (
	jobTimeout  = 15 * time.Second
	rescueAfter = 20 * time.Second
)

// Retention of finished jobs, deleted by River's cleaner. Reset jobs carry
// the submitted address, so completed ones (most of them for addresses
// without an account) go after an hour: the queue must not become a list of
// probed addresses.
const (
	completedRetention  = time.Hour
	deadLetterRetention = 30 * 24 * time.Hour
)

// Tuning holds the queue's internal timings, which operators do not set.
type Tuning struct {
	// RetryBase is the shortest wait before the first retry after a failed
	// delivery, which comes within RetryBase and twice it (see backoff).
	RetryBase time.Duration
	// PollInterval is how often idle workers look for jobs without being
	// told about new ones.
	PollInterval time.Duration
	// FetchCooldown is the shortest time between two fetches: how quickly
	// freed workers take the next jobs of a backlog.
	FetchCooldown time.Duration
}

// DefaultTuning is what serve runs with on PostgreSQL (postgres) or SQLite.
// On PostgreSQL an insert wakes the workers through LISTEN/NOTIFY, but River
// sends at most one notification per FetchCooldown: a job committed a few
// milliseconds after another, once the first one's fetch has run, waits for
// the next poll. A poll every 100 ms bounds that wait (an indexed query, ten
// a second per replica when idle); at one a second, a user whose request
// followed someone else's by a few milliseconds waited a second for the
// email. SQLite has no notifications, so its poll alone bounds that delay:
// every 200 ms, half the PostgreSQL rate, since each poll is a query against
// the one file that also takes the requests' writes, and the embedded
// default serves small installations.
func DefaultTuning(postgres bool) Tuning {
	t := Tuning{RetryBase: 2 * time.Second, PollInterval: 100 * time.Millisecond, FetchCooldown: 10 * time.Millisecond}
	if !postgres {
		t.PollInterval = 200 * time.Millisecond
	}
	return t
}

// ErrNoRecipient is returned by a Composer when a job has nobody to mail
// (an address without an account, or an account deleted since): the job is
// done and nothing is sent.
var ErrNoRecipient = errors.New("no account to mail")

// ErrLinkUsed is returned by a Composer when a reset email is attempted
// again (its first send was cut short by a crash after the provider took
// it) and its link has been used meanwhile: that email arrived, so the job
// is done and nothing is sent.
var ErrLinkUsed = errors.New("the link of an earlier attempt was used")

// ErrSuperseded is returned by a Composer when a reset email is attempted
// after a later request for the same account issued its own link: that
// link stands, so this job is done and nothing is sent.
var ErrSuperseded = errors.New("a later request's link is live")

// Composer turns jobs into messages. The account package implements it.
type Composer interface {
	// ComposeReset resolves the account of a reset request, issues its
	// token (superseding any other request's) and renders the email; every
	// attempt of one job carries the same link. Errors besides a failure:
	// ErrNoRecipient, ErrLinkUsed, ErrSuperseded.
	ComposeReset(ctx context.Context, job Reset, messageID string) (models.Message, error)
	// ComposeNotice renders the "password changed" notice.
	ComposeNotice(ctx context.Context, job Notice, messageID string) (models.Message, error)
}

// Both Compose methods return ErrNoRecipient when there is nobody to mail, an
// error wrapped by Permanent when retrying cannot help, and any other error
// to have the job retried with backoff.

// Permanent marks a Composer error that retrying cannot fix: the job becomes
// a dead letter at once.
func Permanent(err error) error { return river.JobCancel(err) }

// Delivery is one delivery outcome, for Deps.Observe.
type Delivery struct {
	Kind    string // models.MessageReset, models.MessageNotice or KindWebhook
	Outcome string // sent, retry, throttled, dead_letter, expired, no_account, link_used, superseded; gone (webhook 410)
	Attempt int
	// RequestedAt is when the message was asked for (the reset request, the
	// password change); zero for a job that does not record it. At is when
	// this outcome happened, by the queue's clock: for "sent", At minus
	// RequestedAt is the delivery lag.
	RequestedAt time.Time
	At          time.Time
}

// Deps are the queue's collaborators.
type Deps struct {
	DB       *store.DB
	Mailer   mail.Mailer
	Composer Composer
	// Housekeeping runs hourly on the leader (expired tokens, old counters).
	Housekeeping func(ctx context.Context) error
	Log          *slog.Logger
	Now          func() time.Time
	// Observe, when set, hears every delivery outcome.
	Observe func(Delivery)
	// Webhooks sends events to webhook.url; nil when it is unset, and then
	// no events are queued.
	Webhooks *webhook.Sender
}

// Queue is the durable mail queue.
type Queue struct {
	client   *river.Client[*sql.Tx]
	deps     Deps
	tuning   Tuning
	retryCap time.Duration
}

// New returns a queue that can insert jobs and, after Start, work them with
// cfg.Workers workers, backing off up to cfg.RetryCap between attempts.
func New(cfg config.Mail, d Deps, t Tuning) (*Queue, error) {
	q := &Queue{deps: d, tuning: t, retryCap: cfg.RetryCap}
	workers := river.NewWorkers()
	err := errors.Join(
		river.AddWorkerSafely(workers, &mailWorker[Reset]{q: q, kind: models.MessageReset, compose: d.Composer.ComposeReset}),
		river.AddWorkerSafely(workers, &mailWorker[Notice]{q: q, kind: models.MessageNotice, compose: d.Composer.ComposeNotice}),
		river.AddWorkerSafely(workers, &housekeepingWorker{q: q}),
		river.AddWorkerSafely(workers, &webhookWorker{q: q}),
	)
	if err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	client, err := river.NewClient(d.DB.RiverDriver(), &river.Config{
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: rescueAfter,
		// On PostgreSQL an insert wakes the workers through LISTEN/NOTIFY and
		// the poll is only a fallback; SQLite has no notifications, so its
		// poll is what bounds the delay between a request and its email.
		FetchPollInterval:           t.PollInterval,
		FetchCooldown:               min(t.PollInterval, t.FetchCooldown),
		CompletedJobRetentionPeriod: completedRetention,
		CancelledJobRetentionPeriod: deadLetterRetention,
		DiscardedJobRetentionPeriod: deadLetterRetention,
		MaxAttempts:                 1000, // deadlines, not counts, end retries (see the workers)
		Logger:                      d.Log.With("component", "queue"),
		// A job's database work is bounded by the job's timeout, not by the
		// few seconds the store gives a request's statements: under load a
		// hundred workers wait their turn for the pool's connections.
		Middleware: []rivertype.Middleware{river.WorkerMiddlewareFunc(
			func(ctx context.Context, _ *rivertype.JobRow, work func(context.Context) error) error {
				return work(store.BoundByCaller(ctx))
			})},
		// The leader alone runs periodic jobs, so replicas do not repeat them.
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return housekeepingArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true})},
	})
	if err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	q.client = client
	return q, nil
}

// Start begins working jobs until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	return nil
}

// Stop stops fetching new jobs and waits for in-flight sends to finish, or
// for ctx to end, whichever comes first; then in-flight jobs are cancelled
// and will be retried by this or another process.
func (q *Queue) Stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil {
		cancelCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.client.StopAndCancel(cancelCtx)
		return fmt.Errorf("stop queue: %w", err)
	}
	return nil
}
