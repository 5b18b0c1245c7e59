package account

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
)

// observed is an Observer that keeps what it heard, in order.
type observed struct {
	mu    sync.Mutex
	heard []string
}

func (o *observed) ObserveRateLimited(limit string) { o.add("limit " + limit) }

func (o *observed) ObservePolicyRejection(code string) { o.add("policy " + code) }

func (o *observed) ObserveSignIn(outcome string) { o.add("sign_in " + outcome) }

func (o *observed) add(s string) { o.mu.Lock(); defer o.mu.Unlock(); o.heard = append(o.heard, s) }

// Every limit's 429 is heard under the name its security event logs, and
// every policy refusal under its code; a request let through, or refused
// for anything but a limit or the policy, is heard as nothing.
func TestObserverHearsEveryLimitAndPolicyRefusal(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		l := generousLimits()
		l.ClientPerMinute, l.ResetIPPerMinute, l.TokenFailuresPer15m, l.ChangeFailures = 2, 1, 1, 1
		e := newEnv(t, db, withLimits(l))
		obs := &observed{}
		e.p.Observer = obs
		ctx := context.Background()
		u := e.mustUser(t, "ida@example.org", pwA)
		s := models.Session{UserID: u.ID}
		other := func(ip string) models.Client { return models.Client{IP: ip, RequestID: "test"} }

		ceiling := other("198.51.100.9")
		for range 2 {
			if err := e.p.Admit(ctx, ceiling); err != nil {
				t.Fatal(err)
			}
		}
		mustRateLimited(t, e.p.Admit(ctx, ceiling))
		// {"email"} counts the ceiling in its batch, with its own limits.
		tok := e.mustToken(t, "ida@example.org") // the one reset request a client may make
		mustRateLimited(t, e.p.RequestReset(ctx, client, "ida@example.org"))
		mustRateLimited(t, e.p.RequestReset(ctx, client, "ida@example.org")) // its third request
		if err := e.p.Reset(ctx, other("198.51.100.1"), tok, "short"); !errors.Is(err, models.ErrPasswordTooShort) {
			t.Fatalf("reset to a short password: got %v", err)
		}
		if err := e.p.Reset(ctx, other("198.51.100.2"), "not-a-token", pwB); !errors.Is(err, models.ErrInvalidToken) {
			t.Fatalf("a wrong token: got %v", err)
		}
		mustRateLimited(t, e.p.Reset(ctx, other("198.51.100.2"), "not-a-token", pwB))
		if err := e.p.Change(ctx, client, s, pwA, "PasswordStandard"); !errors.Is(err, models.ErrPasswordBlocklisted) {
			t.Fatalf("change to a common password: got %v", err)
		}
		if err := e.p.Change(ctx, client, s, pwB, pwC); !errors.Is(err, models.ErrWrongPassword) {
			t.Fatalf("a wrong old password: got %v", err)
		}
		mustRateLimited(t, e.p.Change(ctx, client, s, pwA, pwC))

		want := []string{"limit " + LimitClientCeiling, "limit " + LimitResetRequestIP, "limit " + LimitClientCeiling,
			"policy password_too_short",
			"limit " + LimitTokenFailuresIP, "policy password_blocklisted", "limit " + LimitWrongOldPassword}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if !slices.Equal(obs.heard, want) {
			t.Fatalf("heard %q, want %q", obs.heard, want)
		}
		if got := []string{LimitClientCeiling, LimitResetRequestIP, LimitTokenFailuresIP, LimitWrongOldPassword}; !slices.Equal(got,
			[]string{"client_ceiling", "reset_request_ip", "token_failures_ip", "wrong_old_password"}) {
			t.Fatalf("the limit names changed: %q; they are a public contract of the metrics", got)
		}
	})
}
