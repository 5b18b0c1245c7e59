package services

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/accountpw/accountpw/services/account"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/policy"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/ratelimit"
	"github.com/accountpw/accountpw/services/sessions"
	"github.com/accountpw/accountpw/services/slots"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// Options change how Open builds the application; the zero value is what
// serve runs.
type Options struct {
	// Migrate applies the migrations before anything else.
	Migrate bool
	// Now is the one clock every part reads; nil means time.Now. It is
	// always read in UTC (SQLite stores times as text, and text compares
	// correctly only within one offset) and to the microsecond.
	Now func() time.Time
	// Observer, when not nil, hears what the parts report for metrics:
	// slot waits, hash times, delivery outcomes, 429s and policy refusals.
	Observer Observer
}

// Observer is everything the parts report, in one interface; the metrics
// package implements it.
type Observer interface {
	slots.Observer
	hash.Observer
	account.Observer
	ObserveDelivery(queue.Delivery)
}

// App is the wired application.
type App struct {
	DB        *store.DB
	Queue     *queue.Queue
	Passwords *account.Passwords
	Limits    *ratelimit.Limits
	cfg       config.Config
	hasher    *hash.Hasher
	jwtSecret []byte
	log       *slog.Logger
	now       func() time.Time
}

// Open connects to the database, migrates it when asked, and builds every
// part from cfg, which must have passed Validate. Close releases it.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	db, err := store.Open(cfg.Database, log)
	if err != nil {
		return nil, err
	}
	a, err := build(ctx, db, cfg, log, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func build(ctx context.Context, db *store.DB, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	// Templates and messages, an operator's replacements included, are
	// rendered once here, before anything else: a broken one stops the start,
	// not a send.
	renderer, err := mail.NewRenderer(cfg.Mail)
	if err != nil {
		return nil, err
	}
	if opts.Migrate {
		if err := db.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	// UTC, and in microseconds: what both databases keep, so that a time
	// answered or sent in an event equals the one stored.
	now := func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
	secret, pseudoKey, err := Secrets(cfg)
	if err != nil {
		return nil, err
	}
	// Each part takes its observer as an interface of its own; a nil
	// Observer must reach them as nil interfaces, not as typed nils.
	var (
		slotObs    slots.Observer
		hashObs    hash.Observer
		accountObs account.Observer
		delivered  func(queue.Delivery)
	)
	if o := opts.Observer; o != nil {
		slotObs, hashObs, accountObs, delivered = o, o, o, o.ObserveDelivery
	}
	pool := slots.New(cfg.Password.Slots(), cfg.Password.HashWait, slotObs)
	hasher, err := hash.New(cfg.Password, pool, hashObs)
	if err != nil {
		return nil, err
	}
	mailer, err := mail.New(cfg.Mail, log)
	if err != nil {
		return nil, err
	}
	// Without webhook.url there is no sender, and no event is ever queued.
	var hooks *webhook.Sender
	if cfg.Webhook.Enabled() {
		if hooks, err = webhook.New(cfg.Webhook, now); err != nil {
			return nil, err
		}
	}
	tokenKey := ResetTokenKey(cfg, secret)
	if tokenKey == nil {
		log.Warn("no ACCOUNTPW_RESET_TOKEN_KEY in JWKS mode: a reset email sent again after a crash " +
			"carries a new link, and the first email's link stops working")
	}
	a := &App{DB: db, cfg: cfg, hasher: hasher, jwtSecret: secret, log: log, now: now}
	a.Limits = ratelimit.New(db, cfg.Limits, now)
	a.Queue, err = queue.New(cfg.Mail, queue.Deps{
		DB: db, Mailer: mailer, Composer: account.NewMails(db, cfg, renderer, tokenKey, now),
		Housekeeping: a.housekeeping, Log: log, Now: now, Webhooks: hooks, Observe: delivered,
	}, queue.DefaultTuning(db.Postgres()))
	if err != nil {
		return nil, err
	}
	sess, err := sessions.New(ctx, db, cfg.Auth, secret, now, log)
	if err != nil {
		return nil, err
	}
	a.Passwords = account.New(cfg.Reset, account.Deps{
		DB: db, Hasher: hasher, Policy: policy.New(cfg.Password, pool), Limits: a.Limits, Queue: a.Queue,
		Sessions: sess, Pseudo: account.NewPseudonymizer(pseudoKey), Log: log, Now: now, Observer: accountObs,
	})
	return a, nil
}

// WarmUp lays the heap out for hashing and maps the memory hashing needs
// before the first request; see hash.Hasher.WarmUp.
func (a *App) WarmUp(ctx context.Context) error { return a.hasher.WarmUp(ctx) }

// HeapLaidOut reports whether WarmUp laid the heap out for the hashing
// slots' blocks, which MemoryBudget counts on; see hash.LaidOut.
func (a *App) HeapLaidOut() bool { return hash.LaidOut() }

// Drain lets the requests waiting in a batch commit and refuses new ones,
// within ctx: the first step of a shutdown, after the HTTP server stopped
// taking requests and before the queue stops.
func (a *App) Drain(ctx context.Context) error {
	return errors.Join(a.Passwords.Close(ctx), a.Limits.Close(ctx))
}

// Close drains, then closes the database.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(a.Drain(ctx), a.DB.Close())
}

// IssueToken returns an HS256 bearer token for userID under the app's
// secret, valid for ttl; see sessions.Issue.
func (a *App) IssueToken(userID string, ttl time.Duration) (string, error) {
	return sessions.Issue(a.jwtSecret, a.cfg.Auth, userID, a.now(), ttl)
}

// MemoryBudget is the most resident memory (VmHWM) serve reaches, with the
// runtime's default and with GODEBUG=madvdontneed=0 (the container
// image's), idle and under bursts of hashing requests: one argon2id block
// per hashing slot and one more, and 128 MiB for everything else. Each
// slot's block is collected before the slot is taken again, and WarmUp lays
// the heap out in one range per slot and a spare, so that every block lands
// in one of them (see services/hash): at most slots + 1 blocks are ever
// resident. The 128 MiB are the binary's mapped code and data (about
// 26 MiB), the runtime's own, and the rest of the heap: about 20 MiB idle,
// up to about 70 MiB under waves of 200 concurrent {"old","new"}, whose
// pages stay resident under madvdontneed=0. .ci/loadtest asserts it in
// both settings. With 2 slots of 64 MiB: 320 MiB.
func (a *App) MemoryBudget() int64 {
	const rest = 128 << 20
	return int64(a.cfg.Password.Slots()+1)*a.blockBytes() + rest
}

// MemoryLimit is the soft Go memory limit serve sets: every slot's block
// and 48 MiB of the rest of the heap and the runtime, which leaves the
// binary's pages, the spare range and the rest of the heap's peak of
// MemoryBudget outside it. Near it the garbage collector works harder, so
// garbage does not grow with the heap.
func (a *App) MemoryLimit() int64 {
	const rest = 48 << 20
	return int64(a.cfg.Password.Slots())*a.blockBytes() + rest
}

// blockBytes is the memory one argon2id hash allocates.
func (a *App) blockBytes() int64 { return int64(hash.BlockBytes(a.cfg.Password.Argon2)) }

// housekeeping is the queue's hourly clean-up: expired reset tokens (used or
// not: once expired they prove nothing) and stale rate-limit state.
func (a *App) housekeeping(ctx context.Context) error {
	tokens, err := a.DB.DeleteExpiredTokens(ctx, a.now())
	if err != nil {
		return err
	}
	counters, err := a.Limits.Cleanup(ctx)
	if err != nil {
		return err
	}
	a.log.InfoContext(ctx, "housekeeping", slog.Int64("expired_tokens_deleted", tokens),
		slog.Int64("rate_limit_rows_deleted", counters))
	return nil
}
