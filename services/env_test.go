package services

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/riverqueue/river"
)

// Cheap argon2 parameters for tests; production values come from config.
var testParams = HashParams{Memory: 64, Time: 1, Threads: 1}

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
	logs   *syncBuffer
	db     *DB
	p      *Passwords
	q      *Queue
	mail   *fakeMailer
	clock  *fakeClock
	hasher *Hasher
	secret []byte
	events <-chan *river.Event
}

type envOption func(*HasherConfig, *QueueConfig)

// newEnv wires Passwords over db with a fake mailer, a fixed clock and a
// running queue that polls fast.
func newEnv(t *testing.T, db *DB, opts ...envOption) *testEnv {
	t.Helper()
	e := &testEnv{db: db, mail: newFakeMailer(), clock: &fakeClock{t: time.Now().UTC().Truncate(time.Second)},
		secret: []byte("0123456789abcdef0123456789abcdef")}
	hc := HasherConfig{Params: testParams, AllowWeak: true, Slots: 32, Wait: 10 * time.Second}
	qc := QueueConfig{Mailer: e.mail, ResetURL: "https://app.example.org/password-reset", TokenTTL: 30 * time.Minute,
		SupportContact: "help@example.org", PollInterval: 20 * time.Millisecond, Now: e.clock.Now,
		RetryBase: 20 * time.Millisecond,
		Pseudonym: NewPseudonymizer([]byte("k")).Email}
	for _, o := range opts {
		o(&hc, &qc)
	}
	var err error
	if e.hasher, err = NewHasher(hc); err != nil {
		t.Fatal(err)
	}
	e.logs = &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	if e.q, err = NewQueue(db, qc, log); err != nil {
		t.Fatal(err)
	}
	sessions, err := NewSessions(context.Background(), db.Gorm, SessionsConfig{Secret: e.secret, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.p = NewPasswords(PasswordsDeps{DB: db, Hasher: e.hasher, Policy: NewPolicy(PolicyConfig{}), Queue: e.q,
		Limits: NewLimits(db, generousLimits, e.clock.Now), Sessions: sessions, Pseudo: NewPseudonymizer([]byte("k")),
		Log: log, Now: e.clock.Now})
	events, cancel := e.q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled,
		river.EventKindJobFailed, river.EventKindJobSnoozed)
	e.events = events
	ctx, stop := context.WithCancel(context.Background())
	if err := e.q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = e.q.Stop(sctx)
		cancel()
		stop()
	})
	return e
}

// waitJob waits until some job reaches a final or snoozed state and returns
// its event.
func (e *testEnv) waitJob(t *testing.T) *river.Event {
	t.Helper()
	for {
		select {
		case ev := <-e.events:
			if ev.Job.Kind == (housekeepingArgs{}).Kind() {
				continue
			}
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no job finished within 20 s")
			return nil
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

// mustLogin asserts that password verifies for the account.
func (e *testEnv) verifies(t *testing.T, userID, password string) bool {
	t.Helper()
	var u models.User
	if err := e.db.Gorm.Where("id = ?", userID).Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	ok, _, err := e.hasher.Verify(context.Background(), models.NormalizePassword(password), u.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
