package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accountpw/accountpw/services/account"
)

// The admin API's families: its requests by operation and status, and the
// outcomes of the sign-in check. Admin traffic is the application's own
// (signups, sign-ins), a few requests per user action at most, so its
// counters are looked up per request rather than cached as the public
// listener's are.

// signInOutcomes are the outcomes of the sign-in check; they exist from
// the start, at zero.
var signInOutcomes = []string{account.SignInValid, account.SignInInvalid, account.SignInLimited, account.SignInRehashed}

func (m *Metrics) registerAdmin() {
	m.adminRequests = m.counterVec("admin_requests_total",
		"Requests answered by the admin listener, by operation and status.", "operation", "status")
	m.adminDurations = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace,
		Name: "admin_request_duration_seconds", Help: "Time from an admin request's arrival in the router to its answer, by operation.",
		Buckets: requestBuckets}, []string{"operation"})
	m.reg.MustRegister(m.adminDurations)
	m.signIns = newKnown(m.counterVec("sign_in_checks_total",
		"Sign-in checks of the admin API by outcome: valid (rehashed counted apart), invalid, limited (429).", "outcome"),
		signInOutcomes...)
}

// ObserveAdminRequest counts one answered admin request; see
// handlers.AdminObserver.
func (m *Metrics) ObserveAdminRequest(operation string, status int, elapsed time.Duration) {
	m.adminRequests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.adminDurations.WithLabelValues(operation).Observe(elapsed.Seconds())
}

// ObserveSignIn counts one sign-in check by outcome; see account.Observer.
func (m *Metrics) ObserveSignIn(outcome string) { m.signIns.inc(outcome) }
