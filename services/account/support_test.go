package account

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// A support reset by email sends the account a working link, counts
// against its address's quota (over it: 429, nothing queued), and an
// unknown id is ErrNoAccount.
func TestEmailReset(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.ResetAddressPer15m = 2
		e := newEnv(t, db, withLimits(l))
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		if err := e.p.EmailReset(ctx, client, u.ID); err != nil {
			t.Fatal(err)
		}
		tok := tokenFrom(t, e.mail.next(t))
		// A public request for the same address shares the quota.
		if err := e.p.RequestReset(ctx, models.Client{IP: "198.51.100.3"}, "ann@example.org"); err != nil {
			t.Fatal(err)
		}
		e.mail.next(t)
		jobs := storetest.Count(t, db, "river_job")
		err := e.p.EmailReset(ctx, client, u.ID)
		mustRateLimited(t, err)
		if n := storetest.Count(t, db, "river_job"); n != jobs {
			t.Fatalf("a reset over the quota queued %d jobs", n-jobs)
		}
		if err := e.p.EmailReset(ctx, client, "nobody"); !errors.Is(err, ErrNoAccount) {
			t.Fatalf("an unknown id: got %v", err)
		}
		e.mail.none(t)
		if err := e.p.Reset(ctx, client, tok, pwB); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("the first link after a later one was issued: got %v, want ErrInvalidToken", err)
		}
		if !strings.Contains(e.logs.String(), `"event":"support_reset_refused"`) {
			t.Error("the refusal over the quota is not logged")
		}
	})
}

// A returned link is the emailed link's twin: it completes a reset, it
// supersedes earlier links, it is counted against no quota, and it never
// reaches the log.
func TestResetLink(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.ResetAddressPer15m = 1
		e := newEnv(t, db, withLimits(l))
		ctx := context.Background()
		u := e.mustUser(t, "ann@example.org", pwA)
		emailed := e.mustToken(t, "ann@example.org") // spends the quota
		link, err := e.p.ResetLink(ctx, client, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := url.Parse(link.Link)
		if err != nil || !strings.HasPrefix(link.Link, testReset.URL+"?token=") || !link.ExpiresAt.Equal(e.clock.Now().Add(testReset.TokenTTL)) {
			t.Fatalf("got %+v, %v", link, err)
		}
		second, err := e.p.ResetLink(ctx, client, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, old := range []string{emailed, parsed.Query().Get("token")} {
			if err := e.p.Reset(ctx, client, old, pwB); !errors.Is(err, models.ErrInvalidToken) {
				t.Fatalf("a superseded link: got %v", err)
			}
		}
		u2, _ := url.Parse(second.Link)
		if err := e.p.Reset(ctx, client, u2.Query().Get("token"), pwB); err != nil {
			t.Fatalf("the returned link: %v", err)
		}
		if strings.Contains(e.logs.String(), u2.Query().Get("token")) || strings.Contains(e.logs.String(), parsed.Query().Get("token")) {
			t.Fatal("a returned link reached the log")
		}
		if _, err := e.p.ResetLink(ctx, client, "nobody"); !errors.Is(err, ErrNoAccount) {
			t.Fatalf("an unknown id: got %v", err)
		}
	})
}
