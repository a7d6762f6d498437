// Package deploy holds what is installed beside the tillscan binary: the
// systemd unit, udev rules, the package recipe and scripts, and the
// monitoring files for a fleet of tills (Prometheus alert rules, a Grafana
// dashboard). Its Go code only reads the monitoring files back, so tests can
// check every query in them against the metrics the daemon serves
// (docs/metrics.md is the contract).
package deploy

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/goccy/go-yaml"
)

//go:embed prometheus/tillscan-alerts.yml grafana/tillscan-fleet.json
var monitoring embed.FS

// The monitoring files, as embedded.
const (
	AlertRulesFile = "prometheus/tillscan-alerts.yml"
	DashboardFile  = "grafana/tillscan-fleet.json"
)

// Query is one PromQL expression of a monitoring file.
type Query struct {
	Source string // e.g. "prometheus/tillscan-alerts.yml: TillscanDown"
	Expr   string
}

// AlertRules is the part of a Prometheus rule file the checks read.
type AlertRules struct {
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

// Dashboard is the part of a Grafana dashboard model the checks read.
type Dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is one panel (or row) of a Dashboard.
type Panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Repeat  string `json:"repeat"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// LoadAlertRules parses the embedded alert rules.
func LoadAlertRules() (AlertRules, error) {
	var r AlertRules
	b, err := monitoring.ReadFile(AlertRulesFile)
	if err != nil {
		return r, err
	}
	if err := yaml.UnmarshalWithOptions(b, &r, yaml.Strict()); err != nil {
		return r, fmt.Errorf("%s: %w", AlertRulesFile, err)
	}
	return r, nil
}

// LoadDashboard parses the embedded Grafana dashboard.
func LoadDashboard() (Dashboard, error) {
	var d Dashboard
	b, err := monitoring.ReadFile(DashboardFile)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%s: %w", DashboardFile, err)
	}
	return d, nil
}

// Queries returns every PromQL expression of the alert rules and the
// dashboard.
func Queries() ([]Query, error) {
	r, err := LoadAlertRules()
	if err != nil {
		return nil, err
	}
	d, err := LoadDashboard()
	if err != nil {
		return nil, err
	}
	var qs []Query
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			qs = append(qs, Query{Source: AlertRulesFile + ": " + rule.Alert, Expr: rule.Expr})
		}
	}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			qs = append(qs, Query{Source: fmt.Sprintf("%s: panel %q %s", DashboardFile, p.Title, t.RefID), Expr: t.Expr})
		}
	}
	return qs, nil
}

// metricRE matches the metric names these files use: tillscan's own, the Go
// and process collectors', and Prometheus' up. Label names never start with
// these prefixes in our queries.
var metricRE = regexp.MustCompile(`\b(?:tillscan|process|go)_[a-z0-9_]+\b|\bup\b`)

// histogramSuffix is what PromQL appends to a histogram's name.
var histogramSuffix = regexp.MustCompile(`_(?:bucket|sum|count)$`)

// MetricNames returns the metric families expr reads, sorted, with a
// histogram's _bucket/_sum/_count suffix removed (the family name is what
// /metrics declares in its # TYPE line).
func MetricNames(expr string) []string {
	var names []string
	for _, m := range metricRE.FindAllString(expr, -1) {
		names = append(names, histogramSuffix.ReplaceAllString(m, ""))
	}
	slices.Sort(names)
	return slices.Compact(names)
}
