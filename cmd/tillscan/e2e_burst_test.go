//go:build linux

package main

// Issue 8 defect 1 through the real daemon: a burst of scans with the log
// going to a slow reader made the event logger spin on a closed channel,
// writing empty event lines forever, and SIGTERM no longer stopped it.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/queue"
)

// TestE2E_BurstWithSlowLog: 1000 scans in one serial write while the log is
// read at about 27 KB/s. Every scan is saved, the log never holds an empty
// event, what the logger could not write is reported with its count, and
// SIGTERM stops the daemon within a bound.
func TestE2E_BurstWithSlowLog(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end burst")
	}
	t.Parallel()
	const scans, cards = 1000, 50
	seed := manyStampCards(cards)
	h := newHarnessWith(t, harnessOptions{
		sandbox:  sandbox.Options{Seed: seed},
		config:   "dedupe_window: -1s\n",
		logDelay: 10 * time.Millisecond, // ~100 lines of ~270 bytes a second
	})
	h.start()
	var burst strings.Builder
	for i := range scans {
		burst.WriteString(seed.Cards[i%cards].ID + "\r\n")
	}
	wrote := make(chan error, 1)
	go func() { _, err := h.dev.Write([]byte(burst.String())); wrote <- err }()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	// Every scan is on disk: the status API counts the queue's jobs.
	deadline := time.Now().Add(2 * time.Minute)
	for n := 0; n < scans; n = h.queuedJobs() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d scans in the queue after 2 minutes", n, scans)
		}
		h.pump(200 * time.Millisecond)
	}
	h.mu.Lock()
	proc := h.cmd.Process
	h.mu.Unlock()
	stopped := make(chan struct{})
	began := time.Now()
	go func() { h.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		proc.Kill()
		<-stopped
		t.Fatal("SIGTERM did not stop the daemon within a minute (it had to be killed)")
	}
	stop := time.Since(began)

	h.mu.Lock()
	var empty, savedLines, missed int
	for _, l := range h.all {
		switch {
		case strings.Contains(l.raw, `"event":""`):
			empty++
		case l.Event == "saved":
			savedLines++
		}
		var m struct {
			Missed int `json:"missed"`
		}
		json.Unmarshal([]byte(l.raw), &m)
		missed += m.Missed
	}
	lines := len(h.all)
	h.mu.Unlock()
	if empty > 0 {
		t.Errorf("%d log lines with an empty event", empty)
	}
	if savedLines < scans && missed == 0 {
		t.Errorf("%d saved lines for %d scans and no line saying how many events the log missed", savedLines, scans)
	}
	q, err := queue.Open(filepath.Join(h.dir, "state", "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	st, err := q.Stats(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range st.Depth {
		total += n
	}
	if total != scans {
		t.Errorf("%d jobs in the queue after %d scans, want every one", total, scans)
	}
	t.Logf("FIGURE burst scans=%d log-lines=%d saved-lines=%d missed-reported=%d sigterm-to-exit=%v",
		scans, lines, savedLines, missed, stop.Round(100*time.Millisecond))
}

// queuedJobs is how many jobs the running daemon's queue holds, in any
// state, from its status API (0 if it does not answer).
func (h *harness) queuedJobs() int {
	n := 0
	for _, d := range h.depth() {
		n += d
	}
	return n
}
