package account

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/hash"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/policy"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/ratelimit"
	"github.com/accountpw/accountpw/services/sessions"
	"github.com/accountpw/accountpw/services/slots"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
	"github.com/accountpw/accountpw/services/webhook"
)

// Cheap argon2 parameters for tests; production values come from config.
var testParams = config.Argon2{Memory: 64, Time: 1, Threads: 1}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeMailer records every message; fail, when set, scripts failures.
type fakeMailer struct {
	sent chan models.Message
	mu   sync.Mutex
	fail func(m models.Message) error
}

func newFakeMailer() *fakeMailer { return &fakeMailer{sent: make(chan models.Message, 1000)} }

func (f *fakeMailer) Send(_ context.Context, m models.Message) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if err := fail(m); err != nil {
			return err
		}
	}
	f.sent <- m
	return nil
}

// next waits for the next delivered message.
func (f *fakeMailer) next(t *testing.T) models.Message {
	t.Helper()
	select {
	case m := <-f.sent:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no email was delivered within 20 s")
		return models.Message{}
	}
}

// none asserts that nothing was delivered so far.
func (f *fakeMailer) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-f.sent:
		t.Fatalf("unexpected %s email to %s", m.Kind, m.To)
	default:
	}
}

// syncBuffer is a bytes.Buffer safe for the queue's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type testEnv struct {
	logs       *syncBuffer
	db         *store.DB
	p          *Passwords
	q          *queue.Queue
	mail       *fakeMailer
	clock      *fakeClock
	hasher     *hash.Hasher
	secret     []byte
	deliveries chan queue.Delivery
}

// envConfig is what an envOption may change before the parts are built.
type envConfig struct {
	password  config.Password
	limits    config.Limits
	mailer    mail.Mailer
	mail      config.Mail
	webhook   config.Webhook
	noWorkers bool        // the queue only takes jobs until the test calls start (benchmarks of the request path)
	pool      *slots.Pool // nil: 32 slots, waited for up to 10 s
}

type envOption func(*envConfig)

// generousLimits keeps the limits out of the way of tests about something
// else, while every counter still runs against the database.
func generousLimits() config.Limits {
	const n = 1 << 30
	l := config.DefaultLimits()
	l.ClientPerMinute, l.ResetIPPerMinute, l.ResetIPPerHour = n, n, n
	l.ResetAddressPer15m, l.ResetAddressPer24h, l.TokenFailuresPer15m = n, n, n
	l.ChangeFailures = config.MaxChangeFailures
	return l
}

// withLimits runs the given limits instead of the generous ones.
func withLimits(l config.Limits) envOption { return func(c *envConfig) { c.limits = l } }

// testReset is the reset section of every test environment.
var testReset = config.Reset{URL: "https://app.example.org/password-reset", TokenTTL: 30 * time.Minute}

// withMail changes the mail section (language, product) of the environment.
func withMail(edit func(*config.Mail)) envOption { return func(c *envConfig) { edit(&c.mail) } }

// mustMails is the queue's composer over db for the mail section m.
func mustMails(tb testing.TB, db *store.DB, m config.Mail, now func() time.Time) *Mails {
	tb.Helper()
	r, err := mail.NewRenderer(m)
	if err != nil {
		tb.Fatal(err)
	}
	return NewMails(db, config.Config{Reset: testReset, Mail: m, HTTP: config.DefaultHTTP()}, r, testTokenKey, now)
}

// testTokenKey derives the reset tokens of every test environment.
var testTokenKey = []byte("a reset token key of 32 bytes...")

// newEnv wires Passwords over db with a fake mailer, a fixed clock and a
// running queue that polls fast.
func newEnv(t *testing.T, db *store.DB, opts ...envOption) *testEnv {
	t.Helper()
	return newEnvTB(t, db, opts...)
}

