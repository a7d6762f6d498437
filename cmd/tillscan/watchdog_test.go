package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// TestWatchdog_Stuck checks the verdict for each part on given clocks:
// a waiting worker is alive until its wait plus the bound has passed, a
// scan or a queue read is stuck only past its bound.
func TestWatchdog_Stuck(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	const bound = time.Minute
	tests := []struct {
		name      string
		beatSleep time.Duration // the worker's last beat, at t0
		scanAt    time.Time     // a scan being handled since; zero: none
		probeAt   time.Time     // a queue read in flight since; zero: none
		now       time.Time
		want      string // substring of the verdict; "" alive
	}{
		{"working, within the bound", 0, time.Time{}, time.Time{}, t0.Add(bound), ""},
		{"working, past the bound", 0, time.Time{}, time.Time{}, t0.Add(bound + time.Second), "worker"},
		{"waiting out a long backoff", 5 * time.Minute, time.Time{}, time.Time{}, t0.Add(5*time.Minute + bound), ""},
		{"silent past its wait and the bound", 5 * time.Minute, time.Time{}, time.Time{}, t0.Add(5*time.Minute + bound + time.Second), "worker"},
		{"a scan within the bound", 0, t0, time.Time{}, t0.Add(bound), ""},
		{"a scan past the bound", time.Hour, t0, time.Time{}, t0.Add(bound + time.Second), "scan"},
		{"a queue read past the bound", time.Hour, time.Time{}, t0, t0.Add(bound + time.Second), "queue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWatchdog(func() error { return nil }, zerolog.Nop())
			w.workerBound, w.scanBound, w.queueBound = bound, bound, bound
			w.beatAt, w.beatSleep = t0, tt.beatSleep
			if !tt.scanAt.IsZero() {
				w.scans[1] = tt.scanAt
			}
			w.probeAt = tt.probeAt
			if w.probeAt.IsZero() {
				w.probeAt = tt.now // a read in flight since now: not stuck, and none started by the test
			}
			got := strings.Join(w.stuck(tt.now), "; ")
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("stuck = %q, want %q", got, tt.want)
			}
			if alive := w.workerRunning(tt.now); alive != !strings.Contains(got, "worker") {
				t.Errorf("workerRunning = %v with verdict %q", alive, got)
			}
		})
	}
}

// TestWatchdog_WorkerStopped checks a worker whose Run returned is not
// running (for /readyz) until it beats again, while the pings go on: the
// daemon restarts it.
func TestWatchdog_WorkerStopped(t *testing.T) {
	w := newWatchdog(func() error { return nil }, zerolog.Nop())
	w.workerBeat(0)
	w.workerStopped()
	now := time.Now()
	if w.workerRunning(now) {
		t.Error("a stopped worker counts as running")
	}
	w.probeAt = now // no queue read started by the test
	if got := w.stuck(now); len(got) != 0 {
		t.Errorf("a worker waiting for its restart is stuck: %v", got)
	}
	w.workerBeat(0)
	if !w.workerRunning(time.Now()) {
		t.Error("a restarted worker that beat does not count as running")
	}
}

// TestWatchdog_QueueProbe checks a queue read that does not return is
// reported once its bound has passed, and that a returned one clears.
func TestWatchdog_QueueProbe(t *testing.T) {
	release := make(chan struct{})
	w := newWatchdog(func() error { <-release; return nil }, zerolog.Nop())
	w.queueBound = time.Minute
	start := time.Now()
	if got := w.stuck(start); len(got) != 0 { // starts the read
		t.Fatalf("stuck at start = %v", got)
	}
	if got := strings.Join(w.stuck(start.Add(2*time.Minute)), ";"); !strings.Contains(got, "queue") {
		t.Fatalf("a read held for 2 minutes: stuck = %q, want the queue", got)
	}
	close(release)
	waitFor(t, "the read to return", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.probeAt.IsZero() })
	if got := w.stuck(start.Add(2 * time.Minute)); len(got) != 0 {
		t.Errorf("after the read returned: stuck = %v", got)
	}
}

