package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/pos"
)

// TestE2E_UndoKilledWhileSending: UNDO of an applied stamp, with the
// daemon killed (kill -9) while the undo's request is in flight. After the
// restart the undo is reconciled or sent once: the card is back where it
// started, and each job's marker is on exactly one operation (issue 10).
func TestE2E_UndoKilledWhileSending(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "dedupe_window: -1s\nworker: {settle: 1s}\n")
	h.start()
	card := sandbox.DemoStampCard
	h.scan(card)
	first := h.waitEvent(30*time.Second, "the stamp applied", func(l logLine) bool { return l.Card == card && l.Event == "applied" })

	h.sb.API.SetFaults(sandbox.Faults{Latency: 2 * time.Second}) // the undo's request stays in flight
	h.scan("TILLSCAN:UNDO")
	undo := h.waitEvent(30*time.Second, "the undo saved", func(l logLine) bool { return l.Card == card && l.Event == "saved" })
	before := h.sb.API.Stats().Requests
	for deadline := time.Now().Add(30 * time.Second); h.sb.API.Stats().Requests == before; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the undo was never sent")
		}
	}
	h.kill() // the request is at the sandbox, its answer 2 s away
	h.sb.API.SetFaults(sandbox.Faults{})
	h.start()
	h.waitEvent(60*time.Second, "the undo applied after the restart", func(l logLine) bool { return l.Job == undo.Job && l.Event == "applied" })

	c, _ := h.sb.API.Card(card)
	if c.Balance.CurrentNumberOfUses != 7 {
		t.Errorf("stamps after a stamp and its undo = %v, want 7", c.Balance.CurrentNumberOfUses)
	}
	marks := h.markers()
	if marks[pos.Marker("e2e", first.Job)] != 1 || marks[pos.Marker("e2e", undo.Job)] != 1 {
		t.Errorf("markers %v: want the stamp's and the undo's exactly once", marks)
	}
	var named bool
	for _, op := range h.sb.API.Operations() {
		named = named || op.Comment != nil && strings.Contains(*op.Comment, "undoes "+first.Job)
	}
	if !named {
		t.Error("no operation's comment names the job the undo takes back")
	}
}
