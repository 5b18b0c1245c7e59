package metrics

import (
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/accountpw/accountpw/models"
	"github.com/accountpw/accountpw/services/queue"
)

func newMetrics() *Metrics {
	return New(Build{Version: "v1.2.3", Revision: "0123456789abcdef0123456789abcdef01234567"}, slog.New(slog.DiscardHandler), Options{})
}

// gather returns the registry's families by name.
func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// sample finds the series of family name whose labels are exactly the given
// name=value pairs, nil if none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for i, l := range m.GetLabel() {
			match = match && l.GetName() == labels[2*i] && l.GetValue() == labels[2*i+1]
		}
		if match {
			return m
		}
	}
	return nil
}

// counter is the value of a counter series, -1 when it does not exist.
func counter(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	if m := sample(fams, name, labels...); m != nil {
		return m.GetCounter().GetValue()
	}
	return -1
}

// histogramCount is the number of observations of a histogram series, -1
// when it does not exist.
func histogramCount(fams map[string]*dto.MetricFamily, name string, labels ...string) int {
	if m := sample(fams, name, labels...); m != nil {
		return int(m.GetHistogram().GetSampleCount())
	}
	return -1
}

// Every observer method lands in its family, under the label values the
// docs/operating.md documents; what is expected exists at zero before it happens.
func TestObserversFillTheirFamilies(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	before := gather(t, m)
	for name, labels := range map[string][]string{
		"accountpw_rate_limited_total":               {"limit", "wrong_old_password"},
		"accountpw_password_policy_rejections_total": {"code", "password_breached"},
		"accountpw_mail_deliveries_total":            {"kind", "reset", "outcome", "dead_letter"},
		"accountpw_password_hash_busy_total":         nil,
	} {
		if got := counter(before, name, labels...); got != 0 {
			t.Errorf("%s%v before any event: %v, want a series at 0", name, labels, got)
		}
	}
	if got := histogramCount(before, "accountpw_http_request_duration_seconds", "operation", "probe"); got != 0 {
		t.Errorf("the probe duration before any request: %d observations, want a series with none", got)
	}

	m.ObserveRequest("request_reset", 202, 2*time.Millisecond)
	m.ObserveRequest("request_reset", 202, 3*time.Millisecond)
	m.ObserveRequest("change", 429, 150*time.Millisecond)
	m.ObserveRequest("no such operation", 404, time.Millisecond)
	m.ObserveRequest("other", 999, time.Millisecond) // a status no client sends, still counted
	requested := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	m.ObserveDelivery(queue.Delivery{Kind: models.MessageReset, Outcome: "sent", Attempt: 1, RequestedAt: requested, At: requested.Add(1500 * time.Millisecond)})
	m.ObserveDelivery(queue.Delivery{Kind: models.MessageNotice, Outcome: "retry", Attempt: 1, RequestedAt: requested, At: requested.Add(time.Second)})
	m.ObserveDelivery(queue.Delivery{Kind: "webhook", Outcome: "sent", Attempt: 2}) // no request time: no lag
	m.ObserveHash(90 * time.Millisecond)
	m.ObserveSlotWait(0)
	m.ObserveSlotWait(40 * time.Millisecond)
	m.ObserveSlotBusy()
	m.ObserveRateLimited("client_ceiling")
	m.ObservePolicyRejection("password_too_short")
	m.ObservePolicyRejection("password_new_rule")

	f := gather(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"accountpw_http_requests_total", []string{"operation", "request_reset", "status", "202"}, 2},
		{"accountpw_http_requests_total", []string{"operation", "change", "status", "429"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "other", "status", "404"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "other", "status", "999"}, 1},
		{"accountpw_mail_deliveries_total", []string{"kind", "reset", "outcome", "sent"}, 1},
		{"accountpw_mail_deliveries_total", []string{"kind", "notice", "outcome", "retry"}, 1},
		{"accountpw_mail_deliveries_total", []string{"kind", "webhook", "outcome", "sent"}, 1},
		{"accountpw_password_hash_busy_total", nil, 1},
		{"accountpw_rate_limited_total", []string{"limit", "client_ceiling"}, 1},
		{"accountpw_rate_limited_total", []string{"limit", "reset_request_ip"}, 0},
		{"accountpw_password_policy_rejections_total", []string{"code", "password_too_short"}, 1},
		{"accountpw_password_policy_rejections_total", []string{"code", "password_new_rule"}, 1},
	} {
		if got := counter(f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, h := range []struct {
		name   string
		labels []string
		want   int
	}{
		{"accountpw_http_request_duration_seconds", []string{"operation", "request_reset"}, 2},
		{"accountpw_http_request_duration_seconds", []string{"operation", "change"}, 1},
		{"accountpw_http_request_duration_seconds", []string{"operation", "other"}, 2},
		{"accountpw_mail_delivery_lag_seconds", nil, 1},
		{"accountpw_password_hash_duration_seconds", nil, 1},
		{"accountpw_password_hash_slot_wait_seconds", nil, 2},
	} {
		if got := histogramCount(f, h.name, h.labels...); got != h.want {
			t.Errorf("%s%v has %d observations, want %d", h.name, h.labels, got, h.want)
		}
	}
	if got := sample(f, "accountpw_mail_delivery_lag_seconds").GetHistogram().GetSampleSum(); got != 1.5 {
		t.Errorf("the delivery lag sums to %v s, want 1.5", got)
	}
	// The {"email"} branch's 2 and 3 ms land in buckets of their own.
	want := map[float64]uint64{.001: 0, .002: 1, .003: 2}
	for _, b := range sample(f, "accountpw_http_request_duration_seconds", "operation", "request_reset").GetHistogram().GetBucket() {
		if n, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != n {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), n)
		}
		delete(want, b.GetUpperBound())
	}
	if len(want) != 0 {
		t.Errorf("no buckets at %v", want)
	}
	if info := sample(f, "accountpw_build_info", "revision", "0123456789abcdef0123456789abcdef01234567", "version", "v1.2.3"); info.GetGauge().GetValue() != 1 {
		t.Errorf("accountpw_build_info = %v, want the gauge 1 with the build's labels", info)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes"} {
		if f[name] == nil {
			t.Errorf("%s is missing: the Go and process collectors must be registered", name)
		}
	}
}

