package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// A hundred concurrent {"email"} requests from one client, with a limit of
// ten a minute, share batches: exactly ten pass, the other ninety get 429,
// and exactly ten jobs are queued.
func TestBatchedResetKeepsTheBoundary(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		limits := generousLimits()
		limits.ResetIPPerMinute = 10
		e := newEnv(t, db, withLimits(limits), func(c *envConfig) { c.mailer = blackhole{} })
		var (
			wg            sync.WaitGroup
			mu            sync.Mutex
			passed, limit int
		)
		for i := range 100 {
			wg.Go(func() {
				err := e.p.RequestReset(context.Background(), client, fmt.Sprintf("nobody%03d@example.org", i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					passed++
				case models.KindOf(err) == models.KindRateLimited:
					limit++
				default:
					t.Errorf("request %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if passed != 10 || limit != 90 {
			t.Fatalf("%d passed and %d were limited, want 10 and 90", passed, limit)
		}
		if n := storetest.Count(t, db, "river_job WHERE kind = 'reset_email'"); n != 10 {
			t.Fatalf("%d jobs queued, want 10", n)
		}
	})
}

// A batch whose transaction fails answers every one of its requests with
// the failure and leaves no count and no job behind.
func TestFailedBatchLeavesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, withLimits(config.DefaultLimits()), func(c *envConfig) { c.mailer = blackhole{} })
		// The database refuses the job insert: the last statement of a batch,
		// after its counts were written.
		failOn := `CREATE TRIGGER fail_jobs BEFORE INSERT ON river_job BEGIN SELECT RAISE(ABORT, 'injected failure'); END`
		if db.Postgres() {
			failOn = `CREATE FUNCTION fail_jobs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
				CREATE TRIGGER fail_jobs BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION fail_jobs()`
		}
		if _, err := db.SQL().Exec(failOn); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				err := e.p.RequestReset(context.Background(), models.Client{IP: fmt.Sprintf("192.0.2.%d", i)}, fmt.Sprintf("a%02d@example.org", i))
				if err == nil || !strings.Contains(err.Error(), "injected failure") {
					t.Errorf("request %d: got %v, want the injected failure", i, err)
				}
			})
		}
		wg.Wait()
		if n := storetest.Count(t, db, "rate_limit_counters") + storetest.Count(t, db, "river_job WHERE kind = 'reset_email'"); n != 0 {
			t.Fatalf("%d counters or jobs left by failed batches, want none", n)
		}
	})
}

// Closing lets every request already taken commit and refuses the rest with
// 503: none is lost, none hangs, and every one answered 202 has its job.
func TestCloseDrainsWaitingRequests(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *envConfig) { c.mailer = blackhole{} })
		var (
			wg           sync.WaitGroup
			mu           sync.Mutex
			ok, refused  int
			start        = make(chan struct{})
			closeStarted = make(chan struct{})
		)
		for i := range 60 {
			wg.Go(func() {
				<-start
				if i == 30 {
					close(closeStarted)
				}
				err := e.p.RequestReset(context.Background(), models.Client{IP: fmt.Sprintf("198.51.100.%d", i)}, fmt.Sprintf("d%02d@example.org", i))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, models.ErrUnavailable):
					refused++
				default:
					t.Errorf("request %d: %v", i, err)
				}
			})
		}
		close(start)
		<-closeStarted
		if err := e.p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if ok+refused != 60 {
			t.Fatalf("%d answered 202 and %d refused, want all 60 answered", ok, refused)
		}
		if n := storetest.Count(t, db, "river_job WHERE kind = 'reset_email'"); n != int64(ok) {
			t.Fatalf("%d jobs for %d requests answered 202", n, ok)
		}
	})
}

// blackhole accepts every message: for tests about the request path, where
// the mail queue only has to keep out of the way.
type blackhole struct{}

func (blackhole) Send(context.Context, models.Message) error { return nil }
