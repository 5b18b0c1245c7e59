package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// operations are the values of the operation label, as the handlers name
// them (handlers.Observer); index 0, other, also takes any name not listed.
var operations = [...]string{"other", "request_reset", "reset", "change", "page", "probe"}

// operationIndex is the index of op in operations, 0 (other) if absent.
func operationIndex(op string) int {
	switch op {
	case "request_reset":
		return 1
	case "reset":
		return 2
	case "change":
		return 3
	case "page":
		return 4
	case "probe":
		return 5
	}
	return 0
}

// Statuses below minStatus or from maxStatus up have no cached counter.
const (
	minStatus = 100
	maxStatus = 600
)

// requestCounters caches the counter of each operation and status the first
// time it is counted, so that every later request increments it without a
// label lookup or a status string: the {"email"} branch pays one atomic
// load, one increment and one histogram observation.
type requestCounters struct {
	vec *prometheus.CounterVec
	c   [len(operations)][maxStatus - minStatus]atomic.Pointer[prometheus.Counter]
}

func (r *requestCounters) get(op, status int) prometheus.Counter {
	if status < minStatus || status >= maxStatus {
		return r.vec.WithLabelValues(operations[op], strconv.Itoa(status))
	}
	slot := &r.c[op][status-minStatus]
	if c := slot.Load(); c != nil {
		return *c
	}
	c := r.vec.WithLabelValues(operations[op], strconv.Itoa(status)) // the same child, however many race here
	slot.Store(&c)
	return c
}

func (m *Metrics) registerHTTP() {
	m.requests = m.counterVec("http_requests_total",
		"Requests answered by the public listener, by operation and status.", "operation", "status")
	m.requestCounters = &requestCounters{vec: m.requests}
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace,
		Name: "http_request_duration_seconds", Help: "Time from a request's arrival in the router to its answer, by operation.",
		Buckets: requestBuckets}, []string{"operation"})
	m.reg.MustRegister(durations)
	for i, op := range operations {
		m.requestDurations[i] = durations.WithLabelValues(op)
	}
}

// ObserveRequest counts one answered request; see handlers.Observer. An
// operation it does not know is counted as other.
func (m *Metrics) ObserveRequest(operation string, status int, elapsed time.Duration) {
	i := operationIndex(operation)
	m.requestDurations[i].Observe(elapsed.Seconds())
	m.requestCounters.get(i, status).Inc()
}
