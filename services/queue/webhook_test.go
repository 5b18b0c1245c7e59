package queue

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
	"github.com/accountpw/accountpw/services/webhook"
)

// hookSecret signs the test events; the Python receiver checks with it.
const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// verifyPy is a receiver written from the Standard Webhooks specification
// alone, in Python's standard library, so the signatures are not checked
// by the code that made them. Arguments: secret, webhook-id,
// webhook-timestamp, webhook-signature; the body on stdin. Exit 0 when a
// v1 signature matches and the timestamp is within five minutes.
const verifyPy = `
import base64, hashlib, hmac, sys, time
secret, msg_id, ts, header = sys.argv[1:5]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret[len("whsec_"):])
if abs(time.time() - int(ts)) > 300:
    sys.exit(1)
mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
expected = base64.b64encode(mac.digest()).decode()
sys.exit(0 if any(hmac.compare_digest(s.partition(",")[2], expected)
                  for s in header.split(" ") if s.startswith("v1,")) else 1)
`

// hookStep is one scripted answer of the receiver.
type hookStep struct {
	status     int
	retryAfter string
}

// hookRequest is one request the receiver saw.
type hookRequest struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver answers with its steps in order, then 204, and keeps every
// request.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	steps []hookStep
	got   []hookRequest
}

func newReceiver(t *testing.T, steps ...hookStep) *receiver {
	t.Helper()
	r := &receiver{steps: steps}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{req.Header.Clone(), body, time.Now()})
		step := hookStep{status: http.StatusNoContent}
		if len(r.steps) > 0 {
			step, r.steps = r.steps[0], r.steps[1:]
		}
		r.mu.Unlock()
		if step.retryAfter != "" {
			w.Header().Set("Retry-After", step.retryAfter)
		}
		w.WriteHeader(step.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// verifies runs the Python receiver on one request.
func verifies(t *testing.T, r hookRequest) bool {
	t.Helper()
	cmd := exec.Command("python3", "-c", verifyPy, hookSecret, r.header.Get(webhook.HeaderID),
		r.header.Get(webhook.HeaderTimestamp), r.header.Get(webhook.HeaderSignature))
	cmd.Stdin = bytes.NewReader(r.body)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return false
	}
	t.Fatalf("python3 verifier: %v: %s", err, out)
	return false
}

