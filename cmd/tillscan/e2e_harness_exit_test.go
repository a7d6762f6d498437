//go:build linux

package main

// The harness's own stop after a failed start: the 23-minute hang of
// TestE2E_NetworkFaults/black_hole (issue 8) was the harness, not the
// daemon.

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// fatalRecorder is a testing.TB whose Fatal ends only the goroutine that
// calls it and records why, so a test can check that a harness step fails
// and what happens after it.
type fatalRecorder struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (r *fatalRecorder) Fatal(args ...any) { r.fatal(fmt.Sprint(args...)) }

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal(fmt.Sprintf(format, args...)) }

func (r *fatalRecorder) fatal(msg string) {
	r.mu.Lock()
	r.msg = msg
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *fatalRecorder) message() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}

// TestHarness_StopAfterFailedStart is the regression test of the hang: a
// daemon that exited before it was ready (there: its status port taken by
// the fault proxy, which had been handed the port the harness reserved
// and freed) made start fail, and the test's cleanup then waited forever
// for an exit the failed start had already consumed. start must report the
// exit, and stop after it must return.
func TestHarness_StopAfterFailedStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, sandbox.Options{}, "")
	h.env = []string{"TILLSCAN_API_KEY=refused-é"} // `run` refuses a non-ASCII key and exits 1
	rec := &fatalRecorder{TB: t}
	h.t = rec
	within(t, "start of a daemon that exits at once", h.start)
	if msg := rec.message(); !strings.Contains(msg, "exited before it was ready") {
		t.Errorf("start failed with %q, want it to say the daemon exited before it was ready", msg)
	}
	within(t, "stop after a failed start", h.stop)
}
