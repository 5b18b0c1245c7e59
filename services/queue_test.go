package services

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// withSendGrid points the queue at the real SendGrid client and fake f.
func withSendGrid(f *fakeSendGrid, timeout time.Duration) envOption {
	return func(_ *HasherConfig, q *QueueConfig) { q.Mailer = newTestSendGrid(f.URL, timeout) }
}

// waitFinal waits for the next job to complete or be cancelled, skipping
// retries and snoozes, and returns its final state.
func (e *testEnv) waitFinal(t *testing.T) rivertype.JobState {
	t.Helper()
	for {
		ev := e.waitJob(t)
		if s := ev.Job.State; s == rivertype.JobStateCompleted || s == rivertype.JobStateCancelled || s == rivertype.JobStateDiscarded {
			return s
		}
	}
}

func sgToken(t *testing.T, p sgPayload) string {
	t.Helper()
	for _, c := range p.Content {
		if i := strings.Index(c.Value, "?token="); i >= 0 {
			u, err := url.Parse("https://x/" + c.Value[i:i+len("?token=")+43])
			if err == nil {
				return u.Query().Get("token")
			}
		}
	}
	t.Fatal("no token in payload")
	return ""
}

// 500 → 503 → 429 → 202: four attempts, one delivery, and only the link of
// the delivered attempt works (each attempt issues a fresh token).
func TestDeliveryRetriesUntilAccepted(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		sg := newFakeSendGrid(t, sgStep{status: 500}, sgStep{status: 503}, sgStep{status: 429, retryAfter: "1"})
		e := newEnv(t, db, withSendGrid(sg, time.Second))
		e.mustUser(t, "ann@example.org", pwA)
		if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		if got := e.waitFinal(t); got != rivertype.JobStateCompleted {
			t.Fatalf("job ended %s, want completed", got)
		}
		p := sg.Payloads()
		if len(p) != 4 {
			t.Fatalf("got %d attempts, want 4 (500, 503, 429, 202)", len(p))
		}
		for i, pl := range p[:3] {
			if err := e.p.Reset(context.Background(), client, sgToken(t, pl), pwB); !errors.Is(err, models.ErrInvalidToken) {
				t.Fatalf("token of failed attempt %d: got %v, want ErrInvalidToken", i+1, err)
			}
		}
		if err := e.p.Reset(context.Background(), client, sgToken(t, p[3]), pwB); err != nil {
			t.Fatalf("token of the delivered email: %v", err)
		}
	})
}

func TestPermanentRefusalIsDeadLetterAtOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		sg := newFakeSendGrid(t, sgStep{status: 400, body: `{"errors":[{"message":"bad sender"}]}`})
		e := newEnv(t, db, withSendGrid(sg, time.Second))
		e.mustUser(t, "ann@example.org", pwA)
		if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		if got := e.waitFinal(t); got != rivertype.JobStateCancelled {
			t.Fatalf("job ended %s, want cancelled (dead letter)", got)
		}
		if n := len(sg.Payloads()); n != 1 {
			t.Fatalf("got %d attempts, want 1: a 400 is never retried", n)
		}
		dl, err := e.q.DeadLetters(context.Background(), 10)
		if err != nil || len(dl) != 1 {
			t.Fatalf("dead letters: %v %v, want one", dl, err)
		}
		if d := dl[0]; d.Kind != models.MessageReset || !strings.Contains(d.LastError, "bad sender") ||
			strings.Contains(d.Recipient, "@") || d.Attempts != 1 {
			t.Fatalf("dead letter %+v: want kind reset, the provider's text, a pseudonym, 1 attempt", d)
		}
		if err := e.q.Retry(context.Background(), dl[0].ID); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if got := e.waitFinal(t); got != rivertype.JobStateCompleted {
			t.Fatalf("retried job ended %s, want completed", got)
		}
		if err := e.q.Retry(context.Background(), dl[0].ID); !errors.Is(err, ErrNotDeadLetter) {
			t.Fatalf("retry of a delivered message: got %v, want ErrNotDeadLetter", err)
		}
	})
}

