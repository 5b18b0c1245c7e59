package metrics

import (
	"testing"

	"github.com/accountpw/accountpw/services/store"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// The queue's gauges come from the database at each scrape, every state
// present; a database that cannot answer leaves them out of that scrape and
// counts the failure instead of repeating stale numbers.
func TestQueueGauges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		m := newMetrics()
		m.WatchQueue(db)
		for _, q := range []string{
			`INSERT INTO river_job (args, kind, max_attempts, state) VALUES ('{}', 'reset_email', 1, 'available')`,
			`INSERT INTO river_job (args, kind, max_attempts, state) VALUES ('{}', 'reset_email', 1, 'available')`,
			`INSERT INTO river_job (args, kind, max_attempts, state, finalized_at) VALUES ('{}', 'reset_email', 1, 'cancelled', CURRENT_TIMESTAMP)`,
		} {
			if _, err := db.SQL().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		f := gather(t, m)
		checkLabels(t, f)
		for _, s := range jobStates {
			want := map[string]float64{"available": 2, "cancelled": 1}[s]
			if got := sample(f, "accountpw_mail_queue_jobs", "state", s); got == nil || got.GetGauge().GetValue() != want {
				t.Errorf("jobs %s = %v, want %v", s, got, want)
			}
		}
		if got := counter(f, "accountpw_mail_queue_count_failures_total"); got != 0 {
			t.Errorf("failures = %v, want 0", got)
		}

		db.Close() // every later count fails
		f = gather(t, m)
		if f["accountpw_mail_queue_jobs"] != nil {
			t.Errorf("a failed count still exposed %v", f["accountpw_mail_queue_jobs"])
		}
		if got := counter(f, "accountpw_mail_queue_count_failures_total"); got != 1 {
			t.Errorf("failures after a failed count = %v, want 1", got)
		}
	})
}