func newEnvTB(t testing.TB, db *store.DB, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{db: db, mail: newFakeMailer(), clock: &fakeClock{t: time.Now().UTC().Truncate(time.Second)},
		secret: []byte("0123456789abcdef0123456789abcdef"), deliveries: make(chan queue.Delivery, 1000)}
	ec := envConfig{password: config.Password{Argon2: testParams}, limits: generousLimits(), mailer: e.mail,
		mail: config.DefaultMail()}
	ec.mail.SupportContact = "help@example.org"
	for _, o := range opts {
		o(&ec)
	}
	pool := ec.pool
	if pool == nil {
		pool = slots.New(32, 10*time.Second, nil)
	}
	var err error
	if e.hasher, err = hash.New(ec.password, pool, nil); err != nil {
		t.Fatal(err)
	}
	e.logs = &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	limits := ratelimit.New(db, ec.limits, e.clock.Now)
	var hooks *webhook.Sender
	if ec.webhook.Enabled() {
		if hooks, err = webhook.New(ec.webhook, e.clock.Now); err != nil {
			t.Fatal(err)
		}
	}
	e.q, err = queue.New(ec.mail, queue.Deps{DB: db, Mailer: ec.mailer, Composer: mustMails(t, db, ec.mail, e.clock.Now),
		Log: log, Now: e.clock.Now, Observe: func(d queue.Delivery) { e.deliveries <- d }, Webhooks: hooks},
		queue.Tuning{RetryBase: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond, FetchCooldown: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := sessions.New(context.Background(), db, config.Auth{}, e.secret, e.clock.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e.p = New(testReset, Deps{DB: db, Hasher: e.hasher, Policy: policy.New(config.DefaultPassword(), pool), Queue: e.q,
		Limits: limits, Sessions: sess, Pseudo: NewPseudonymizer([]byte("k")), Log: log, Now: e.clock.Now})
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		if err := errors.Join(e.p.Close(sctx), limits.Close(sctx)); err != nil {
			t.Errorf("drain: %v", err)
		}
	})
	if !ec.noWorkers {
		e.start(t)
	}
	return e
}

// start runs the queue's workers until the test ends.
func (e *testEnv) start(t testing.TB) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	if err := e.q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = e.q.Stop(sctx)
		stop()
	})
}

// waitDelivery waits for the next delivery outcome of any job.
func (e *testEnv) waitDelivery(t *testing.T) queue.Delivery {
	t.Helper()
	select {
	case d := <-e.deliveries:
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no job finished within 20 s")
		return queue.Delivery{}
	}
}

// waitFinal waits for the next job to end, skipping retries and snoozes, and
// returns how: "completed" (sent, or nobody to mail) or "cancelled" (a dead
// letter, or its deadline passed).
func (e *testEnv) waitFinal(t *testing.T) string {
	t.Helper()
	for {
		switch d := e.waitDelivery(t); d.Outcome {
		case "sent", "no_account", "link_used":
			return "completed"
		case "dead_letter", "expired":
			return "cancelled"
		}
	}
}

var client = models.Client{IP: "192.0.2.1", RequestID: "test"}

func (e *testEnv) mustUser(t *testing.T, email, password string) models.User {
	t.Helper()
	u, err := e.p.CreateUser(context.Background(), email, password)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// mustToken requests a reset for email and returns the token from the link
// in the delivered email.
func (e *testEnv) mustToken(t *testing.T, email string) string {
	t.Helper()
	if err := e.p.RequestReset(context.Background(), client, email); err != nil {
		t.Fatalf("request reset: %v", err)
	}
	return tokenFrom(t, e.mail.next(t))
}

func tokenFrom(t *testing.T, m models.Message) string {
	t.Helper()
	if m.Kind != models.MessageReset {
		t.Fatalf("got a %s email, want a reset email", m.Kind)
	}
	for _, f := range splitFields(m.Text) {
		if u, err := url.Parse(f); err == nil && u.Query().Get("token") != "" {
			return u.Query().Get("token")
		}
	}
	t.Fatalf("no link with a token in %q", m.Text)
	return ""
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i, r := range s + " " {
		if r == ' ' || r == '\n' || r == '\t' || r == '\r' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// verifies reports whether password verifies for the account.
func (e *testEnv) verifies(t *testing.T, userID, password string) bool {
	t.Helper()
	u, err := e.db.UserByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.hasher.Verify(context.Background(), models.NormalizePassword(password), u.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// eachDB runs f on PostgreSQL and on SQLite.
var eachDB = storetest.Each