// The families follow Prometheus's naming conventions (units, _total on
// counters, help on every family), as promlint checks them.
func TestFamiliesPassPromlint(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	m.ObserveRequest("page", 200, time.Millisecond)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, namespace+"_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// Counting a request allocates nothing once its series exists: the
// {"email"} branch pays a counter increment and a histogram observation.
func TestObserveRequestAllocatesNothing(t *testing.T) {
	m := newMetrics()
	m.ObserveRequest("request_reset", 202, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.ObserveRequest("request_reset", 202, 2*time.Millisecond) }); n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
}

// allowedLabels is the contract on label values: every label of every
// family (ours, the Go and process collectors', promhttp's) and what its
// values may be. A label not listed fails the test, so no new one can carry
// an address, an IP, a token or a user id unnoticed.
var allowedLabels = map[string]*regexp.Regexp{
	"operation": regexp.MustCompile(`^(request_reset|reset|change|page|probe|other|put_account|get_account|list_accounts|delete_account|import_accounts|password_reset|verify_password)$`),
	"status":    regexp.MustCompile(`^[1-5][0-9][0-9]$`),
	"kind":      regexp.MustCompile(`^(reset|notice|webhook)$`),
	"outcome":   regexp.MustCompile(`^(sent|retry|throttled|dead_letter|expired|no_account|link_used|superseded|done|gone|valid|invalid|limited|rehashed)$`),
	"state":     regexp.MustCompile(`^(available|scheduled|pending|running|retryable|completed|cancelled|discarded)$`),
	"limit":     regexp.MustCompile(`^(client_ceiling|reset_request_ip|token_failures_ip|wrong_old_password|sign_in_ip|sign_in_account)$`),
	"code":      regexp.MustCompile(`^password_(too_short|too_long|invalid_character|blocklisted|predictable|context|breached)$`),
	"version":   regexp.MustCompile(`^(\(devel\)|v[0-9][0-9A-Za-z.+-]*|go[0-9][0-9A-Za-z.+-]*)$`),
	"revision":  regexp.MustCompile(`^(unknown|[0-9a-f]{7,64})$`),
	"quantile":  regexp.MustCompile(`^[0-9.]+$`),
	"le":        regexp.MustCompile(`^([0-9.e+-]+|\+Inf)$`),
	"cause":     regexp.MustCompile(`^(encoding|gathering)$`),
}

