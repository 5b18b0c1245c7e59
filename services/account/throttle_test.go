package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/ratelimit"
	"github.com/accountpw/accountpw/services/store"
)

// The limits as the operations apply them, with the default configuration.

func TestPasswordsTokenGuessingThrottled(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withLimits(config.DefaultLimits()))
		ctx := context.Background()
		u := e.mustUser(t, "ada@example.org", pwA)
		guess := func() error {
			plain, _ := newToken()
			return e.p.Reset(ctx, client, plain, pwB)
		}
		// A genuine token is not a guess: a person retrying after policy
		// refusals is never throttled for it.
		first := e.mustToken(t, "ada@example.org")
		for i := range 12 {
			if err := e.p.Reset(ctx, client, first, "short"); !errors.Is(err, models.ErrPasswordTooShort) {
				t.Fatalf("policy retry %d with a genuine token: got %v, want ErrPasswordTooShort", i+1, err)
			}
		}
		for i := range 10 {
			if err := guess(); !errors.Is(err, models.ErrInvalidToken) {
				t.Fatalf("wrong token %d: got %v, want ErrInvalidToken", i+1, err)
			}
		}
		genuine := e.mustToken(t, "ada@example.org") // requesting a token resets no counter
		mustRateLimited(t, guess())
		mustRateLimited(t, e.p.Reset(ctx, client, genuine, pwB))
		// The limit binds the guessing IP, not the account.
		other := models.Client{IP: "198.51.100.7", RequestID: "test"}
		if err := e.p.Reset(ctx, other, genuine, pwB); err != nil {
			t.Fatalf("genuine token from another IP: %v", err)
		}
		if !e.verifies(t, u.ID, pwB) {
			t.Fatal("the new password does not verify")
		}
	})
}

func TestPasswordsChangeThrottled(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withLimits(config.DefaultLimits()))
		ctx := context.Background()
		u := e.mustUser(t, "bo@example.org", pwA)
		s := models.Session{UserID: u.ID}
		// Counted per account, whatever the IP.
		for i := range 10 {
			c := models.Client{IP: fmt.Sprintf("203.0.113.%d", i+1), RequestID: "test"}
			if err := e.p.Change(ctx, c, s, pwC, pwB); !errors.Is(err, models.ErrWrongPassword) {
				t.Fatalf("wrong old %d: got %v, want ErrWrongPassword", i+1, err)
			}
		}
		if retry := mustRateLimited(t, e.p.Change(ctx, client, s, pwA, pwB)); retry != time.Minute {
			t.Fatalf("correct old inside the back-off: Retry-After %v, want 1m", retry)
		}
		if !e.verifies(t, u.ID, pwA) {
			t.Fatal("the password changed inside the back-off")
		}
		e.clock.Advance(time.Minute)
		if err := e.p.Change(ctx, client, s, pwA, pwB); err != nil {
			t.Fatalf("correct old after the back-off: %v", err)
		}
		e.mail.next(t)
		if err := e.p.Change(ctx, client, s, pwA, pwC); !errors.Is(err, models.ErrWrongPassword) {
			t.Fatalf("wrong old after a success: got %v, want ErrWrongPassword", err)
		}
		// The reset flow stays open while change is throttled, and a
		// completed reset ends the back-off: nothing locks an account.
		for range 9 {
			_ = e.p.Change(ctx, client, s, pwA, pwC) // wrong old passwords, counted
		}
		mustRateLimited(t, e.p.Change(ctx, client, s, pwB, pwC))
		tok := e.mustToken(t, "bo@example.org")
		if err := e.p.Reset(ctx, client, tok, pwC); err != nil {
			t.Fatalf("reset while change is throttled: %v", err)
		}
		e.mail.next(t)
		if err := e.p.Change(ctx, client, s, pwC, pwA); err != nil {
			t.Fatalf("change after the reset: %v", err)
		}
	})
}

// mustRateLimited returns the Retry-After of a rate-limited error and fails
// the test for anything else.
func mustRateLimited(t *testing.T, err error) time.Duration {
	t.Helper()
	var e *models.Error
	if !errors.As(err, &e) || e.Kind != models.KindRateLimited {
		t.Fatalf("got %v, want a rate-limited error", err)
	}
	if e.RetryAfter <= 0 {
		t.Fatalf("Retry-After is %v, want positive", e.RetryAfter)
	}
	return e.RetryAfter
}

// Only a completed reset ends the wrong-old-password back-off: a genuine
// token whose new password the policy refuses is not used up, and if it
// cleared the count it could be presented again after every ten guesses.
func TestRefusedResetKeepsChangeBackoff(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withLimits(config.DefaultLimits()))
		ctx := context.Background()
		u := e.mustUser(t, "cy@example.org", pwA)
		s := models.Session{UserID: u.ID}
		for i := range 10 {
			if err := e.p.Change(ctx, client, s, pwC, pwB); !errors.Is(err, models.ErrWrongPassword) {
				t.Fatalf("wrong old %d: got %v, want ErrWrongPassword", i+1, err)
			}
		}
		tok := e.mustToken(t, "cy@example.org")
		if err := e.p.Reset(ctx, client, tok, "short"); !errors.Is(err, models.ErrPasswordTooShort) {
			t.Fatalf("refused reset: got %v, want ErrPasswordTooShort", err)
		}
		mustRateLimited(t, e.p.Change(ctx, client, s, pwC, pwB))
		if !e.verifies(t, u.ID, pwA) {
			t.Fatal("the password changed")
		}
	})
}

// Over the per-address quota the answer stays the same (nil: the handler's
// one fixed 202) and nothing is queued, but the log says why, so that
// whoever tries things out and sees no link can tell a quota from a bug.
func TestAddressQuotaIsLoggedNotAnswered(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.ResetAddressPer15m = 2
		e := newEnv(t, db, withLimits(l))
		ctx := context.Background()
		for i := range 3 {
			c := models.Client{IP: fmt.Sprintf("198.51.100.%d", i+1), RequestID: fmt.Sprintf("req-%d", i+1)}
			if err := e.p.RequestReset(ctx, c, "nobody@example.org"); err != nil {
				t.Fatalf("request %d: got %v, want nil like every {\"email\"}", i+1, err)
			}
		}
		events := map[string]map[string]any{}
		for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if ev["event"] == "reset_requested" {
				events[ev["request_id"].(string)] = ev
			}
		}
		for id, want := range map[string][2]any{
			"req-1": {true, nil}, "req-2": {true, nil}, "req-3": {false, ratelimit.ReasonAddressQuota},
		} {
			ev := events[id]
			if ev == nil {
				t.Fatalf("no reset_requested event for %s in\n%s", id, e.logs)
			}
			if ev["queued"] != want[0] || ev["reason"] != want[1] {
				t.Errorf("%s: queued %v, reason %v; want %v, %v", id, ev["queued"], ev["reason"], want[0], want[1])
			}
		}
		if got := events["req-3"]["limit"]; got != "limits.reset_per_address_per_15m" {
			t.Errorf("the quota's setting is %v, want limits.reset_per_address_per_15m (what to raise for local trials)", got)
		}
	})
}