// TestObservedQueue_Counts checks the jobs and reconciliations counted
// from the queue's own records, through a real queue file.
func TestObservedQueue_Counts(t *testing.T) {
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := newMetrics("t", "dev")
	oq := m.queue(q)
	now := time.Now()
	enqueue := func(card string) queue.Job {
		j, err := oq.Enqueue(queue.Scan{Card: card, TillID: "t", Raw: card, ScannedAt: now.Add(-time.Minute)}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := oq.Sending(j.ID, "add-stamp 1", now); err != nil {
			t.Fatal(err)
		}
		return j
	}
	rec := func(outcome string) queue.Attempt { return queue.Attempt{At: now, Kind: "reconcile", Outcome: outcome} }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	a := enqueue("111111-111-111")
	must(oq.Ambiguous(a.ID, queue.Attempt{At: now, Kind: "send", Outcome: "ambiguous"}, now, 0))
	must(oq.Ambiguous(a.ID, rec("absent"), now, 1))
	must(oq.Ambiguous(a.ID, rec("ambiguous"), now, 1)) // a failed read
	must(oq.Done(a.ID, rec("found"), "stamp 8/10"))
	b := enqueue("222222-222-222")
	must(oq.Ambiguous(b.ID, queue.Attempt{At: now, Kind: "send", Outcome: "ambiguous"}, now, 0))
	must(oq.Dead(b.ID, rec("duplicate"), "found twice"))
	c := enqueue("333333-333-333")
	must(oq.Refuse(c.ID, queue.Attempt{At: now, Kind: "send", Outcome: "rejected"}, "no such card"))
	if _, err := oq.EnqueueRefused(queue.Scan{Card: "444444-444-444", TillID: "t", Raw: "x", ScannedAt: now}, "needs a sum", now); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"reconciled found", counterValue(t, m.reconciles.WithLabelValues("found")), 1},
		{"reconciled absent", counterValue(t, m.reconciles.WithLabelValues("absent")), 1},
		{"reconciled duplicate", counterValue(t, m.reconciles.WithLabelValues("duplicate")), 1},
		{"reconciled error", counterValue(t, m.reconciles.WithLabelValues("error")), 1},
		{"finished applied", counterValue(t, m.finished.WithLabelValues("applied")), 1},
		{"finished refused", counterValue(t, m.finished.WithLabelValues("refused")), 2},
		{"dead", counterValue(t, m.dead), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := histogramCount(t, m); n < 10 {
		t.Errorf("%d queue writes timed, want every successful write (at least 10)", n)
	}
}

// histogramCount is how many queue writes the commit histogram observed.
func histogramCount(t *testing.T, m *metrics) uint64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "tillscan_queue_commit_duration_seconds" {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no commit histogram")
	return 0
}

// TestScanOutcome checks which events count as scans, and as what.
func TestScanOutcome(t *testing.T) {
	tests := []struct {
		ev   pos.Event
		want string
	}{
		{pos.Event{Kind: pos.EventSaved}, "saved"},
		{pos.Event{Kind: pos.EventNotSaved}, "not_saved"},
		{pos.Event{Kind: pos.EventNotCard, Raw: "x"}, "not_card"},
		{pos.Event{Kind: pos.EventRepeat}, "repeat"},
		{pos.Event{Kind: pos.EventMode, Raw: "TILLSCAN:REDEEM"}, "command"},
		{pos.Event{Kind: pos.EventRefused, Raw: "TILLSCAN:NOPE"}, "refused"}, // the till refused the scan
		{pos.Event{Kind: pos.EventRefused, JobID: "J", Card: "c"}, ""},       // the API refused a job
		{pos.Event{Kind: pos.EventApplied, JobID: "J"}, ""},                  // a job, not a scan
		{pos.Event{Kind: pos.EventWaiting}, ""},
	}
	for _, tt := range tests {
		if got := scanOutcome(tt.ev); got != tt.want {
			t.Errorf("scanOutcome(%+v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}