// checkLabels fails for every label value outside allowedLabels.
func checkLabels(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				re, ok := allowedLabels[l.GetName()]
				if !ok || !re.MatchString(l.GetValue()) {
					t.Errorf("%s has the label %s=%q, outside the allowed values", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// After every observer has been called, with the values the services
// really pass, every label value is one of the documented names.
func TestLabelValuesAreNamesFixedInCode(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	for _, op := range operations {
		m.ObserveRequest(op, 200, time.Millisecond)
	}
	m.ObserveRequest("/api/v1/account/password?token=secret", 400, time.Millisecond) // never a label
	for k, outcomes := range deliveryOutcomes {
		for _, o := range outcomes {
			m.ObserveDelivery(queue.Delivery{Kind: k, Outcome: o})
		}
	}
	for _, l := range limits {
		m.ObserveRateLimited(l)
	}
	for _, c := range policyCodes {
		m.ObservePolicyRejection(c)
	}
	for _, o := range signInOutcomes {
		m.ObserveSignIn(o)
	}
	for _, op := range []string{"put_account", "get_account", "list_accounts", "delete_account", "import_accounts",
		"password_reset", "verify_password", "other"} {
		m.ObserveAdminRequest(op, 200, time.Millisecond)
	}
	f := gather(t, m)
	checkLabels(t, f)
	if got := counter(f, "accountpw_http_requests_total", "operation", "other", "status", "400"); got != 1 {
		t.Errorf("an unknown operation must count as other: got %v", got)
	}
	if got := counter(f, "accountpw_admin_requests_total", "operation", "verify_password", "status", "200"); got != 1 {
		t.Errorf("admin requests: got %v, want 1 verify_password 200", got)
	}
	if got := counter(f, "accountpw_sign_in_checks_total", "outcome", "rehashed"); got != 1 {
		t.Errorf("sign-in checks: got %v rehashed, want 1", got)
	}
}

// With MergeResetOutcomes the metrics cannot tell a reset email to an
// account from one to an address without one: sent, no_account and
// link_used are one outcome, done, whose series exists from the start, and
// the delivery lag hears of neither. Other kinds and outcomes are counted
// as always.
func TestMergeResetOutcomes(t *testing.T) {
	requested := time.Unix(1700000000, 0)
	after := func(outcome string) string {
		m := New(Build{Version: "v1", Revision: "unknown"}, slog.New(slog.DiscardHandler), Options{MergeResetOutcomes: true})
		m.ObserveDelivery(queue.Delivery{Kind: models.MessageReset, Outcome: outcome, Attempt: 1,
			RequestedAt: requested, At: requested.Add(time.Second)})
		// Every series' labels and value(s), without the creation times.
		var b strings.Builder
		for _, name := range []string{"accountpw_mail_deliveries_total", "accountpw_mail_delivery_lag_seconds"} {
			for _, s := range gather(t, m)[name].GetMetric() {
				for _, l := range s.GetLabel() {
					b.WriteString(l.GetName() + "=" + l.GetValue() + " ")
				}
				b.WriteString(strconv.FormatFloat(s.GetCounter().GetValue(), 'g', -1, 64))
				for _, bk := range s.GetHistogram().GetBucket() {
					b.WriteString(" " + strconv.FormatUint(bk.GetCumulativeCount(), 10))
				}
				b.WriteString("\n")
			}
		}
		return b.String()
	}
	sent := after("sent")
	for _, o := range []string{"no_account", "link_used"} {
		if got := after(o); got != sent {
			t.Errorf("a reset email's %s reads differently from sent:\n%s\n%s", o, got, sent)
		}
	}
	m := New(Build{Version: "v1", Revision: "unknown"}, slog.New(slog.DiscardHandler), Options{MergeResetOutcomes: true})
	fams := gather(t, m)
	for _, o := range []string{"sent", "no_account", "link_used"} {
		if sample(fams, "accountpw_mail_deliveries_total", "kind", "reset", "outcome", o) != nil {
			t.Errorf("outcome %s of reset emails is still exposed", o)
		}
	}
	if sample(fams, "accountpw_mail_deliveries_total", "kind", "reset", "outcome", "done") == nil {
		t.Error("outcome done of reset emails does not exist from the start")
	}
	m.ObserveDelivery(queue.Delivery{Kind: models.MessageReset, Outcome: "sent", RequestedAt: requested, At: requested.Add(time.Second)})
	m.ObserveDelivery(queue.Delivery{Kind: models.MessageReset, Outcome: "retry"})
	m.ObserveDelivery(queue.Delivery{Kind: models.MessageNotice, Outcome: "sent", RequestedAt: requested, At: requested.Add(time.Second)})
	fams = gather(t, m)
	for _, c := range []struct {
		kind, outcome string
		want          float64
	}{{"reset", "done", 1}, {"reset", "retry", 1}, {"notice", "sent", 1}} {
		s := sample(fams, "accountpw_mail_deliveries_total", "kind", c.kind, "outcome", c.outcome)
		if s == nil || s.GetCounter().GetValue() != c.want {
			t.Errorf("%s %s: %v, want %v", c.kind, c.outcome, s, c.want)
		}
	}
	if n := fams["accountpw_mail_delivery_lag_seconds"].GetMetric()[0].GetHistogram().GetSampleCount(); n != 1 {
		t.Errorf("delivery lag counted %d emails, want the notice alone", n)
	}
}
