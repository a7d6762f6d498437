package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// within fails the test unless f returns within a generous bound: what is
// checked is that it returns at all (a stalled sink must not hold it).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not return within 30s", what)
	}
}

// sinkLines logs n lines numbered from 0 through a logger on s.
func sinkLines(s *logSink, n int) {
	log := zerolog.New(s)
	for i := range n {
		log.Info().Int("n", i).Msg("line")
	}
}

// checkSinkOutput: the lines the sink wrote are the numbered ones in
// order, none twice, and every line is either written or counted in a
// "dropped" report. It returns how many were dropped.
func checkSinkOutput(t *testing.T, w *gatedWriter, n int) (dropped int) {
	t.Helper()
	next := 0
	for _, l := range w.lines(t) {
		if d, ok := l["dropped"].(float64); ok {
			dropped += int(d)
			continue
		}
		i := int(l["n"].(float64))
		if i < next {
			t.Errorf("line %d written after line %d", i, next-1)
		}
		next = i + 1
	}
	if written := len(w.lines(t)) - reports(t, w); written+dropped != n {
		t.Errorf("%d lines written and %d reported dropped, of %d", written, dropped, n)
	}
	return dropped
}

// reports counts the "dropped" lines.
func reports(t *testing.T, w *gatedWriter) int {
	n := 0
	for _, l := range w.lines(t) {
		if _, ok := l["dropped"]; ok {
			n++
		}
	}
	return n
}

// TestLogSink_SlowSinkLosesNothing: a sink that is behind but moving makes
// writers wait for room; nothing is dropped.
func TestLogSink_SlowSinkLosesNothing(t *testing.T) {
	t.Parallel()
	const n = 100
	w := &gatedWriter{gate: make(chan struct{})}
	s := newLogSink(w, 4, time.Minute)
	wrote := make(chan struct{})
	go func() { defer close(wrote); sinkLines(s, n) }()
	// The buffer is full and the writer waits for room; then the sink moves.
	for len(s.lines) < cap(s.lines) {
		time.Sleep(time.Millisecond)
	}
	close(w.gate)
	within(t, "writing to a slow sink", func() { <-wrote })
	var flushed bool
	within(t, "Close", func() { flushed = s.Close(time.Minute) })
	if !flushed {
		t.Error("Close = false on a sink that took every line")
	}
	if d := checkSinkOutput(t, w, n); d != 0 {
		t.Errorf("%d lines dropped by a sink that was only slow", d)
	}
}

// TestLogSink_StalledSink: writes to a sink that takes nothing return at
// once after one wait; what could not be buffered is dropped and reported
// with its count once the sink takes lines again; Close on a stalled sink
// returns false instead of waiting for it.
func TestLogSink_StalledSink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		recover bool // the sink takes lines again before Close
	}{
		{"recovers", true},
		{"stays stalled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 50
			w := &gatedWriter{gate: make(chan struct{})}
			s := newLogSink(w, 4, time.Second)
			within(t, "writing to a stalled sink", func() { sinkLines(s, n) })
			if !tc.recover {
				var flushed bool
				within(t, "Close of a stalled sink", func() { flushed = s.Close(time.Minute) })
				if flushed {
					t.Error("Close = true on a sink that took nothing")
				}
				close(w.gate) // let the stuck write end
				return
			}
			close(w.gate)
			var flushed bool
			within(t, "Close", func() { flushed = s.Close(time.Minute) })
			if !flushed {
				t.Error("Close = false on a sink that took lines again")
			}
			if d := checkSinkOutput(t, w, n); d == 0 {
				t.Errorf("no line dropped though %d lines met a stalled sink with room for 4", n)
			}
			if r := reports(t, w); r != 1 {
				t.Errorf("%d dropped reports for one stall, want 1", r)
			}
		})
	}
}

// TestLogSink_WritesAfterStallEnds: once the sink takes a line again,
// writers wait for room again instead of dropping.
func TestLogSink_WritesAfterStallEnds(t *testing.T) {
	t.Parallel()
	w := &gatedWriter{gate: make(chan struct{})}
	s := newLogSink(w, 2, time.Second)
	log := zerolog.New(s)
	within(t, "writing to a stalled sink", func() {
		for i := range 10 {
			log.Info().Int("n", i).Msg("line")
		}
	})
	if !s.stalled.Load() {
		t.Fatal("not marked stalled after a wait for room failed")
	}
	close(w.gate)
	for s.stalled.Load() {
		time.Sleep(time.Millisecond)
	}
	within(t, "writing after the stall", func() {
		for i := range 20 {
			log.Info().Int("n", 10+i).Msg("line")
		}
	})
	within(t, "Close", func() { s.Close(time.Minute) })
	var after []int
	for _, l := range w.lines(t) {
		if i, ok := l["n"].(float64); ok && i >= 10 {
			after = append(after, int(i))
		}
	}
	if fmt.Sprint(after) != fmt.Sprint(seq(10, 30)) {
		t.Errorf("lines after the stall: %v, want all of 10..29", after)
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
