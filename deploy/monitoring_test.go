package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job="tillscan"} == 0`, []string{"up"}},
		{`histogram_quantile(0.5, sum by (le) (rate(tillscan_api_request_duration_seconds_bucket{instance="x"}[5m])))`,
			[]string{"tillscan_api_request_duration_seconds"}},
		{`(tillscan_api_key_refused == 1) * on (instance) group_left (till_id) tillscan_till_info`,
			[]string{"tillscan_api_key_refused", "tillscan_till_info"}},
		{`rate(process_cpu_seconds_total[5m]) + go_goroutines`, []string{"go_goroutines", "process_cpu_seconds_total"}},
		{`sum by (outcome) (rate(tillscan_scans_total{outcome="not_saved"}[5m]))`, []string{"tillscan_scans_total"}},
	}
	for _, tt := range tests {
		if got := MetricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("MetricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

func TestAlertRules(t *testing.T) {
	r, err := LoadAlertRules()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			n++
			if rule.Alert == "" || strings.TrimSpace(rule.Expr) == "" {
				t.Errorf("group %s: a rule without alert name or expr: %+v", g.Name, rule)
			}
			if s := rule.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", rule.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if rule.Annotations[a] == "" {
					t.Errorf("%s: no %s annotation", rule.Alert, a)
				}
			}
		}
	}
	if n < 8 {
		t.Errorf("%d alert rules, want the 8 docs/metrics.md lists", n)
	}
}

func TestDashboard(t *testing.T) {
	d, err := LoadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["instance"] || !vars["datasource"] {
		t.Errorf("dashboard variables %v, want instance and datasource", vars)
	}
	ids := map[int]bool{}
	repeated := false
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			repeated = repeated || p.Repeat == "instance"
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q target %s: empty expr", p.Title, q.RefID)
			}
		}
	}
	if !repeated {
		t.Error("no row repeats over $instance: the dashboard must show one row per till")
	}
}

// TestQueriedMetricsAreDocumented keeps the rules and the dashboard inside
// docs/metrics.md, the contract the daemon's /metrics is tested against.
func TestQueriedMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{"up": true}
	for _, m := range regexp.MustCompile("`(tillscan_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	qs, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		for _, name := range MetricNames(q.Expr) {
			if strings.HasPrefix(name, "tillscan_") && !documented[name] {
				t.Errorf("%s queries %s, which docs/metrics.md does not document", q.Source, name)
			}
		}
	}
}
