package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/pos"
)

// gatedWriter is a log sink that cannot keep up: its first write blocks
// until the test opens the gate (a journald under load, a slow pipe).
type gatedWriter struct {
	gate chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) lines(t *testing.T) []map[string]any {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(w.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestEventLoggerSurvivesBurst is the regression test for the logger that
// spun forever on the closed channel of a dropped subscription: a burst far
// larger than its buffer arrives while the log sink is stuck. Every event
// must be either written once or counted as missed, no line may be empty,
// and the logger must stop when asked.
func TestEventLoggerSurvivesBurst(t *testing.T) {
	const burst = 2000
	feed := pos.NewFeed(50)
	w := &gatedWriter{gate: make(chan struct{})}
	var seqs []uint64 // onEvent runs on the logger's goroutine only
	l := newEventLogger(feed, zerolog.New(w), func(ev pos.Event) { seqs = append(seqs, ev.Seq) }, 16)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.run(ctx) }()
	for i := range burst {
		feed.Publish(pos.Event{Kind: pos.EventSaved, Card: "544256-439-856", JobID: fmt.Sprint(i), Message: "saved"})
	}
	close(w.gate)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(30 * time.Second): // a deadlock guard, not a timing assertion
		t.Fatal("the event logger did not stop after cancel")
	}

	var written, missed uint64
	missedLines := 0
	for _, m := range w.lines(t) {
		if n, ok := m["missed"].(float64); ok {
			missed += uint64(n)
			missedLines++
			continue
		}
		if m["event"] == "" || m["event"] == nil || m["message"] == "" {
			t.Fatalf("empty event line: %v", m)
		}
		written++
	}
	if missedLines == 0 {
		t.Error("no line says how many events were missed")
	}
	if written+missed != burst {
		t.Errorf("written %d + missed %d = %d, want %d (every event written or counted)", written, missed, written+missed, burst)
	}
	if uint64(len(seqs)) != written {
		t.Errorf("onEvent got %d events, the log %d", len(seqs), written)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("event %d written after %d: duplicated or out of order", seqs[i], seqs[i-1])
		}
	}
	if len(seqs) == 0 || seqs[len(seqs)-1] != burst {
		t.Errorf("last event written is not the last published (%d)", burst)
	}
}

// TestEventLoggerWritesEveryEventWhenKeepingUp: with room in its buffer
// the logger writes each event once, in order, and reports nothing missed.
func TestEventLoggerWritesEveryEventWhenKeepingUp(t *testing.T) {
	feed := pos.NewFeed(10)
	feed.Publish(pos.Event{Kind: pos.EventSaved, Message: "before the logger: not its to write"})
	w := &gatedWriter{gate: make(chan struct{})}
	close(w.gate)
	var got []string
	l := newEventLogger(feed, zerolog.New(w), func(ev pos.Event) { got = append(got, ev.JobID) }, 64)
	for i := range 20 {
		feed.Publish(pos.Event{Kind: pos.EventApplied, JobID: fmt.Sprint(i), Message: "applied"})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // run drains what was published, then returns
	if err := l.run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || got[0] != "0" || got[19] != "19" {
		t.Fatalf("onEvent got %v, want jobs 0..19 in order", got)
	}
	for _, m := range w.lines(t) {
		if _, ok := m["missed"]; ok {
			t.Fatalf("missed events reported although none was: %v", m)
		}
	}
}
