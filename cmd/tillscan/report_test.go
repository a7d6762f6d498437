package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// reportQueue writes a queue file with one job in each result on
// 2026-03-10 (UTC) and one the day before, and returns the config file.
func reportQueue(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("till_id: t\nstate_dir: "+dir+"\nstatus: {listen: 'off'}\ntill: {time_zone: UTC}\n"), 0o600)
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{Retention: 1000 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	day := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	scan := func(card string, at time.Time) queue.Scan {
		return queue.Scan{Card: card, TillID: "t", Scanner: "s", Raw: card, ScannedAt: at}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	enqueue := func(card string, at time.Time) queue.Job {
		t.Helper()
		j, err := q.Enqueue(scan(card, at), at)
		must(err)
		return j
	}
	applied := func(card, action, balance string, at time.Time) {
		t.Helper()
		j := enqueue(card, at)
		must(q.Sending(j.ID, action, at))
		must(q.Done(j.ID, queue.Attempt{At: at, Kind: "send", Outcome: "applied"}, balance))
	}
	applied("544256-439-856", "add-stamp 1", "stamp 8/10", day.Add(-24*time.Hour)) // the day before: not in the report
	applied("544256-439-856", "add-stamp 1", "stamp 8/10", day)
	applied("544256-439-856", "add-stamp 1", "stamp 9/10", day.Add(time.Hour))
	applied("612001-100-201", "add-transaction-amount 20", "balance 13.50", day.Add(2*time.Hour))
	_, err = q.EnqueueRefused(scan("612001-100-201", day.Add(3*time.Hour)), "needs the purchase sum, then the card again", day.Add(3*time.Hour))
	must(err)
	u := enqueue("612001-100-207", day.Add(4*time.Hour))
	must(q.Sending(u.ID, "add-scores 1", day.Add(4*time.Hour)))
	must(q.Ambiguous(u.ID, queue.Attempt{At: day.Add(4 * time.Hour), Kind: "send", Outcome: "ambiguous"}, day.Add(5*time.Hour), 0))
	undone := enqueue("612001-100-204", day.Add(5*time.Hour))
	must(q.Drop(undone.ID, pos.UndoneReason, day.Add(5*time.Hour))) // TILLSCAN:UNDO before it was sent
	enqueue("612001-100-202", day.Add(14*time.Hour+59*time.Minute)) // waiting
	enqueue("612001-100-203", day.Add(24*time.Hour))                // the next day: not in the report
	cache, err := pos.NewCache(q, zerolog.Nop())                    // the card types the till learned, in the queue's file
	must(err)
	must(cache.Put("544256-439-856", pos.CardInfo{Type: apiclient.Stamp, TemplateID: 1}))
	return cfg
}

// TestReport runs `tillscan report` on a stopped daemon's queue in every
// format and reads each back.
func TestReport(t *testing.T) {
	cfg := reportQueue(t)
	args := func(format string) []string {
		return []string{"report", "-c", cfg, "--date", "2026-03-10", "--format", format}
	}

	out, err := runCLI(t, nil, args("csv")...)
	if err != nil {
		t.Fatalf("report csv: %v\n%s", err, out)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("report csv does not parse: %v\n%s", err, out)
	}
	want := [][]string{
		reportCSVHeader,
		{"2026-03-10", "09:00:00", "544256-439-856", "stamp", "add-stamp", "1", "applied", "", "stamp 8/10"},
		{"2026-03-10", "10:00:00", "544256-439-856", "stamp", "add-stamp", "1", "applied", "", "stamp 9/10"},
		{"2026-03-10", "11:00:00", "612001-100-201", "", "add-transaction-amount", "20", "applied", "", "balance 13.50"},
		{"2026-03-10", "12:00:00", "612001-100-201", "", "", "", "refused", "needs the purchase sum, then the card again", ""},
		{"2026-03-10", "13:00:00", "612001-100-207", "", "add-scores", "1", "uncertain", "", ""},
		{"2026-03-10", "14:00:00", "612001-100-204", "", "", "", "undone", pos.UndoneReason, ""},
		{"2026-03-10", "23:59:00", "612001-100-202", "", "", "", "waiting", "", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("report csv has %d rows, want %d:\n%s", len(rows), len(want), out)
	}
	for i, w := range want {
		if got := rows[i][:len(w)]; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("csv row %d = %q, want %q", i, got, w)
		}
	}

	out, err = runCLI(t, nil, args("json")...)
	if err != nil {
		t.Fatalf("report json: %v\n%s", err, out)
	}
	var r dayReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report json does not decode: %v\n%s", err, out)
	}
	if r.Date != "2026-03-10" || r.TimeZone != "UTC" || len(r.Scans) != 7 {
		t.Fatalf("report json = %s %s with %d scans, want 2026-03-10 UTC with 7", r.Date, r.TimeZone, len(r.Scans))
	}
	stamps := actionTotal{Action: "add-stamp", Scans: 2, Applied: 2, Quantity: 2}
	if r.ByAction[0] != stamps {
		t.Errorf("first action total = %+v, want %+v", r.ByAction[0], stamps)
	}
	results := map[string]int{}
	for _, rt := range r.ByResult {
		results[rt.Result] = rt.Scans
	}
	wantResults := map[string]int{"applied": 3, "refused": 1, "uncertain": 1, "waiting": 1, "undone": 1}
	for k, v := range wantResults {
		if results[k] != v {
			t.Errorf("result %q: %d scans, want %d (all: %v)", k, results[k], v, results)
		}
	}

	out, err = runCLI(t, nil, args("text")...)
	if err != nil {
		t.Fatalf("report text: %v\n%s", err, out)
	}
	for _, want := range []string{"Scans on 2026-03-10 (UTC): 7", "needs the purchase sum", "add-transaction-amount 20", "uncertain"} {
		if !strings.Contains(out, want) {
			t.Errorf("report text lacks %q:\n%s", want, out)
		}
	}

	if out, err := runCLI(t, nil, "report", "-c", cfg, "--date", "10/03/2026"); err == nil || !strings.Contains(out+err.Error(), "YYYY-MM-DD") {
		t.Errorf("report --date 10/03/2026 = %q, %v; want an error naming the format", out, err)
	}
}

