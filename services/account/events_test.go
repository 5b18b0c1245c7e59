package account

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/webhook"
)

// hookReceiver records the events an application would receive.
type hookReceiver struct {
	*httptest.Server
	events chan receivedEvent
}

type receivedEvent struct {
	id   string
	body webhook.Event
	raw  string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	r := &hookReceiver{events: make(chan receivedEvent, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var e webhook.Event
		if err := json.Unmarshal(b, &e); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.events <- receivedEvent{id: req.Header.Get(webhook.HeaderID), body: e, raw: string(b)}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the next event.
func (r *hookReceiver) next(t *testing.T) receivedEvent {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no event reached the receiver within 20 s")
		return receivedEvent{}
	}
}

// withWebhook sends events to r.
func withWebhook(r *hookReceiver) envOption {
	return func(c *envConfig) {
		c.webhook = config.Webhook{URL: r.URL + "/hooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	}
}

// webhookJobs counts the queued events, delivered or not (River keeps
// finished jobs for an hour).
func webhookJobs(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM river_job WHERE kind = 'webhook'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A reset, a change and an import that replaces a hash each send one
// password.changed event naming the account, the method and the time the
// password changed, and nothing else; creating an account or importing a
// new one sends none.
func TestPasswordChangesSendEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		rec := newHookReceiver(t)
		e := newEnv(t, db, withWebhook(rec))
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		e.runImport(t, lines(`{"id":"imp","email":"imp@example.org","password_hash":"`+legacyBcrypt+`","password_changed_at":"2025-01-02T03:04:05Z"}`), ImportOptions{})
		if n := webhookJobs(t, db); n != 0 {
			t.Fatalf("%d events for new accounts, want none", n)
		}

		e.clock.Advance(time.Second)
		if err := e.p.Reset(ctx, client, e.mustToken(t, "ann@example.org"), pwB); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, pwB, pwC); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		e.runImport(t, lines(`{"id":"imp","email":"imp@example.org","password_hash":"`+legacyDjango+`"}`), ImportOptions{})

		seen := map[models.PasswordMethod]receivedEvent{}
		for range 3 {
			ev := rec.next(t)
			seen[ev.body.Data.Method] = ev
		}
		for _, want := range []struct {
			method models.PasswordMethod
			user   string
		}{{models.MethodReset, u.ID}, {models.MethodChange, u.ID}, {webhook.MethodImport, "imp"}} {
			ev, ok := seen[want.method]
			if !ok {
				t.Fatalf("no %s event among %v", want.method, seen)
			}
			if ev.body.Type != webhook.TypePasswordChanged || ev.body.Data.UserID != want.user || !strings.HasPrefix(ev.id, "msg_") {
				t.Errorf("%s event %+v (id %q)", want.method, ev.body, ev.id)
			}
			for _, leak := range []string{"@", "$", "192.0.2.1"} {
				if strings.Contains(ev.raw, leak) {
					t.Errorf("%s event %s carries %q", want.method, ev.raw, leak)
				}
			}
		}
		// changed_at is the account's password_changed_at: the time an
		// application compares its sessions with.
		if got, want := seen[models.MethodChange].body.Data.ChangedAt, e.user(t, u.ID).PasswordChangedAt; !got.Equal(want) {
			t.Errorf("change event at %v, want the stored %v", got, want)
		}
		if got, want := seen[webhook.MethodImport].body.Data.ChangedAt, e.user(t, "imp").PasswordChangedAt; !got.Equal(want) {
			t.Errorf("import event at %v, want the stored %v", got, want)
		}
	})
}

// The event is part of the change's transaction: a reset, a change or an
// import batch that fails inside it leaves no event, and the one that
// succeeds leaves exactly one.
func TestEventIsAtomicWithTheChange(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		rec := newHookReceiver(t)
		e := newEnv(t, db, withWebhook(rec))
		ctx := context.Background()
		u := e.mustUser(t, "atom@example.org", pwA)
		e.runImport(t, lines(`{"id":"imp","email":"imp@example.org","password_hash":"`+legacyBcrypt+`","password_changed_at":"2025-01-02T03:04:05Z"}`), ImportOptions{})
		tok := e.mustToken(t, "atom@example.org")
		failOn, failOff := `CREATE TRIGGER fail_users BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
			`DROP TRIGGER fail_users`
		if db.Postgres() {
			failOn = `CREATE FUNCTION fail_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
				CREATE TRIGGER fail_users BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION fail_users()`
			failOff = `DROP TRIGGER fail_users ON users`
		}
		if _, err := db.SQL().Exec(failOn); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Reset(ctx, client, tok, pwB); err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("reset: got %v, want the injected failure", err)
		}
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, pwA, pwB); err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("change: got %v, want the injected failure", err)
		}
		_, err := e.p.Import(ctx, strings.NewReader(lines(`{"id":"imp","email":"imp@example.org","password_hash":"`+legacyDjango+`"}`)), ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("import: got %v, want the injected failure", err)
		}
		if n := webhookJobs(t, db); n != 0 {
			t.Fatalf("%d events after three failed changes, want none", n)
		}
		if !e.verifies(t, u.ID, pwA) || e.user(t, "imp").PasswordHash != legacyBcrypt {
			t.Fatal("a failed change left a new password behind")
		}
		if _, err := db.SQL().Exec(failOff); err != nil {
			t.Fatal(err)
		}
		if err := e.p.Reset(ctx, client, tok, pwB); err != nil {
			t.Fatal(err)
		}
		if ev := rec.next(t); ev.body.Data.Method != models.MethodReset || webhookJobs(t, db) != 1 {
			t.Fatalf("after the reset: %+v and %d jobs, want one reset event", ev.body, webhookJobs(t, db))
		}
	})
}

// Without webhook.url nothing is queued for any kind of change.
func TestNoEventsWithoutWebhookURL(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		if err := e.p.Change(ctx, client, models.Session{UserID: u.ID}, pwA, pwB); err != nil {
			t.Fatal(err)
		}
		e.mail.next(t) // the notice
		if err := e.p.Reset(ctx, client, e.mustToken(t, "ann@example.org"), pwC); err != nil {
			t.Fatal(err)
		}
		e.runImport(t, lines(`{"id":"`+u.ID+`","email":"ann@example.org","password_hash":"`+legacyBcrypt+`"}`), ImportOptions{})
		if n := webhookJobs(t, db); n != 0 {
			t.Fatalf("%d webhook jobs without webhook.url", n)
		}
	})
}
