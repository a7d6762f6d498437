package main

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// The daemon's log path and its bounds. A stalled sink costs one writer
// logStallAfter once, then nothing until the sink moves again; stopping
// costs at most logStallAfter more, inside the unit's TimeoutStopSec (20 s).
// logStallAfter is well above the pauses of a sink that is only slow: a
// reader that takes 64 KiB of lines at a time and then works through them.
const (
	logBuffer     = 256              // lines that may wait for the sink
	logStallAfter = 5 * time.Second  // a sink that takes no line for this long is stalled
	logFlushLimit = 15 * time.Second // the most the exit waits for a slow sink
)

// logSink writes the daemon's log lines to the real sink (stderr, the
// journal) from a goroutine of its own, so that a sink that stops taking
// lines (journald stalled, a full pipe nobody reads) cannot stop the
// daemon: not its start, not a scan, not its exit on SIGTERM. Without it a
// zerolog write blocks for as long as the sink does, and every goroutine
// that logs (the event logger, the worker, the shutdown itself) waits with
// it; systemd would end the stop with SIGKILL.
//
// The log is not where scans are kept: every acknowledged scan is in the
// queue, so losing lines to a dead sink costs the journal, never a scan.
// Lines are still never lost silently: a writer finding the buffer full
// waits up to stallAfter for room (a slow but moving sink loses nothing);
// after such a wait fails, lines are dropped at once and counted until the
// sink takes a line again, and the count is written then as one line.
//
// zerolog's diode writer is the library version of this, but it drops
// without waiting (a slow sink would lose lines a short wait saves) and its
// Close waits for the stalled write without a bound.
type logSink struct {
	out        io.Writer
	lines      chan []byte
	stallAfter time.Duration

	stalled atomic.Bool   // a writer waited stallAfter in vain; cleared by the next line written
	dropped atomic.Uint64 // lines dropped since the last report
	written atomic.Uint64 // lines the sink took, for Close to see progress
	stop    chan struct{} // closed by Close: write what is buffered and end
	once    sync.Once
	done    chan struct{} // closed when run has ended
}

// newLogSink starts the goroutine writing to out; Close ends it.
func newLogSink(out io.Writer, buffer int, stallAfter time.Duration) *logSink {
	s := &logSink{
		out: out, lines: make(chan []byte, buffer), stallAfter: stallAfter,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go s.run()
	return s
}

// Write queues one line (zerolog writes one whole line per call). It never
// fails and never waits longer than stallAfter.
func (s *logSink) Write(p []byte) (int, error) {
	line := bytes.Clone(p) // zerolog reuses p
	select {
	case s.lines <- line:
		return len(p), nil
	default:
	}
	if !s.stalled.Load() {
		t := time.NewTimer(s.stallAfter)
		defer t.Stop()
		select {
		case s.lines <- line:
			return len(p), nil
		case <-t.C:
			s.stalled.Store(true)
		case <-s.done: // closed: nothing will write it
		}
	}
	s.dropped.Add(1)
	return len(p), nil
}

// run writes the lines in the order they were queued until Close, then
// what is still buffered.
func (s *logSink) run() {
	defer close(s.done)
	for {
		select {
		case line := <-s.lines:
			s.write(line)
		case <-s.stop:
			for {
				select {
				case line := <-s.lines:
					s.write(line)
				default:
					s.reportDropped()
					return
				}
			}
		}
	}
}

func (s *logSink) write(line []byte) {
	s.reportDropped()
	s.out.Write(line) // an error has nowhere to go but this sink
	s.written.Add(1)
	s.stalled.Store(false)
}

// reportDropped writes how many lines were dropped since the last report,
// if any, as a record of its own in zerolog's format (which every sink of
// newLogger's takes).
func (s *logSink) reportDropped() {
	n := s.dropped.Swap(0)
	if n == 0 {
		return
	}
	var b bytes.Buffer
	report := zerolog.New(&b).With().Timestamp().Logger()
	report.Error().Uint64("dropped", n).
		Msgf("the log sink took no line for %v: %d log lines were dropped (scans are not affected: each one is in the queue, see tillscan queue list)", s.stallAfter, n)
	s.out.Write(b.Bytes())
	s.written.Add(1)
}

// Close writes what is buffered and returns true once it is written, or
// false when the sink took no line for stallAfter or limit passed: the
// daemon then exits without the rest rather than hang on its log.
func (s *logSink) Close(limit time.Duration) bool {
	s.once.Do(func() { close(s.stop) })
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	progress := time.NewTicker(s.stallAfter)
	defer progress.Stop()
	last := s.written.Load()
	for {
		select {
		case <-s.done:
			return true
		case <-deadline.C:
			return false
		case <-progress.C:
			n := s.written.Load()
			if n == last {
				return false
			}
			last = n
		}
	}
}