// TestReportDay: the day is the shop's, from midnight to midnight, also
// on the day the clocks go forward (23 hours) and back (25 hours).
func TestReportDay(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		date  string
		now   time.Time
		start string // RFC 3339
		hours float64
	}{
		{"", time.Date(2026, 6, 30, 23, 30, 0, 0, time.UTC), "2026-07-01T00:00:00+01:00", 24}, // 00:30 in London: already the 1st
		{"2026-03-29", time.Time{}, "2026-03-29T00:00:00Z", 23},
		{"2026-10-25", time.Time{}, "2026-10-25T00:00:00+01:00", 25},
	}
	for _, tt := range tests {
		day, err := reportDay(tt.date, tt.now, london)
		if err != nil {
			t.Fatalf("reportDay(%q) = %v", tt.date, err)
		}
		if got := day.Format(time.RFC3339); got != tt.start {
			t.Errorf("reportDay(%q, %s) starts %s, want %s", tt.date, tt.now, got, tt.start)
		}
		if h := day.AddDate(0, 0, 1).Sub(day).Hours(); h != tt.hours {
			t.Errorf("day %s lasts %vh, want %vh", tt.start, h, tt.hours)
		}
	}
}

// TestCollectReport_ExportFails: a queue that cannot be read gives an
// error, not a short report.
func TestCollectReport_ExportFails(t *testing.T) {
	export := func(_ context.Context, w io.Writer) error {
		io.WriteString(w, `{"id":"01J","card":"544256-439-856","state":"done","scanned_at":"2026-03-10T09:00:00Z"}`+"\n")
		return io.ErrUnexpectedEOF
	}
	if _, err := collectReport(t.Context(), export, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), func(string) string { return "" }); err == nil {
		t.Fatal("collectReport with a failing export = nil error")
	}
}

// TestReport_DaemonRunning: with the daemon running (it holds the queue
// file), report goes through its local API and sees the day's scans with
// their card types and balances.
func TestReport_DaemonRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole daemon")
	}
	h := newHarness(t, sandbox.Options{}, "")
	h.start()
	h.scan("544256-439-856")
	h.waitEvent(30*time.Second, "applied", func(l logLine) bool { return l.Event == "applied" })
	var out bytes.Buffer
	err := run(t.Context(), []string{"report", "-c", h.config, "--format", "csv"}, strings.NewReader(""), &out, &out,
		func(string) string { return "" })
	if err != nil {
		t.Fatalf("report with the daemon running: %v\n%s", err, out.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("report csv = %q, %v; want the header and one scan", rows, err)
	}
	if got := rows[1]; got[2] != "544256-439-856" || got[3] != "stamp" || got[4] != "add-stamp" || got[6] != "applied" || got[8] != "stamp 8/10" {
		t.Errorf("report row = %q, want the stamp card's applied add-stamp with its balance", got)
	}
}