func TestHangingProviderTimesOutAndRetries(t *testing.T) {
	sg := newFakeSendGrid(t, sgStep{hang: true})
	e := newEnv(t, mustSQLite(t), withSendGrid(sg, 200*time.Millisecond))
	e.mustUser(t, "ann@example.org", pwA)
	if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	if got := e.waitFinal(t); got != rivertype.JobStateCompleted {
		t.Fatalf("job ended %s, want completed after the timeout and a retry", got)
	}
	if n := len(sg.Payloads()); n != 2 {
		t.Fatalf("got %d attempts, want 2", n)
	}
}

// A reset email still undelivered when its token lifetime is over is
// dropped: the link would be dead on arrival.
func TestResetEmailStopsAfterTokenLifetime(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		e := newEnv(t, db)
		e.mustUser(t, "ann@example.org", pwA)
		e.mail.mu.Lock()
		e.mail.fail = func(models.Message) error {
			e.clock.Advance(11 * time.Minute) // each failed attempt takes "11 minutes"
			return &SendError{Status: 503, Reason: "unavailable"}
		}
		e.mail.mu.Unlock()
		if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		if got := e.waitFinal(t); got != rivertype.JobStateCancelled {
			t.Fatalf("job ended %s, want cancelled after the 30-minute lifetime", got)
		}
		e.mail.none(t)
	})
}

// Every delivery outcome is one structured line: message id, kind, attempt,
// outcome and the recipient as a keyed pseudonym. No line of any flow holds
// the address, the token or a password.
func TestDeliveryIsLoggedWithoutSecrets(t *testing.T) {
	e := newEnv(t, mustSQLite(t))
	e.mustUser(t, "Canary.Person@example.org", pwA)
	tok := e.mustToken(t, "canary.person@EXAMPLE.org")
	if err := e.p.Reset(context.Background(), client, tok, pwB); err != nil {
		t.Fatal(err)
	}
	e.mail.next(t) // the notice
	e.waitFinal(t) // the reset email's job
	e.waitFinal(t) // the notice's job
	var sent []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if m["msg"] == "mail delivery" {
			sent = append(sent, m)
		}
	}
	if len(sent) != 2 {
		t.Fatalf("got %d delivery lines, want 2 (reset and notice)", len(sent))
	}
	for _, m := range sent {
		id, _ := m["message_id"].(string)
		rcpt, _ := m["recipient"].(string)
		if !strings.HasPrefix(id, "job-") || m["attempt"] != 1.0 || m["outcome"] != "sent" || !strings.HasPrefix(rcpt, "e:") {
			t.Errorf("delivery line %v: want message_id job-N, attempt 1, outcome sent, an e: pseudonym", m)
		}
	}
	for _, secret := range []string{"canary.person", "Canary.Person", tok, pwA, pwB} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// Housekeeping deletes expired tokens, used or not, keeps live ones, and runs
// the configured extra clean-up.
func TestHousekeeping(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		e := newEnv(t, db)
		u := e.mustUser(t, "house@example.org", pwA)
		now := e.clock.Now()
		used := now.Add(-time.Hour)
		for i, tok := range []models.ResetToken{
			{UserID: u.ID, TokenHash: "expired", ExpiresAt: now.Add(-time.Minute), CreatedAt: now},
			{UserID: u.ID, TokenHash: "expired-used", ExpiresAt: now.Add(-time.Minute), UsedAt: &used, CreatedAt: now},
			{UserID: u.ID, TokenHash: "live", ExpiresAt: now.Add(time.Minute), CreatedAt: now},
		} {
			if err := db.Gorm.Create(&tok).Error; err != nil {
				t.Fatalf("token %d: %v", i, err)
			}
		}
		// A worker of its own, so the running queue's hourly job cannot be
		// the one that did the work.
		cleaned := false
		w := &housekeepingWorker{q: &Queue{db: db, log: slog.New(slog.DiscardHandler), cfg: QueueConfig{Now: e.clock.Now,
			Housekeeping: func(context.Context) error { cleaned = true; return nil }}}}
		if err := w.Work(context.Background(), &river.Job[housekeepingArgs]{}); err != nil {
			t.Fatal(err)
		}
		var left []string
		db.Gorm.Model(&models.ResetToken{}).Order("token_hash").Pluck("token_hash", &left)
		if len(left) != 1 || left[0] != "live" || !cleaned {
			t.Fatalf("left %v, clean-up ran %v; want only the live token and the clean-up", left, cleaned)
		}
	})
}
