package services

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
)

// generousLimits keeps the limits out of the way of tests about something
// else, while every counter still runs against the database.
var generousLimits = LimitsConfig{
	Client: Rate{Max: 1 << 30}, ResetClient: Rate{Max: 1 << 30}, ResetClientLong: Rate{Max: 1 << 30},
	ResetAddress: Rate{Max: 1 << 30}, ResetAddressLong: Rate{Max: 1 << 30},
	TokenFailures: Rate{Max: 1 << 30}, ChangeFailures: Rate{Max: 1 << 30},
}

// limitsEpoch is a UTC midnight, so it starts a window of every default size.
var limitsEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func mustLimits(t *testing.T, db *DB, cfg LimitsConfig) (*Limits, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: limitsEpoch}
	return NewLimits(db, cfg, clock.Now), clock
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

func countRows(t *testing.T, db *DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Gorm.Raw("SELECT COUNT(*) FROM " + table).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLimitsDefaults(t *testing.T) {
	got := LimitsConfig{ResetClient: Rate{Max: 7}, TokenFailures: Rate{Per: 1500 * time.Millisecond}}.withDefaults()
	want := LimitsConfig{
		Client:           Rate{120, time.Minute},
		ResetClient:      Rate{7, time.Minute},
		ResetClientLong:  Rate{50, time.Hour},
		ResetAddress:     Rate{3, 15 * time.Minute},
		ResetAddressLong: Rate{10, 24 * time.Hour},
		TokenFailures:    Rate{10, time.Second},
		ChangeFailures:   Rate{10, 24 * time.Hour},
		ChangeBackoff:    time.Minute, ChangeBackoffMax: time.Hour,
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestLimitsOff(t *testing.T) {
	db := mustSQLite(t)
	ctx := context.Background()
	for name, l := range map[string]*Limits{"zero value": {}, "nil": nil, "disabled": NewLimits(db, LimitsConfig{Disabled: true}, nil)} {
		for range 200 {
			ok, err := l.ResetRequestByAddress(ctx, "a@example.org")
			errs := errors.Join(err, l.Admit(ctx, "ip"), l.ResetRequestByClient(ctx, "ip"), l.TokenAttempt(ctx, "ip"),
				l.TokenValid(ctx, "ip"), l.ChangeAttempt(ctx, "u"), l.ChangeUnchecked(ctx, "u"), l.ChangeSucceeded(ctx, "u"))
			if !ok || errs != nil {
				t.Fatalf("%s: got %v, %v; want everything allowed", name, ok, errs)
			}
		}
		if n, err := l.Cleanup(ctx); n != 0 || err != nil {
			t.Fatalf("%s: cleanup got %d, %v", name, n, err)
		}
	}
	if n := countRows(t, db, "rate_limit_counters") + countRows(t, db, "change_failures"); n != 0 {
		t.Fatalf("disabled limits stored %d rows", n)
	}
}

func TestLimitsPerClient(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		for _, row := range []struct {
			name    string
			attempt func(l *Limits, ip string) error
			max     int
			per     time.Duration
		}{
			{"every request", func(l *Limits, ip string) error { return l.Admit(ctx, ip) }, 120, time.Minute},
			{"reset requests", func(l *Limits, ip string) error { return l.ResetRequestByClient(ctx, ip) }, 10, time.Minute},
			{"failed tokens", func(l *Limits, ip string) error { return l.TokenAttempt(ctx, ip) }, 10, 15 * time.Minute},
		} {
			t.Run(row.name, func(t *testing.T) {
				l, clock := mustLimits(t, db, LimitsConfig{})
				clock.Advance(30 * time.Second) // mid-window
				ip := "192.0.2." + row.name
				for i := range row.max {
					if err := row.attempt(l, ip); err != nil {
						t.Fatalf("attempt %d: %v", i+1, err)
					}
				}
				retry := mustRateLimited(t, row.attempt(l, ip))
				if want := row.per - 30*time.Second; retry != want {
					t.Fatalf("Retry-After %v, want %v (the end of the window)", retry, want)
				}
				if err := row.attempt(l, "198.51.100."+row.name); err != nil {
					t.Fatalf("another IP: %v", err)
				}
				clock.Advance(retry - time.Second)
				if got := mustRateLimited(t, row.attempt(l, ip)); got != time.Second {
					t.Fatalf("a second before the reset: Retry-After %v, want 1s", got)
				}
				clock.Advance(time.Second)
				if err := row.attempt(l, ip); err != nil {
					t.Fatalf("after the window: %v", err)
				}
			})
		}
	})
}

func TestLimitsResetRequestsPerHour(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, LimitsConfig{})
		for minute := range 5 {
			for i := range 10 {
				if err := l.ResetRequestByClient(ctx, "ip"); err != nil {
					t.Fatalf("minute %d, request %d: %v", minute, i+1, err)
				}
			}
			// Requests refused by the minute window do not count in the hour.
			for range 5 {
				mustRateLimited(t, l.ResetRequestByClient(ctx, "ip"))
			}
			clock.Advance(time.Minute)
		}
		if retry := mustRateLimited(t, l.ResetRequestByClient(ctx, "ip")); retry != 55*time.Minute {
			t.Fatalf("51st in the hour: Retry-After %v, want 55m (the end of the hour)", retry)
		}
		clock.Advance(55 * time.Minute)
		if err := l.ResetRequestByClient(ctx, "ip"); err != nil {
			t.Fatalf("next hour: %v", err)
		}
	})
}

