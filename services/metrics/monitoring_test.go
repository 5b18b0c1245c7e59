package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/accountpw/accountpw/services/queue"
	"github.com/accountpw/accountpw/services/store/storetest"
)

// metricName finds the names of our families in a PromQL expression.
var metricName = regexp.MustCompile(`accountpw_[a-z_]+`)

// exposed returns the type of every family the service exposes once each
// observer has been called and the queue is watched, by name.
func exposed(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	m := newMetrics()
	m.WatchQueue(storetest.SQLite(t))
	m.WatchReady(func(context.Context) error { return nil })
	m.ObserveRequest("request_reset", 202, time.Millisecond)
	m.ObserveAdminRequest("verify_password", 200, time.Millisecond)
	m.ObserveDelivery(queue.Delivery{Kind: "reset", Outcome: "sent"})
	out := map[string]dto.MetricType{}
	for name, f := range gather(t, m) {
		out[name] = f.GetType()
	}
	return out
}

// checkExpr reports every name in expr that is not an exposed family (or,
// for a histogram, its _bucket, _sum or _count series), and brackets that
// do not pair up.
func checkExpr(t *testing.T, where, expr string, families map[string]dto.MetricType) {
	t.Helper()
	for _, name := range metricName.FindAllString(expr, -1) {
		if _, ok := families[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if families[base] != dto.MetricType_HISTOGRAM || base == name {
			t.Errorf("%s: %s is not a family the service exposes: %s", where, name, expr)
		}
	}
	var open []rune
	for _, r := range expr {
		switch r {
		case '(', '{', '[':
			open = append(open, r)
		case ')', '}', ']':
			if len(open) == 0 || open[len(open)-1] != map[rune]rune{')': '(', '}': '{', ']': '['}[r] {
				t.Errorf("%s: unbalanced %q: %s", where, r, expr)
				return
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		t.Errorf("%s: unclosed %q: %s", where, open, expr)
	}
}

// The alert rules name only families the service exposes, and cover what an
// operator must hear about: backlog, dead letters, delivery lag, 5xx and
// hashing refusals.
func TestAlertRulesUseRealFamilies(t *testing.T) {
	families := exposed(t)
	b, err := os.ReadFile("monitoring/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yaml is not a rule file: %v", err)
	}
	var names []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert)
			checkExpr(t, "alert "+r.Alert, r.Expr, families)
			if len(metricName.FindAllString(r.Expr, -1)) == 0 {
				t.Errorf("alert %s names no accountpw family: %s", r.Alert, r.Expr)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s needs a severity, a summary and a description", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
		}
	}
	for _, want := range []string{"AccountpwDown", "AccountpwMailQueueBacklog", "AccountpwMailDeadLetters",
		"AccountpwMailDeliveryLag", "AccountpwHTTPServerErrors", "AccountpwPasswordHashBusy"} {
		if !slices.Contains(names, want) {
			t.Errorf("alerts.yaml has no %s", want)
		}
	}
	// .ci/run runs alerts_test.yaml with promtool; here only that it shows
	// every alert both firing and quiet, so a new alert cannot go untested.
	b, err = os.ReadFile("monitoring/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		RuleFiles          []string `yaml:"rule_files"`
		EvaluationInterval string   `yaml:"evaluation_interval"`
		Tests              []struct {
			Interval    string           `yaml:"interval"`
			InputSeries []map[string]any `yaml:"input_series"`
			Alerts      []struct {
				EvalTime  string           `yaml:"eval_time"`
				AlertName string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	dec = yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&tests); err != nil {
		t.Fatalf("alerts_test.yaml is not a promtool test file: %v", err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.Alerts {
			if len(a.ExpAlerts) > 0 {
				firing[a.AlertName] = true
			} else {
				quiet[a.AlertName] = true
			}
		}
	}
	for _, name := range names {
		if !firing[name] || !quiet[name] {
			t.Errorf("alerts_test.yaml must show %s firing and quiet (firing %v, quiet %v)", name, firing[name], quiet[name])
		}
	}
}

// Every query of the dashboard (panel targets and template variables) names
// only families the service exposes, and every panel has one.
func TestDashboardUsesRealFamilies(t *testing.T) {
	families := exposed(t)
	b, err := os.ReadFile("monitoring/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string           `json:"title"`
		UID    string           `json:"uid"`
		Panels []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" {
		t.Error("the dashboard needs a title and a uid")
	}
	var doc any
	_ = json.Unmarshal(b, &doc) // parsed above
	var exprs int
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				if s, ok := sub.(string); ok && (k == "expr" || (k == "query" && strings.Contains(s, "("))) {
					exprs++
					checkExpr(t, path+"."+k, s, families)
					continue
				}
				walk(path+"."+k, sub)
			}
		case []any:
			for _, sub := range v {
				walk(path+"[]", sub)
			}
		}
	}
	walk("dashboard", doc)
	if exprs < 20 {
		t.Errorf("found %d queries in the dashboard, want its 20 or more", exprs)
	}
	for _, p := range dash.Panels {
		if p["type"] == "row" {
			continue
		}
		if targets, _ := p["targets"].([]any); len(targets) == 0 {
			t.Errorf("panel %q has no query", p["title"])
		}
	}
	// Every family of ours is on the dashboard somewhere.
	for name := range families {
		if strings.HasPrefix(name, namespace+"_") && !bytes.Contains(b, []byte(name)) {
			t.Errorf("the dashboard shows nothing of %s", name)
		}
	}
}
