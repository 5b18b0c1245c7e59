package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/account"
	"github.com/accountpw/accountpw/services/queue"
)

// Label values that exist from the start, at zero. Others the services
// report (a new message kind, a new policy code) are counted as they come;
// the label sets are open, not closed lists here.
var (
	// deliveryOutcomes are the outcomes of each kind the queue delivers.
	deliveryOutcomes = map[string][]string{
		models.MessageReset:  {"sent", "retry", "throttled", "dead_letter", "expired", "no_account", "link_used", "superseded"},
		models.MessageNotice: {"sent", "retry", "throttled", "dead_letter", "expired", "no_account"},
		queue.KindWebhook:    {"sent", "retry", "throttled", "dead_letter", "expired", "gone"},
	}
	limits = []string{account.LimitClientCeiling, account.LimitResetRequestIP, account.LimitTokenFailuresIP,
		account.LimitWrongOldPassword, account.LimitSignInIP, account.LimitSignInAccount}
	policyCodes = []string{models.ErrPasswordTooShort.Code, models.ErrPasswordTooLong.Code,
		models.ErrPasswordInvalidCharacter.Code, models.ErrPasswordBlocklisted.Code, models.ErrPasswordPredictable.Code,
		models.ErrPasswordContext.Code, models.ErrPasswordBreached.Code}
)

// resetDone is the one outcome MergeResetOutcomes counts a reset email's
// sent, no_account, link_used and superseded as.
const resetDone = "done"

// resetOutcomeMerged reports whether a reset email's outcome is one of
// those that tell whether its address has an account.
func resetOutcomeMerged(outcome string) bool {
	return outcome == "sent" || outcome == "no_account" || outcome == "link_used" || outcome == "superseded"
}

func (m *Metrics) registerMail() {
	m.deliveries = m.counterVec("mail_deliveries_total",
		"Delivery attempts of queued messages, by message kind and outcome (the delivery log's).", "kind", "outcome")
	for k, outcomes := range deliveryOutcomes {
		for _, o := range outcomes {
			if m.mergeResets && k == models.MessageReset && resetOutcomeMerged(o) {
				o = resetDone
			}
			m.deliveries.WithLabelValues(k, o)
		}
	}
	m.deliveryLag = m.histogram("mail_delivery_lag_seconds",
		"Time from a message's request (the reset request, the password change) to its acceptance by the provider.",
		lagBuckets)
}

func (m *Metrics) registerPasswords() {
	m.hashDuration = m.histogram("password_hash_duration_seconds",
		"Time one password hash computation took inside its slot: an argon2id hash, or the verification of an imported hash.",
		hashBuckets)
	m.slotWait = m.histogram("password_hash_slot_wait_seconds",
		"Time a hash or strength estimate waited for a slot it got; zero when one was free.", slotWaitBuckets)
	m.hashBusy = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "password_hash_busy_total",
		Help: "Requests that found no hashing slot within password.hash_wait and were answered 503."})
	m.reg.MustRegister(m.hashBusy)
	m.rateLimited = newKnown(m.counterVec("rate_limited_total",
		"Requests answered 429, by the limit that refused them.", "limit"), limits...)
	m.policyRejections = newKnown(m.counterVec("password_policy_rejections_total",
		"New passwords the policy refused, by its error code.", "code"), policyCodes...)
}

// ObserveDelivery counts one delivery outcome and, for a message the
// provider accepted whose request time is known, its delivery lag. With
// MergeResetOutcomes a reset email's sent, no_account and link_used are
// one outcome, done, and its lag is not observed.
func (m *Metrics) ObserveDelivery(d queue.Delivery) {
	if m.mergeResets && d.Kind == models.MessageReset {
		if resetOutcomeMerged(d.Outcome) {
			d.Outcome = resetDone
		}
		m.deliveries.WithLabelValues(d.Kind, d.Outcome).Inc()
		return
	}
	m.deliveries.WithLabelValues(d.Kind, d.Outcome).Inc()
	if d.Outcome == "sent" && !d.RequestedAt.IsZero() && !d.At.Before(d.RequestedAt) {
		m.deliveryLag.Observe(d.At.Sub(d.RequestedAt).Seconds())
	}
}

// ObserveHash records the time of one hash computation; see hash.Observer.
func (m *Metrics) ObserveHash(elapsed time.Duration) { m.hashDuration.Observe(elapsed.Seconds()) }

// ObserveSlotWait records the wait for a slot; see slots.Observer.
func (m *Metrics) ObserveSlotWait(waited time.Duration) { m.slotWait.Observe(waited.Seconds()) }

// ObserveSlotBusy counts a request that found no slot; see slots.Observer.
func (m *Metrics) ObserveSlotBusy() { m.hashBusy.Inc() }

// ObserveRateLimited counts a 429 by its limit; see account.Observer.
func (m *Metrics) ObserveRateLimited(limit string) { m.rateLimited.inc(limit) }

// ObservePolicyRejection counts a refused new password by its code; see
// account.Observer.
func (m *Metrics) ObservePolicyRejection(code string) { m.policyRejections.inc(code) }
