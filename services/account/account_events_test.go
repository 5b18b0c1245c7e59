package account

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
	"github.com/accountpw/accountpw/services/webhook"
)

// withEvents sends the listed event types to r.
func withEvents(r *hookReceiver, types ...string) envOption {
	return func(c *envConfig) {
		withWebhook(r)(c)
		c.webhook.Events = types
	}
}

// With the account.* types asked for, every door that creates an account,
// moves its address or deletes it queues its event, naming the account by
// id and saying when, never the address; the default sends none of them.
func TestAccountEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		rec := newHookReceiver(t)
		e := newEnv(t, db, withEvents(rec, webhook.TypePasswordChanged, webhook.TypeAccountCreated,
			webhook.TypeAccountEmailChanged, webhook.TypeAccountDeleted))
		ctx := context.Background()
		u := e.mustUser(t, "cli@example.org", pwA) // users create
		if _, err := e.p.PutAccount(ctx, "put", []byte(`{"email":"put@example.org"}`)); err != nil {
			t.Fatal(err)
		}
		e.runImport(t, lines(`{"id":"imp","email":"imp@example.org"}`), ImportOptions{})
		e.clock.Advance(time.Second)
		if err := e.p.SetEmail(ctx, u.ID, "moved@example.org"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.PutAccount(ctx, "put", []byte(`{"email":"put2@example.org"}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.p.PutAccount(ctx, "put", []byte(`{"email":"put2@example.org","locale":"fr"}`)); err != nil {
			t.Fatal(err) // no move: no event
		}
		if err := e.p.DeleteUser(ctx, "imp"); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for range 6 {
			ev := rec.next(t)
			got[ev.body.Type+" "+ev.body.Data.UserID]++
			if strings.Contains(ev.raw, "@") {
				t.Errorf("%s carries an address: %s", ev.body.Type, ev.raw)
			}
			switch ev.body.Type {
			case webhook.TypeAccountCreated:
				if ev.body.Data.CreatedAt.IsZero() || ev.body.Data.Method != "" {
					t.Errorf("created: %s", ev.raw)
				}
			case webhook.TypeAccountEmailChanged:
				if !ev.body.Data.ChangedAt.Equal(e.clock.Now()) {
					t.Errorf("email changed: %s, want changed_at %v", ev.raw, e.clock.Now())
				}
			case webhook.TypeAccountDeleted:
				if ev.body.Data.DeletedAt.IsZero() {
					t.Errorf("deleted: %s", ev.raw)
				}
			}
		}
		want := map[string]int{"account.created " + u.ID: 1, "account.created put": 1, "account.created imp": 1,
			"account.email_changed " + u.ID: 1, "account.email_changed put": 1, "account.deleted imp": 1}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d events, want %d (all: %v)", k, got[k], n, got)
			}
		}
		if n := webhookJobs(t, db); n != 6 {
			t.Fatalf("%d events queued, want 6", n)
		}
	})
}

// By default (webhook.events: [password.changed]) account changes queue
// nothing, so a receiver written for password.changed sees nothing new.
func TestAccountEventsAreOptIn(t *testing.T) {
	db := storetest.SQLite(t)
	rec := newHookReceiver(t)
	e := newEnv(t, db, withWebhook(rec))
	ctx := context.Background()
	u := e.mustUser(t, "a@example.org", pwA)
	if err := e.p.SetEmail(ctx, u.ID, "b@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := e.p.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n := webhookJobs(t, db); n != 0 {
		t.Fatalf("%d events by default, want none", n)
	}
	// And only the listed types go out: password.changed can be left out.
	e2 := newEnv(t, storetest.SQLite(t), withEvents(rec, webhook.TypeAccountDeleted))
	v := e2.mustUser(t, "c@example.org", pwA)
	if err := e2.p.Change(ctx, client, models.Session{UserID: v.ID}, pwA, pwB); err != nil {
		t.Fatal(err)
	}
	if err := e2.p.DeleteUser(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if ev := rec.next(t); ev.body.Type != webhook.TypeAccountDeleted || webhookJobs(t, e2.db) != 1 {
		t.Fatalf("got %s and %d jobs, want account.deleted alone", ev.body.Type, webhookJobs(t, e2.db))
	}
}
