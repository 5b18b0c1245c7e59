package services

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"gorm.io/gorm"
)

// QueueConfig configures the durable mail queue.
type QueueConfig struct {
	Mailer         Mailer
	ResetURL       string        // the page the link opens; ?token= is appended
	TokenTTL       time.Duration // reset token lifetime; also the reset email's delivery deadline
	SupportContact string        // named in notices
	// Workers is how many messages one process sends at once (default 4).
	Workers int
	// RetryBase is the first backoff step (default 2s); RetryCap caps the
	// exponential backoff between attempts (default 10m).
	RetryBase time.Duration
	RetryCap  time.Duration
	// NoticeDeadline is how long a notice is retried (default 24h).
	NoticeDeadline time.Duration
	// PollInterval is how often an idle worker looks for jobs (default 1s).
	PollInterval time.Duration
	// Pseudonym turns an address into the keyed pseudonym used in logs.
	Pseudonym func(email string) string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Housekeeping, when set, runs with the hourly clean-up (rate-limit
	// counters); expired reset tokens are deleted by the queue itself.
	Housekeeping func(ctx context.Context) error
}

// Timing of crash recovery: a job whose process died while sending is
// "stuck" after rescueAfter and put back by the leader's rescuer, which runs
// every 30 s, so another process sends it within about a minute.
const (
	jobTimeout  = 15 * time.Second
	rescueAfter = 20 * time.Second
)

// Queue is the durable mail queue (River on the service's own database).
// Jobs are inserted in the caller's transaction where one exists, so a
// message cannot be lost by a crash or sent for a rolled-back change.
type Queue struct {
	client *river.Client[*sql.Tx]
	db     *DB
	cfg    QueueConfig
	log    *slog.Logger
}

func riverDriver(db *DB) riverdriver.Driver[*sql.Tx] {
	if db.Postgres {
		return riverdatabasesql.New(db.SQL)
	}
	return riversqlite.New(db.SQL)
}

func migrateRiver(ctx context.Context, db *DB) error {
	m, err := rivermigrate.New(riverDriver(db), nil)
	if err != nil {
		return fmt.Errorf("migrate queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate queue: %w", err)
	}
	return nil
}

// NewQueue returns a queue that can insert jobs and, after Start, work them.
func NewQueue(db *DB, cfg QueueConfig, log *slog.Logger) (*Queue, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 2 * time.Second
	}
	if cfg.RetryCap <= 0 {
		cfg.RetryCap = 10 * time.Minute
	}
	if cfg.NoticeDeadline <= 0 {
		cfg.NoticeDeadline = 24 * time.Hour
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	cfg.Now = func() time.Time { return clock().UTC() }
	if cfg.Pseudonym == nil {
		return nil, errors.New("new queue: a pseudonym function is required")
	}
	q := &Queue{db: db, cfg: cfg, log: log}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &resetWorker{q: q}); err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &noticeWorker{q: q}); err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &housekeepingWorker{q: q}); err != nil {
		return nil, fmt.Errorf("new queue: %w", err)
	}
	rcfg := &river.Config{
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: rescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        min(cfg.PollInterval, 100*time.Millisecond),
		// Finished jobs are housekeeping: River's cleaner deletes them after
		// these. Reset jobs carry the submitted address, so completed ones
		// (most of them for addresses without an account) go after an hour:
		// the queue must not become a list of probed addresses.
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: 30 * 24 * time.Hour,
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
		MaxAttempts:                 1000, // deadlines, not counts, end retries (see the workers)
		Logger:                      log.With("component", "queue"),
		// The leader alone runs periodic jobs, so replicas do not repeat them.
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return housekeepingArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true})},
	}
	client, err := river.NewClient(riverDriver(db), rcfg)
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

// enqueueResetTx durably records a reset request for the address with
// lookup key emailKey, inside tx. It does not look the address up: that is
// the worker's job, so a request costs the same for every address.
func (q *Queue) enqueueResetTx(ctx context.Context, tx *gorm.DB, emailKey string, c models.Client) error {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return errors.New("enqueue reset email: not inside a transaction")
	}
	args := resetArgs{EmailKey: emailKey, RequestedAt: q.cfg.Now().UTC(), IP: c.IP, RequestID: c.RequestID,
		Recipient: q.cfg.Pseudonym(emailKey)}
	if _, err := q.client.InsertTx(ctx, sqlTx, args, nil); err != nil {
		return fmt.Errorf("enqueue reset email: %w", err)
	}
	return nil
}

// enqueueNoticeTx records a "password changed" notice inside tx, so it is
// sent exactly when the change commits.
func (q *Queue) enqueueNoticeTx(ctx context.Context, tx *gorm.DB, u *models.User, change string, at time.Time, c models.Client) error {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return errors.New("enqueue notice: not inside a transaction")
	}
	args := noticeArgs{UserID: u.ID, Change: change, At: at.UTC(), IP: c.IP, RequestID: c.RequestID,
		Recipient: q.cfg.Pseudonym(u.Email)}
	if _, err := q.client.InsertTx(ctx, sqlTx, args, nil); err != nil {
		return fmt.Errorf("enqueue notice: %w", err)
	}
	return nil
}
