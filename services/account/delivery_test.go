package account

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/mail"
	"github.com/accountpw/accountpw/services/mail/mailtest"
	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// withSendGrid points the queue at the real SendGrid client and fake f.
func withSendGrid(f *mailtest.SendGrid, timeout time.Duration) envOption {
	return func(c *envConfig) { c.mailer = mail.NewSendGrid(mailtest.SendGridConfig(f.URL, timeout)) }
}

type sgStep = mailtest.Step

var newFakeSendGrid = mailtest.NewSendGrid

func sgToken(t *testing.T, p mailtest.Payload) string {
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

// mustDeadLetters polls the dead-letter list until it holds n messages: the
// delivery outcome is observed inside the worker, before River records the
// job's final state.
func (e *testEnv) mustDeadLetters(t *testing.T, n int) []queue.DeadLetter {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		dl, err := e.q.DeadLetters(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl) >= n {
			return dl
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters after 20 s, want %d", len(dl), n)
		}
		time.Sleep(20 * time.Millisecond) // polling the job's final state, not synchronising
	}
}

// 500 → 503 → 429 → 202: four attempts, one delivery, and every attempt
// carries the same link, which works: an attempt the provider took although
// it answered a failure is as good as the delivered one.
func TestDeliveryRetriesUntilAccepted(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		sg := newFakeSendGrid(t, sgStep{Status: 500}, sgStep{Status: 503}, sgStep{Status: 429, RetryAfter: "1"})
		e := newEnv(t, db, withSendGrid(sg, time.Second))
		e.mustUser(t, "ann@example.org", pwA)
		if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		if got := e.waitFinal(t); got != "completed" {
			t.Fatalf("job ended %s, want completed", got)
		}
		p := sg.Payloads()
		if len(p) != 4 {
			t.Fatalf("got %d attempts, want 4 (500, 503, 429, 202)", len(p))
		}
		for i, pl := range p[:3] {
			if got, want := sgToken(t, pl), sgToken(t, p[3]); got != want {
				t.Fatalf("attempt %d carried another link than the delivered one", i+1)
			}
		}
		if err := e.p.Reset(context.Background(), client, sgToken(t, p[0]), pwB); err != nil {
			t.Fatalf("the link of the first attempt: %v", err)
		}
	})
}

func TestPermanentRefusalIsDeadLetterAtOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		sg := newFakeSendGrid(t, sgStep{Status: 400, Body: `{"errors":[{"message":"bad sender"}]}`})
		e := newEnv(t, db, withSendGrid(sg, time.Second))
		e.mustUser(t, "ann@example.org", pwA)
		if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		if got := e.waitFinal(t); got != "cancelled" {
			t.Fatalf("job ended %s, want cancelled (dead letter)", got)
		}
		if n := len(sg.Payloads()); n != 1 {
			t.Fatalf("got %d attempts, want 1: a 400 is never retried", n)
		}
		dl := e.mustDeadLetters(t, 1)
		if len(dl) != 1 {
			t.Fatalf("dead letters: %v, want one", dl)
		}
		if d := dl[0]; d.Kind != models.MessageReset || !strings.Contains(d.LastError, "bad sender") ||
			strings.Contains(d.Recipient, "@") || d.Attempts != 1 {
			t.Fatalf("dead letter %+v: want kind reset, the provider's text, a pseudonym, 1 attempt", d)
		}
		if err := e.q.Retry(context.Background(), dl[0].ID); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if got := e.waitFinal(t); got != "completed" {
			t.Fatalf("retried job ended %s, want completed", got)
		}
		if err := e.q.Retry(context.Background(), dl[0].ID); !errors.Is(err, queue.ErrNotDeadLetter) {
			t.Fatalf("retry of a delivered message: got %v, want ErrNotDeadLetter", err)
		}
	})
}

func TestHangingProviderTimesOutAndRetries(t *testing.T) {
	sg := newFakeSendGrid(t, sgStep{Hang: true})
	e := newEnv(t, storetest.SQLite(t), withSendGrid(sg, 200*time.Millisecond))
	e.mustUser(t, "ann@example.org", pwA)
	if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	if got := e.waitFinal(t); got != "completed" {
		t.Fatalf("job ended %s, want completed after the timeout and a retry", got)
	}
	if n := len(sg.Payloads()); n != 2 {
		t.Fatalf("got %d attempts, want 2", n)
	}
}

// A reset email still undelivered when its token lifetime is over is
// dropped: the link would be dead on arrival.
func TestResetEmailStopsAfterTokenLifetime(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.mustUser(t, "ann@example.org", pwA)
		e.mail.mu.Lock()
		e.mail.fail = func(models.Message) error {
			e.clock.Advance(11 * time.Minute) // each failed attempt takes "11 minutes"
			return &mail.SendError{Status: 503, Reason: "unavailable"}
		}
		e.mail.mu.Unlock()
		if err := e.p.RequestReset(context.Background(), client, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		if got := e.waitFinal(t); got != "cancelled" {
			t.Fatalf("job ended %s, want cancelled after the 30-minute lifetime", got)
		}
		e.mail.none(t)
	})
}

// Every delivery outcome is one structured line: message id, kind, attempt,
// outcome and the recipient as a keyed pseudonym. No line of any flow holds
// the address, the token or a password.
func TestDeliveryIsLoggedWithoutSecrets(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
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
