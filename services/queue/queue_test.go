package queue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/config"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// nobody is a Composer for tests that never get as far as composing.
type nobody struct{}

func (nobody) ComposeReset(context.Context, Reset, string) (models.Message, error) {
	return models.Message{}, ErrNoRecipient
}
func (nobody) ComposeNotice(context.Context, Notice, string) (models.Message, error) {
	return models.Message{}, ErrNoRecipient
}

func mustQueue(t *testing.T, db *store.DB, d Deps) *Queue {
	t.Helper()
	d.DB, d.Composer, d.Log = db, nobody{}, slog.New(slog.DiscardHandler)
	if d.Now == nil {
		d.Now = time.Now
	}
	q, err := New(config.DefaultMail(), d, Tuning{RetryBase: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond, FetchCooldown: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// The first retry comes within base and twice base (2–4 s with the
// default base, as docs/operating.md says), each later one within the next
// doubling, and none past the cap.
func TestBackoff(t *testing.T) {
	t.Parallel()
	for attempt, want := range map[int][2]time.Duration{
		1: {2 * time.Second, 4 * time.Second}, 2: {4 * time.Second, 8 * time.Second},
		3: {8 * time.Second, 16 * time.Second}, 20: {30 * time.Second, time.Minute},
	} {
		for range 200 {
			if got := backoff(attempt, 2*time.Second, time.Minute); got < want[0] || got > want[1] {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", attempt, got, want[0], want[1])
			}
		}
	}
	if got := backoff(1, 2*time.Second, 3*time.Second); got > 3*time.Second {
		t.Errorf("first retry under a 3 s cap: %v, want at most the cap", got)
	}
}

// The housekeeping job runs the configured clean-up and fails with it.
func TestHousekeepingRunsTheCleanUp(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ran := 0
	fail := error(nil)
	q := mustQueue(t, db, Deps{Housekeeping: func(context.Context) error { ran++; return fail }})
	w := &housekeepingWorker{q: q}
	if err := w.Work(context.Background(), &river.Job[housekeepingArgs]{}); err != nil || ran != 1 {
		t.Fatalf("got %v after %d runs, want nil after 1", err, ran)
	}
	fail = errors.New("disk full")
	if err := w.Work(context.Background(), &river.Job[housekeepingArgs]{}); !errors.Is(err, fail) {
		t.Fatalf("got %v, want the clean-up's error", err)
	}
}

// A job past its deadline is dropped as a dead letter without composing,
// and an operator cannot put it back.
func TestExpiredJobIsDeadLetterAndCannotBeRetried(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	outcomes := make(chan string, 10)
	q := mustQueue(t, db, Deps{Observe: func(d Delivery) { outcomes <- d.Outcome }})
	past := time.Now().Add(-time.Minute)
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		return q.EnqueueNotice(context.Background(), tx, Notice{UserID: "u", Change: models.MethodChange, At: past, Deadline: past})
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop(context.Background()) //nolint:errcheck // the test is over
	select {
	case o := <-outcomes:
		if o != "expired" {
			t.Fatalf("outcome %q, want expired", o)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the job did not run within 20 s")
	}
	var dl []DeadLetter
	for deadline := time.Now().Add(20 * time.Second); len(dl) == 0; {
		if dl, err = q.DeadLetters(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no dead letter within 20 s")
		}
		time.Sleep(20 * time.Millisecond) // polling the job's final state, not synchronising
	}
	if err := q.Retry(context.Background(), dl[0].ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("retry of an expired message: got %v, want ErrExpired", err)
	}
	if err := q.Retry(context.Background(), dl[0].ID+1000); !errors.Is(err, ErrNotDeadLetter) {
		t.Fatalf("retry of an unknown id: got %v, want ErrNotDeadLetter", err)
	}
	// What cannot be sent again can be dropped, and is then gone.
	if err := q.Drop(context.Background(), dl[0].ID+1000); !errors.Is(err, ErrNotDeadLetter) {
		t.Fatalf("drop of an unknown id: got %v, want ErrNotDeadLetter", err)
	}
	if err := q.Drop(context.Background(), dl[0].ID); err != nil {
		t.Fatalf("drop: %v", err)
	}
	if dl, err = q.DeadLetters(context.Background(), 10); err != nil || len(dl) != 0 {
		t.Fatalf("dead letters after the drop: %v, %v; want none", dl, err)
	}
}
