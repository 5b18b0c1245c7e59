package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var metricsListenRE = regexp.MustCompile(`"msg":"metrics listening","addr":"([^"]+)"`)

// metricsURL is the metrics listener's address from serve's log; serve logs
// it before the API's "listening" line, which startServe waited for.
func metricsURL(t *testing.T, logs *logSink) string {
	t.Helper()
	m := metricsListenRE.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("serve logged no metrics listener\n%s", logs)
	}
	return "http://" + m[1] + "/metrics"
}

// scrape fetches and parses the metrics, and returns them with the raw text.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := plainClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v\n%s", err, b)
	}
	return fams, string(b)
}

// value is the counter or gauge value, or the histogram's observation
// count, of the series of family name with exactly these labels; -1 when
// there is no such series.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for i, l := range m.GetLabel() {
			match = match && l.GetName() == labels[2*i] && l.GetValue() == labels[2*i+1]
		}
		if !match {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// allowedLabelValues is the public contract on labels (docs/operating.md: Metrics):
// every label any family carries, and what its values may be. A label not
// listed fails, so nothing can put an address, an IP, a token or a user id
// in a label unnoticed.
var allowedLabelValues = map[string]*regexp.Regexp{
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

// TestMetrics drives every operation of a running serve (PostgreSQL, the
// SendGrid client against a fake) and reads its metrics listener like
// Prometheus: each family is there, the counts moved by exactly what was
// done, and every label value is a name fixed in code.
func TestMetrics(t *testing.T) {
	const key = "SG.test-key"
	sg := newFakeSendGrid(t, key)
	env := map[string]string{
		"ACCOUNTPW_DATABASE_URL":               mustPostgresURL(t),
		"ACCOUNTPW_AUTH_JWT_SECRET":            "metrics-secret-0123456789abcdefghijkl",
		"ACCOUNTPW_MAIL_PROVIDER":              "sendgrid",
		"ACCOUNTPW_MAIL_SENDGRID_API_KEY":      key,
		"ACCOUNTPW_MAIL_SENDGRID_BASE_URL":     sg.URL,
		"ACCOUNTPW_RESET_URL":                  "https://app.example.org/password-reset",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456",
		"ACCOUNTPW_PASSWORD_ARGON2_TIME":       "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS":    "1",
		"ACCOUNTPW_PASSWORD_HASH_WAIT":         "5s",
		"ACCOUNTPW_LIMITS_CLIENT_PER_MINUTE":   "20",
	}
	const (
		email = "Metrics.Walker@Example.org"
		pw1   = "canary-Pw1 velvet orbit copper"
		pw2   = "canary-Pw2 quartz meadow tundra"
		pw3   = "canary-Pw3 ember glacier saffron"
	)
	base, logs := startServe(t, env)
	metrics := metricsURL(t, logs)
	if strings.HasPrefix(metrics, base) {
		t.Fatalf("metrics at %s share the API's listener %s", metrics, base)
	}
	created := runCmd(t, env, pw1+"\n", "users", "create", "--email", email, "--password-stdin")
	id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(created)[1]

	wantStatus(t, put(t, base, "", `{"email":"`+strings.ToLower(email)+`"}`), http.StatusAccepted)
	token := tokenOf(t, sg.next(t))
	wantStatus(t, put(t, base, "", `{"token":"`+token+`","new":"short"}`), http.StatusUnprocessableEntity)
	wantStatus(t, put(t, base, "", `{"token":"`+token+`","new":"`+pw2+`"}`), http.StatusNoContent)
	sg.next(t) // the notice
	bearer := bearerAfter(t, env, id)
	wantStatus(t, put(t, base, bearer, `{"old":"`+pw1+`","new":"`+pw3+`"}`), http.StatusForbidden)
	wantStatus(t, put(t, base, bearer, `{"old":"`+pw2+`","new":"`+pw3+`"}`), http.StatusNoContent)
	sg.next(t) // the notice
	for path, status := range map[string]int{"/healthz": 200, "/readyz": 200, "/password-reset": 200,
		"/.well-known/change-password": 302, "/metrics": 404} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		resp, err := plainClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
	}
	// Malformed bodies until the client ceiling (20 a minute) answers 429:
	// how many that takes depends on when the minute's window began.
	malformed := 0
	for ; malformed < 45; malformed++ {
		resp := put(t, base, "", `{}`)
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		wantStatus(t, resp, http.StatusBadRequest)
	}

	// Deliveries are counted after the provider answered: poll the scrape
	// until the three sends are in (a condition with a deadline).
	var (
		fams map[string]*dto.MetricFamily
		text string
	)
	for deadline := time.Now().Add(20 * time.Second); ; {
		fams, text = scrape(t, metrics)
		if value(fams, "accountpw_mail_delivery_lag_seconds") >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the outcome of asynchronous sends
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"accountpw_http_requests_total", []string{"operation", "request_reset", "status", "202"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "reset", "status", "422"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "reset", "status", "204"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "change", "status", "403"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "change", "status", "204"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "probe", "status", "200"}, 2},
		{"accountpw_http_requests_total", []string{"operation", "page", "status", "200"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "page", "status", "302"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "other", "status", "404"}, 1},
		{"accountpw_http_requests_total", []string{"operation", "other", "status", "400"}, float64(malformed)},
		{"accountpw_http_requests_total", []string{"operation", "other", "status", "429"}, 1},
		{"accountpw_http_request_duration_seconds", []string{"operation", "request_reset"}, 1},
		{"accountpw_http_request_duration_seconds", []string{"operation", "change"}, 2},
		{"accountpw_rate_limited_total", []string{"limit", "client_ceiling"}, 1},
		{"accountpw_rate_limited_total", []string{"limit", "reset_request_ip"}, 0},
		{"accountpw_password_policy_rejections_total", []string{"code", "password_too_short"}, 1},
		{"accountpw_mail_deliveries_total", []string{"kind", "reset", "outcome", "sent"}, 1},
		{"accountpw_mail_deliveries_total", []string{"kind", "notice", "outcome", "sent"}, 2},
		{"accountpw_mail_deliveries_total", []string{"kind", "reset", "outcome", "dead_letter"}, 0},
		{"accountpw_mail_delivery_lag_seconds", nil, 3},
		// The reset's hash, the wrong old password's verification, the
		// change's verification and hash; not the warm-up's.
		{"accountpw_password_hash_duration_seconds", nil, 4},
		{"accountpw_password_hash_busy_total", nil, 0},
		{"accountpw_mail_queue_count_failures_total", nil, 0},
		{"accountpw_ready", nil, 1},
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if waits := value(fams, "accountpw_password_hash_slot_wait_seconds"); waits < 4 {
		t.Errorf("%v slot waits observed, want at least the 4 hashes", waits)
	}
	for _, s := range []string{"available", "scheduled", "running", "retryable", "completed", "cancelled", "discarded"} {
		if value(fams, "accountpw_mail_queue_jobs", "state", s) < 0 {
			t.Errorf("no accountpw_mail_queue_jobs{state=%q}", s)
		}
	}
	for _, name := range []string{"accountpw_build_info", "go_goroutines", "go_memstats_heap_inuse_bytes",
		"process_resident_memory_bytes", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("%s is missing", name)
		}
	}

	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if re, ok := allowedLabelValues[l.GetName()]; !ok || !re.MatchString(l.GetValue()) {
					t.Errorf("%s carries %s=%q, outside the allowed values", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	for _, canary := range []string{email, strings.ToLower(email), id, token, bearer, pw1, pw2, pw3, "127.0.0.1"} {
		if strings.Contains(text, canary) {
			t.Errorf("the metrics contain %q", canary)
		}
	}

	req, _ := http.NewRequest(http.MethodHead, metrics, nil)
	resp, err := plainClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /metrics: %d, want 200", resp.StatusCode)
	}
}

// plainClient is for what openapi.yaml does not describe (the metrics
// listener, paths the API does not serve), so contractClient would flag it;
// it reports a redirect instead of following it.
var plainClient = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// ACCOUNTPW_METRICS_ADDR=off serves no metrics (an empty variable would
// count as unset and keep the default).
func TestMetricsOff(t *testing.T) {
	t.Chdir(t.TempDir())
	_, logs := startServe(t, map[string]string{
		"ACCOUNTPW_METRICS_ADDR":               "off",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB": "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1",
	})
	if strings.Contains(logs.String(), "metrics listening") {
		t.Fatalf("metrics served although off\n%s", logs)
	}
}

// With ACCOUNTPW_METRICS_MERGE_RESET_OUTCOMES a scrape cannot tell a reset
// request for an account from one for an address without an account: both
// emails end as outcome done, no series says sent or no_account for reset
// emails, and the delivery lag heard of neither.
func TestMetricsMergeResetOutcomes(t *testing.T) {
	env := map[string]string{
		"ACCOUNTPW_DATABASE_PATH":                filepath.Join(t.TempDir(), "data", "accountpw.db"),
		"ACCOUNTPW_METRICS_MERGE_RESET_OUTCOMES": "true",
		"ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB":   "19456", "ACCOUNTPW_PASSWORD_ARGON2_TIME": "2",
		"ACCOUNTPW_PASSWORD_ARGON2_THREADS": "1",
	}
	base, logs := startServe(t, env)
	metrics := metricsURL(t, logs)
	runCmd(t, env, "velvet orbit copper lantern\n", "users", "create", "--email", "known@example.org", "--password-stdin")
	wantStatus(t, put(t, base, "", `{"email":"known@example.org"}`), http.StatusAccepted)
	wantStatus(t, put(t, base, "", `{"email":"nobody@example.org"}`), http.StatusAccepted)
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(20 * time.Second); ; {
		fams, _ = scrape(t, metrics)
		if value(fams, "accountpw_mail_deliveries_total", "kind", "reset", "outcome", "done") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two reset emails were not counted as done within 20 s\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond) // polling the outcome of asynchronous sends
	}
	for _, o := range []string{"sent", "no_account", "link_used"} {
		if v := value(fams, "accountpw_mail_deliveries_total", "kind", "reset", "outcome", o); v != -1 {
			t.Errorf("reset emails' outcome %s is exposed (%v)", o, v)
		}
	}
	if v := value(fams, "accountpw_mail_delivery_lag_seconds"); v != 0 {
		t.Errorf("the delivery lag counted %v reset emails, want none", v)
	}
}