func TestLimitsResetRequestsPerAddress(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, LimitsConfig{})
		variants := []string{"Mike@Example.org", "MIKE@example.ORG", "mike@example.org"}
		request := func(i int) bool {
			t.Helper()
			ok, err := l.ResetRequestByAddress(ctx, models.EmailKey(variants[i%len(variants)]))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		// Three per quarter hour, case variants sharing the quota, until ten in the day.
		sent := 0
		for quarter := range 4 {
			for i := range 4 {
				want := i < 3 && sent < 10
				if got := request(i); got != want {
					t.Fatalf("quarter %d, request %d (%d sent): got %v, want %v", quarter, i+1, sent, got, want)
				}
				if want {
					sent++
				}
			}
			if ok, err := l.ResetRequestByAddress(ctx, models.EmailKey("other@example.org")); !ok || err != nil {
				t.Fatalf("another address: got %v, %v", ok, err)
			}
			clock.Advance(15 * time.Minute)
		}
		if sent != 10 || request(0) {
			t.Fatalf("%d sent, then one more allowed; want 10 and no more today", sent)
		}
		clock.Advance(23 * time.Hour)
		if !request(0) {
			t.Fatal("the next day is refused")
		}

		var buckets []string
		if err := db.Gorm.Raw("SELECT bucket FROM rate_limit_counters").Scan(&buckets).Error; err != nil {
			t.Fatal(err)
		}
		for _, b := range buckets {
			if strings.Contains(strings.ToLower(b), "mike") || strings.Contains(b, "@") || strings.Contains(b, "example") {
				t.Fatalf("bucket %q holds an address", b)
			}
		}
		if len(buckets) == 0 {
			t.Fatal("no buckets stored")
		}
	})
}

// Concurrent requests cannot overtake a count: of n at once, exactly the
// limit proceed, on both databases.
func TestLimitsConcurrent(t *testing.T) {
	cases := []struct {
		name    string
		n, want int
		cfg     LimitsConfig
		attempt func(ctx context.Context, l *Limits) error
	}{
		{"client ceiling", 50, 5, LimitsConfig{Client: Rate{Max: 5, Per: time.Hour}},
			func(ctx context.Context, l *Limits) error { return l.Admit(ctx, "192.0.2.9") }},
		// Token and wrong-old attempts are counted before the check (R-RATE-3, R-RATE-4).
		{"token attempts", 40, 10, LimitsConfig{},
			func(ctx context.Context, l *Limits) error { return l.TokenAttempt(ctx, "192.0.2.10") }},
		{"change attempts", 40, 10, LimitsConfig{},
			func(ctx context.Context, l *Limits) error { return l.ChangeAttempt(ctx, "u") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *DB) {
				l, _ := mustLimits(t, db, c.cfg)
				var (
					wg              sync.WaitGroup
					mu              sync.Mutex
					allowed, denied int
				)
				for range c.n {
					wg.Go(func() {
						err := c.attempt(context.Background(), l)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							allowed++
						case models.KindOf(err) == models.KindRateLimited:
							denied++
						default:
							t.Errorf("unexpected error: %v", err)
						}
					})
				}
				wg.Wait()
				if allowed != c.want || denied != c.n-c.want {
					t.Fatalf("allowed %d and denied %d, want %d and %d", allowed, denied, c.want, c.n-c.want)
				}
			})
		})
	}
}

func TestLimitsCleanup(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, LimitsConfig{})
		_, err := l.ResetRequestByAddress(ctx, "a@example.org") // a 15-minute and a 24-hour window
		if err := errors.Join(err, l.Admit(ctx, "ip"), l.ChangeAttempt(ctx, "u")); err != nil {
			t.Fatal(err)
		}
		clock.Advance(23 * time.Hour)
		if err := l.Admit(ctx, "ip"); err != nil {
			t.Fatal(err)
		}
		if n, err := l.Cleanup(ctx); n != 0 || err != nil { // a day has not yet passed
			t.Fatalf("after 23h: deleted %d, %v; want 0", n, err)
		}
		clock.Advance(time.Hour + 15*time.Minute + time.Second)
		if n, err := l.Cleanup(ctx); n != 3 || err != nil { // the first minute and quarter hour, the quiet change state
			t.Fatalf("after 24h15m: deleted %d, %v; want 3", n, err)
		}
		if n := countRows(t, db, "rate_limit_counters"); n != 2 {
			t.Fatalf("%d counters left, want the day and the recent minute", n)
		}
	})
}

func TestPasswordsTokenGuessingThrottled(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		e := newEnv(t, db)
		e.p.limits = NewLimits(db, LimitsConfig{}, e.clock.Now)
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
		genuine := e.mustToken(t, "ada@example.org") // requesting a token resets no counter (R-RATE-8)
		mustRateLimited(t, guess())
		mustRateLimited(t, e.p.Reset(ctx, client, genuine, pwB))
		// R-RATE-3: the limit binds the guessing IP, not the account.
		other := models.Client{IP: "198.51.100.7", RequestID: "test"}
		if err := e.p.Reset(ctx, other, genuine, pwB); err != nil {
			t.Fatalf("genuine token from another IP: %v", err)
		}
		if !e.verifies(t, u.ID, pwB) {
			t.Fatal("the new password does not verify")
		}
	})
}

func TestClientKeyGroupsIPv6By64(t *testing.T) {
	for _, row := range []struct{ a, b string }{
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
	} {
		if got, want := clientKey(row.a), clientKey(row.b); got != want {
			t.Errorf("clientKey(%s) = %s, clientKey(%s) = %s; want one bucket", row.a, got, row.b, want)
		}
	}
	if clientKey("2001:db8:1:2::1") == clientKey("2001:db8:1:3::1") || clientKey("192.0.2.7") == clientKey("192.0.2.8") {
		t.Error("different /64s or IPv4 addresses must not share a bucket")
	}
}
