package metrics

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accountpw/accountpw/services/store"
)

// jobCountTimeout bounds the count a scrape waits for: a slow database
// makes the scrape lose the queue's gauges, never hang.
const jobCountTimeout = time.Second

// jobStates are River's job states, always exposed (at zero when no job is
// in one), so that a state that empties does not vanish from the series.
// cancelled and discarded hold the dead letters; completed jobs are kept
// an hour, dead letters 30 days.
var jobStates = []string{"available", "scheduled", "pending", "running", "retryable", "completed", "cancelled", "discarded"}

// queueCollector counts the mail queue's jobs at scrape time, with one
// grouped query (store.DB.JobCounts). When the count fails or times out,
// the scrape has no accountpw_mail_queue_jobs at all, rather than the last
// values: stale numbers would hide a backlog exactly while the database is
// in trouble. The failure is counted instead, in the same scrape.
type queueCollector struct {
	db       *store.DB
	log      *slog.Logger
	timeout  time.Duration
	jobs     *prometheus.Desc
	failures *prometheus.Desc
	failed   atomic.Uint64
}

// WatchQueue adds the mail queue's jobs by state, counted in db at every
// scrape: accountpw_mail_queue_jobs{state} and
// accountpw_mail_queue_count_failures_total. Every replica reports the same
// database-wide numbers, so aggregate them with max, not sum.
func (m *Metrics) WatchQueue(db *store.DB) {
	m.reg.MustRegister(&queueCollector{db: db, log: m.log, timeout: jobCountTimeout,
		jobs: prometheus.NewDesc(namespace+"_mail_queue_jobs",
			"Jobs in the mail queue by River state, counted at scrape time; cancelled and discarded are dead letters. The same on every replica.",
			[]string{"state"}, nil),
		failures: prometheus.NewDesc(namespace+"_mail_queue_count_failures_total",
			"Scrapes whose count of the mail queue failed or timed out; they carry no accountpw_mail_queue_jobs.", nil, nil),
	})
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.jobs
	ch <- q.failures
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	counts, err := q.db.JobCounts(ctx)
	if err != nil {
		q.failed.Add(1)
		q.log.Warn("metrics: count the mail queue", slog.String("error", err.Error()))
	} else {
		for _, s := range jobStates {
			ch <- prometheus.MustNewConstMetric(q.jobs, prometheus.GaugeValue, float64(counts[s]), s)
		}
	}
	ch <- prometheus.MustNewConstMetric(q.failures, prometheus.CounterValue, float64(q.failed.Load()))
}
