package store_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// JobCounts groups river_job by state on both databases, and a database that
// cannot answer in time is an error, not a hang.
func TestJobCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		got, err := db.JobCounts(ctx)
		if err != nil || len(got) != 0 {
			t.Fatalf("an empty queue: got %v %v, want no states", got, err)
		}
		// Rows written as River would leave them; finalized_at is required
		// exactly for the finished states.
		for _, row := range []struct {
			state    string
			finished bool
		}{{"available", false}, {"available", false}, {"retryable", false}, {"scheduled", false},
			{"running", false}, {"cancelled", true}, {"completed", true}, {"discarded", true}, {"cancelled", true}} {
			finalized := "NULL"
			if row.finished {
				finalized = "CURRENT_TIMESTAMP"
			}
			if _, err := db.SQL().ExecContext(ctx, `INSERT INTO river_job (args, kind, max_attempts, state, finalized_at)
				VALUES ('{}', 'test', 1, '`+row.state+`', `+finalized+`)`); err != nil {
				t.Fatal(err)
			}
		}
		got, err = db.JobCounts(ctx)
		want := map[string]int64{"available": 2, "retryable": 1, "scheduled": 1, "running": 1, "cancelled": 2, "completed": 1, "discarded": 1}
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("got %v %v, want %v", got, err, want)
		}

		expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		if _, err := db.JobCounts(expired); !errors.Is(err, models.ErrUnavailable) {
			t.Fatalf("past its deadline: got %v, want an error matching models.ErrUnavailable", err)
		}
	})
}