// hookEnv is a running queue whose webhook sender points at a receiver.
type hookEnv struct {
	q        *Queue
	db       *store.DB
	rec      *receiver
	outcomes chan string
	logs     *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// newHookEnv starts a queue on db with a sender for rec (nil: webhook.url
// unset).
func newHookEnv(t *testing.T, db *store.DB, rec *receiver) *hookEnv {
	t.Helper()
	e := &hookEnv{db: db, rec: rec, outcomes: make(chan string, 100), logs: &lockedBuffer{}}
	var sender *webhook.Sender
	if rec != nil {
		var err error
		if sender, err = webhook.New(config.Webhook{URL: rec.URL + "/hooks", Secret: hookSecret}, time.Now); err != nil {
			t.Fatal(err)
		}
	}
	e.q = mustQueue(t, db, Deps{Webhooks: sender, Observe: func(d Delivery) {
		if d.Kind == KindWebhook {
			e.outcomes <- d.Outcome
		}
	}})
	e.q.deps.Log = slog.New(slog.NewJSONHandler(e.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = e.q.Stop(sctx)
		cancel()
	})
	return e
}

// enqueue records one password.changed event for userID.
func (e *hookEnv) enqueue(t *testing.T, userID string) webhook.Event {
	t.Helper()
	now := time.Now().UTC()
	ev, err := webhook.PasswordChanged(userID, models.MethodReset, now, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.InTx(context.Background(), func(tx *store.Tx) error {
		return e.q.EnqueueEvents(context.Background(), tx, []webhook.Event{ev})
	}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// outcome waits for the next webhook delivery outcome.
func (e *hookEnv) outcome(t *testing.T) string {
	t.Helper()
	select {
	case o := <-e.outcomes:
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook attempt finished within 20 s")
		return ""
	}
}

// deadLetters polls the dead-letter list until it holds n entries: the
// outcome is observed inside the worker, before River records the job's
// final state.
func (e *hookEnv) deadLetters(t *testing.T, n int) []DeadLetter {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
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

// waitState polls until the one webhook job is in state, which River
// records after the worker returned.
func (e *hookEnv) waitState(t *testing.T, state string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); got != state; {
		if err := e.db.SQL().QueryRow(`SELECT state FROM river_job WHERE kind = 'webhook'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job state %q after 20 s, want %q", got, state)
		}
		time.Sleep(20 * time.Millisecond) // polling the job's final state, not synchronising
	}
}

// An event arrives as the exact bytes of its body, signed so that an
// independent receiver accepts it, with a msg_ id; the job holds the event
// and nothing else.
func TestWebhookDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newHookEnv(t, db, newReceiver(t))
		ev := e.enqueue(t, "acme:42")
		if o := e.outcome(t); o != "sent" {
			t.Fatalf("outcome %q, want sent", o)
		}
		got := e.rec.requests()
		if len(got) != 1 {
			t.Fatalf("%d requests, want 1", len(got))
		}
		want, _ := ev.Body()
		if !bytes.Equal(got[0].body, want) {
			t.Errorf("body %s, want %s", got[0].body, want)
		}
		if id := got[0].header.Get(webhook.HeaderID); !strings.HasPrefix(id, "msg_") || len(id) != len("msg_")+22 {
			t.Errorf("webhook-id %q, want msg_ and 22 characters", id)
		}
		if !verifies(t, got[0]) {
			t.Error("the Python receiver refuses the signature")
		}
		var args string
		query := `SELECT json(args) FROM river_job WHERE kind = 'webhook'` // SQLite keeps JSONB
		if db.Postgres() {
			query = `SELECT CAST(args AS TEXT) FROM river_job WHERE kind = 'webhook'`
		}
		if err := db.SQL().QueryRow(query).Scan(&args); err != nil {
			t.Fatal(err)
		}
		for _, member := range []string{`"message_id"`, `"event"`, `"deadline"`, `"user_id"`} {
			if !strings.Contains(args, member) {
				t.Errorf("job args %s lack %s", args, member)
			}
		}
		// No address and no client IP member (the random message id may
		// well contain the letters "ip").
		if strings.Contains(args, "@") || strings.Contains(args, `"ip"`) {
			t.Errorf("job args %s carry more than the event", args)
		}
		line := `"msg":"mail delivery","message_id":"` + got[0].header.Get(webhook.HeaderID) + `","kind":"webhook","attempt":1,"outcome":"sent"`
		if !strings.Contains(e.logs.String(), line) {
			t.Errorf("no delivery line like %s in\n%s", line, e.logs)
		}
	})
}

// Retried attempts carry the same webhook-id, each with its own valid
// signature, until the receiver takes the event.
func TestWebhookRetryKeepsID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newHookEnv(t, db, newReceiver(t, hookStep{status: 500}, hookStep{status: 503}))
		e.enqueue(t, "u-1")
		for i, want := range []string{"retry", "retry", "sent"} {
			if o := e.outcome(t); o != want {
				t.Fatalf("attempt %d: outcome %q, want %q", i+1, o, want)
			}
		}
		got := e.rec.requests()
		if len(got) != 3 {
			t.Fatalf("%d requests, want 3", len(got))
		}
		for i, r := range got {
			if r.header.Get(webhook.HeaderID) != got[0].header.Get(webhook.HeaderID) {
				t.Errorf("attempt %d has webhook-id %q, want the first's %q", i+1, r.header.Get(webhook.HeaderID), got[0].header.Get(webhook.HeaderID))
			}
			if !verifies(t, r) {
				t.Errorf("attempt %d does not verify", i+1)
			}
		}
	})
}

// 410 Gone: one attempt, no retry, no dead letter, a warning in the log.
func TestWebhookGone(t *testing.T) {
	db := storetest.SQLite(t)
	e := newHookEnv(t, db, newReceiver(t, hookStep{status: http.StatusGone}))
	e.enqueue(t, "u-1")
	if o := e.outcome(t); o != "gone" {
		t.Fatalf("outcome %q, want gone", o)
	}
	e.waitState(t, "completed")
	if n := len(e.rec.requests()); n != 1 {
		t.Fatalf("%d requests, want one", n)
	}
	if dl, err := e.q.DeadLetters(context.Background(), 10); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters %v, %v; want none for 410", dl, err)
	}
	if !strings.Contains(e.logs.String(), `"level":"WARN","msg":"mail delivery"`) || !strings.Contains(e.logs.String(), `"outcome":"gone"`) {
		t.Errorf("want a warning with outcome gone:\n%s", e.logs)
	}
}

// 429 with Retry-After: the next attempt waits that long and is not a
// failure.
func TestWebhookThrottledHonoursRetryAfter(t *testing.T) {
	db := storetest.SQLite(t)
	e := newHookEnv(t, db, newReceiver(t, hookStep{status: http.StatusTooManyRequests, retryAfter: "2"}))
	e.enqueue(t, "u-1")
	for i, want := range []string{"throttled", "sent"} {
		if o := e.outcome(t); o != want {
			t.Fatalf("attempt %d: outcome %q, want %q", i+1, o, want)
		}
	}
	got := e.rec.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	// The backoff would have retried within 40 ms here.
	if gap := got[1].at.Sub(got[0].at); gap < 1900*time.Millisecond {
		t.Errorf("the second attempt came after %s, want at least Retry-After's 2 s", gap)
	}
	var errs sql.NullString
	if err := db.SQL().QueryRow(`SELECT json(errors) FROM river_job WHERE kind = 'webhook'`).Scan(&errs); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errs.String, "429") {
		t.Errorf("a snooze was recorded as a failed attempt: %s", errs.String)
	}
}

// A refusal that retrying cannot fix is a dead letter at once, listed with
// kind webhook; an operator's retry sends it again with the same id.
func TestWebhookDeadLetterAndRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newHookEnv(t, db, newReceiver(t, hookStep{status: http.StatusBadRequest}))
		e.enqueue(t, "u-1")
		if o := e.outcome(t); o != "dead_letter" {
			t.Fatalf("outcome %q, want dead_letter", o)
		}
		dl := e.deadLetters(t, 1)
		if d := dl[0]; d.Kind != KindWebhook || !strings.HasSuffix(d.LastError, "webhook: HTTP 400") || d.Recipient != "" || d.Attempts != 1 {
			t.Fatalf("dead letter %+v: want kind webhook, the status, no recipient, 1 attempt", d)
		}
		if err := e.q.Retry(context.Background(), dl[0].ID); err != nil {
			t.Fatal(err)
		}
		if o := e.outcome(t); o != "sent" {
			t.Fatalf("retried: outcome %q, want sent", o)
		}
		got := e.rec.requests()
		if len(got) != 2 || got[1].header.Get(webhook.HeaderID) != got[0].header.Get(webhook.HeaderID) {
			t.Fatalf("got %d requests; want 2 with one webhook-id", len(got))
		}
	})
}

// A 3xx is not followed and not retried.
func TestWebhookRedirectIsDeadLetter(t *testing.T) {
	e := newHookEnv(t, storetest.SQLite(t), newReceiver(t, hookStep{status: http.StatusTemporaryRedirect}))
	e.enqueue(t, "u-1")
	if o := e.outcome(t); o != "dead_letter" {
		t.Fatalf("outcome %q, want dead_letter", o)
	}
	if n := len(e.rec.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// An event still undelivered after its deadline is dropped as a dead
// letter without a request.
func TestWebhookExpires(t *testing.T) {
	db := storetest.SQLite(t)
	e := newHookEnv(t, db, newReceiver(t))
	past := time.Now().Add(-WebhookDeadline - time.Minute).UTC()
	ev, _ := webhook.PasswordChanged("u-1", models.MethodChange, past, past)
	if err := db.InTx(context.Background(), func(tx *store.Tx) error {
		return e.q.EnqueueEvents(context.Background(), tx, []webhook.Event{ev})
	}); err != nil {
		t.Fatal(err)
	}
	if o := e.outcome(t); o != "expired" {
		t.Fatalf("outcome %q, want expired", o)
	}
	if n := len(e.rec.requests()); n != 0 {
		t.Fatalf("%d requests, want none", n)
	}
	if dl := e.deadLetters(t, 1); !strings.Contains(dl[0].LastError, "not delivered within 24h") {
		t.Fatalf("dead letter %+v", dl[0])
	}
}

// Without webhook.url no job is queued, and a job left from when it was set
// becomes a dead letter instead of going anywhere.
func TestNoWebhookURL(t *testing.T) {
	db := storetest.SQLite(t)
	e := newHookEnv(t, db, nil)
	if e.q.SendsEvents() {
		t.Fatal("SendsEvents without a sender")
	}
	e.enqueue(t, "u-1")
	if n := storetest.Count(t, db, "river_job"); n != 0 {
		t.Fatalf("%d jobs, want none without webhook.url", n)
	}
	now := time.Now().UTC()
	ev, _ := webhook.PasswordChanged("u-1", models.MethodReset, now, now)
	args, _ := json.Marshal(Webhook{MessageID: "msg_left", Event: ev, Deadline: now.Add(time.Hour)})
	if err := db.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := e.q.client.InsertTx(context.Background(), tx.SQL(), rawArgs{args}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if o := e.outcome(t); o != "dead_letter" {
		t.Fatalf("outcome %q, want dead_letter", o)
	}
	if dl := e.deadLetters(t, 1); !strings.Contains(dl[0].LastError, "webhook.url is not set") {
		t.Fatalf("dead letter %+v", dl[0])
	}
}

// rawArgs inserts a webhook job as an earlier process would have.
type rawArgs struct{ b []byte }

func (rawArgs) Kind() string                   { return KindWebhook }
func (r rawArgs) MarshalJSON() ([]byte, error) { return r.b, nil }

// Message ids are unique and header-safe.
func TestNewMessageID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		id := newMessageID()
		if seen[id] || !strings.HasPrefix(id, "msg_") || strconv.Quote(id) != `"`+id+`"` || strings.ContainsAny(id, " +/=") {
			t.Fatalf("id %q: repeated or not header-safe", id)
		}
		seen[id] = true
	}
}
