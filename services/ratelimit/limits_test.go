package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

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

// limitsEpoch is a UTC midnight, so it starts a window of every default size.
var limitsEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func mustLimits(t *testing.T, db *store.DB, cfg config.Limits) (*Limits, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: limitsEpoch}
	l := New(db, cfg, clock.Now)
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("close limits: %v", err)
		}
	})
	return l, clock
}

// resetRequest runs ResetRequest in a transaction of its own, as the
// request path does.
func resetRequest(ctx context.Context, l *Limits, db *store.DB, ip, key string) (ok bool, err error) {
	var v []ResetVerdict
	err = db.InTx(ctx, func(tx *store.Tx) error {
		var rerr error
		v, rerr = l.ResetRequests(ctx, tx, []ResetRequest{{IP: ip, Key: key}})
		return rerr // the counts of a refused request are kept: the transaction commits
	})
	if err != nil {
		return false, err
	}
	return v[0].Send, v[0].Limited
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

// TestLimitsDefaults pins the windows the configuration's defaults give.
func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	d := config.DefaultLimits()
	got := fmt.Sprint(d.Client(), d.ResetClient(), d.ResetAddress(), d.TokenFailures(), d.ChangeFailures, d.ChangeBackoff, d.ChangeBackoffMax)
	want := fmt.Sprint(config.Rate{Max: 120, Per: time.Minute},
		[]config.Rate{{Max: 10, Per: time.Minute}, {Max: 50, Per: time.Hour}},
		[]config.Rate{{Max: 3, Per: 15 * time.Minute}, {Max: 10, Per: 24 * time.Hour}},
		config.Rate{Max: 10, Per: 15 * time.Minute}, 10, time.Minute, time.Hour)
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestLimitsOff(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	disabled := config.DefaultLimits()
	disabled.Disabled = true
	for name, l := range map[string]*Limits{"zero value": {}, "nil": nil, "disabled": New(db, disabled, nil)} {
		for range 200 {
			ok, err := resetRequest(ctx, l, db, "ip", "a@example.org")
			errs := errors.Join(err, l.Admit(ctx, "ip"), l.TokenAttempt(ctx, "ip"),
				l.TokenValid(ctx, "ip"), l.ChangeAttempt(ctx, "u"), l.ChangeUnchecked(ctx, "u"), l.ChangeSucceeded(ctx, "u"))
			if !ok || errs != nil {
				t.Fatalf("%s: got %v, %v; want everything allowed", name, ok, errs)
			}
		}
		if n, err := l.Cleanup(ctx); n != 0 || err != nil {
			t.Fatalf("%s: cleanup got %d, %v", name, n, err)
		}
	}
	if n := storetest.Count(t, db, "rate_limit_counters") + storetest.Count(t, db, "change_failures"); n != 0 {
		t.Fatalf("disabled limits stored %d rows", n)
	}
}

func TestLimitsPerClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, row := range []struct {
			name    string
			attempt func(l *Limits, ip string) error
			max     int
			per     time.Duration
		}{
			{"every request", func(l *Limits, ip string) error { return l.Admit(ctx, ip) }, 120, time.Minute},
			{"reset requests", func(l *Limits, ip string) error {
				_, err := resetRequest(ctx, l, db, ip, "key-"+randomKey())
				return err
			}, 10, time.Minute},
			{"failed tokens", func(l *Limits, ip string) error { return l.TokenAttempt(ctx, ip) }, 10, 15 * time.Minute},
		} {
			t.Run(row.name, func(t *testing.T) {
				l, clock := mustLimits(t, db, config.DefaultLimits())
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
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, config.DefaultLimits())
		byClient := func() (bool, error) { return resetRequest(ctx, l, db, "ip", "key-"+randomKey()) }
		for minute := range 5 {
			for i := range 10 {
				if _, err := byClient(); err != nil {
					t.Fatalf("minute %d, request %d: %v", minute, i+1, err)
				}
			}
			// Requests refused by the minute window do not count in the hour.
			for range 5 {
				mustRateLimited(t, second(byClient()))
			}
			clock.Advance(time.Minute)
		}
		if retry := mustRateLimited(t, second(byClient())); retry != 55*time.Minute {
			t.Fatalf("51st in the hour: Retry-After %v, want 55m (the end of the hour)", retry)
		}
		clock.Advance(55 * time.Minute)
		if _, err := byClient(); err != nil {
			t.Fatalf("next hour: %v", err)
		}
	})
}

func TestLimitsResetRequestsPerAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, config.DefaultLimits())
		variants := []string{"Mike@Example.org", "MIKE@example.ORG", "mike@example.org"}
		request := func(i int) bool {
			t.Helper()
			ip := fmt.Sprintf("192.0.2.%d", i) // within every per-client limit
			ok, err := resetRequest(ctx, l, db, ip, models.EmailKey(variants[i%len(variants)]))
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
			if ok, err := resetRequest(ctx, l, db, "198.51.100.1", models.EmailKey("other@example.org")); !ok || err != nil {
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

		buckets := mustBuckets(t, db)
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
		edit    func(*config.Limits)
		attempt func(ctx context.Context, l *Limits, db *store.DB) error
	}{
		{"client ceiling", 50, 5, func(c *config.Limits) { c.ClientPerMinute = 5 },
			func(ctx context.Context, l *Limits, _ *store.DB) error { return l.Admit(ctx, "192.0.2.9") }},
		{"reset requests per client", 30, 10, func(*config.Limits) {},
			func(ctx context.Context, l *Limits, db *store.DB) error {
				_, err := resetRequest(ctx, l, db, "192.0.2.11", "key-"+randomKey())
				return err
			}},
		// Token and wrong-old attempts are counted before the check.
		{"token attempts", 40, 10, func(*config.Limits) {},
			func(ctx context.Context, l *Limits, _ *store.DB) error { return l.TokenAttempt(ctx, "192.0.2.10") }},
		{"change attempts", 40, 10, func(*config.Limits) {},
			func(ctx context.Context, l *Limits, _ *store.DB) error { return l.ChangeAttempt(ctx, "u") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				cfg := config.DefaultLimits()
				c.edit(&cfg)
				l, _ := mustLimits(t, db, cfg)
				var (
					wg              sync.WaitGroup
					mu              sync.Mutex
					allowed, denied int
				)
				for range c.n {
					wg.Go(func() {
						err := c.attempt(context.Background(), l, db)
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
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l, clock := mustLimits(t, db, config.DefaultLimits())
		_, err := resetRequest(ctx, l, db, "ip", "a@example.org") // two per-client and two per-address windows
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
		// The first minute of the ceiling and of the reset requests, the
		// first quarter hour of the address, and the quiet change state.
		if n, err := l.Cleanup(ctx); n != 4 || err != nil {
			t.Fatalf("after 24h15m: deleted %d, %v; want 4", n, err)
		}
		if n := storetest.Count(t, db, "rate_limit_counters"); n != 3 {
			t.Fatalf("%d counters left, want the first hour (it ended less than a day ago), the day and the recent minute", n)
		}
	})
}

// second returns the error of a (value, error) pair.
func second[T any](_ T, err error) error { return err }

func randomKey() string { return fmt.Sprint(rand.Int64()) }

func mustBuckets(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.SQL().Query("SELECT bucket FROM rate_limit_counters")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
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

// {"email"} requests count against the same per-client ceiling as every
// other request, in their own batch: the ceiling refuses first, names
// itself, and a request it refused counts in no other window.
func TestResetRequestsShareTheCeiling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cfg := config.DefaultLimits()
		cfg.ClientPerMinute = 5
		l, _ := mustLimits(t, db, cfg)
		for range 3 {
			if err := l.Admit(ctx, "192.0.2.5"); err != nil {
				t.Fatal(err)
			}
		}
		var verdicts []ResetVerdict
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			verdicts, err = l.ResetRequests(ctx, tx, []ResetRequest{
				{IP: "192.0.2.5", Key: "a"}, {IP: "192.0.2.5", Key: "b"}, {IP: "192.0.2.5", Key: "c"}, {IP: "198.51.100.5", Key: "d"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%v %v %s %v", verdicts[0].Send, verdicts[1].Send, verdicts[2].LimitedBy, verdicts[3].Send)
		if got != "true true client_ceiling true" {
			t.Fatalf("got %s, want the 4th and 5th of the client sent, the 6th refused by the ceiling, another client sent", got)
		}
		mustRateLimited(t, verdicts[2].Limited)
		seen := 0
		for _, b := range mustBuckets(t, db) {
			if strings.Contains(b, "reset_ip") && strings.Contains(b, "192.0.2.5") {
				seen++
				// Two sent requests in each of the two windows, none for the refused one.
				var hits int
				query := "SELECT hits FROM rate_limit_counters WHERE bucket = ?"
				if db.Postgres() {
					query = "SELECT hits FROM rate_limit_counters WHERE bucket = $1"
				}
				if err := db.SQL().QueryRow(query, b).Scan(&hits); err != nil {
					t.Fatal(err)
				}
				if hits != 2 {
					t.Errorf("%s counts %d, want 2 (the refused request counts only in the ceiling)", b, hits)
				}
			}
		}
		if seen != 2 {
			t.Errorf("%d reset_ip windows of the client, want 2", seen)
		}
	})
}
