// Package metrics is accountpw's Prometheus instrumentation. Metrics
// implements the observers the other packages declare (handlers.Observer,
// handlers.AdminObserver, services.Observer: slot waits, hash times,
// deliveries, 429s, policy refusals, sign-in checks), counts the mail queue's jobs by state at scrape time
// (WatchQueue), and serves its registry on a listener of its own (Listen),
// never on the API's.
//
// The family names, their labels and the label values are a public
// contract, documented in docs/operating.md (Metrics) and used by the
// dashboard and alert rules in monitoring/. A label value is always a name
// fixed in code (an operation, a status, an outcome, a limit, a policy
// code): never an address, an IP, a token or a user id.
//
// It is the only package that imports the Prometheus client, and it uses a
// registry of its own, never the client's global one. It imports models,
// store, queue and account.
package metrics

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// namespace prefixes every family of ours.
const namespace = "accountpw"

// Bucket bounds, in seconds.
var (
	// requestBuckets resolve both the {"email"} branch (about 1–5 ms) and
	// the hashing branches (about 70–200 ms with production argon2id).
	requestBuckets = []float64{.0005, .001, .002, .003, .005, .0075, .01, .025, .05,
		.075, .1, .125, .15, .2, .25, .3, .5, 1, 2.5, 5, 10}
	// hashBuckets cover argon2id from test parameters (a few ms) to well
	// past the production ~100 ms, and imported bcrypt hashes.
	hashBuckets = []float64{.005, .01, .025, .05, .075, .1, .125, .15, .2, .25, .3, .5, 1, 2}
	// slotWaitBuckets stay below password.hash_wait (200 ms by default), the
	// longest a request waits before its 503; a free slot is a zero wait.
	slotWaitBuckets = []float64{.0001, .001, .005, .01, .025, .05, .1, .2, .5, 1, 2.5}
	// lagBuckets go from a send within the second to the 24 h a notice is
	// retried; a reset link is worth sending for its 30 min lifetime.
	lagBuckets = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400}
)

// Build names the running binary in accountpw_build_info.
type Build struct {
	Version, Revision string
}

// Options change what the metrics tell; the zero value tells everything.
type Options struct {
	// MergeResetOutcomes counts a reset email that was sent and one that had
	// nobody to go to (and one whose link was used already) as one outcome,
	// done, and keeps reset emails out of the delivery lag: otherwise
	// whoever can scrape /metrics around a single {"email"} request learns
	// whether its address has an account, which the API itself never says.
	MergeResetOutcomes bool
}

// Metrics holds the registry and every family of accountpw. Its Observe
// methods are safe for concurrent use and never block.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	requests         *prometheus.CounterVec
	requestCounters  *requestCounters
	requestDurations [len(operations)]prometheus.Observer

	deliveries  *prometheus.CounterVec
	deliveryLag prometheus.Histogram
	mergeResets bool

	hashDuration prometheus.Histogram
	slotWait     prometheus.Histogram
	hashBusy     prometheus.Counter

	rateLimited      known
	policyRejections known

	adminRequests  *prometheus.CounterVec
	adminDurations *prometheus.HistogramVec
	signIns        known
}

// New returns the metrics of one process, with the Go and process
// collectors and accountpw_build_info registered; log receives the failures
// of scrape-time collection.
func New(b Build, log *slog.Logger, opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: log, mergeResets: opts.MergeResetOutcomes}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help:        "Always 1; its labels name the running binary's module version and VCS revision.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision}})
	info.Set(1)
	m.reg.MustRegister(info)
	m.registerHTTP()
	m.registerMail()
	m.registerPasswords()
	m.registerAdmin()
	return m
}

// Registry is where every family is registered, for tests and Listen.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// counterVec registers and returns a counter family.
func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	return v
}

// histogram registers and returns a histogram without labels.
func (m *Metrics) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	m.reg.MustRegister(h)
	return h
}

// known is a one-label counter family whose expected values exist from the
// start (at zero, so that rate() and increase() see their first event) and
// are counted without a label lookup; any other value is counted too, as a
// series of its own.
type known struct {
	vec    *prometheus.CounterVec
	counts map[string]prometheus.Counter
}

func newKnown(vec *prometheus.CounterVec, values ...string) known {
	k := known{vec: vec, counts: make(map[string]prometheus.Counter, len(values))}
	for _, v := range values {
		k.counts[v] = vec.WithLabelValues(v)
	}
	return k
}

func (k known) inc(value string) {
	if c, ok := k.counts[value]; ok {
		c.Inc()
		return
	}
	k.vec.WithLabelValues(value).Inc()
}
