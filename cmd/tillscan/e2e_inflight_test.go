package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestE2E_KillWithRequestsInFlight kills the daemon (SIGKILL) while
// several requests are on the wire at once (worker.in_flight), in the two
// ways a request in flight can end: applied with its answer still coming,
// or not yet applied at the kill (the server applies it later, as it
// finishes what it received). After the restart every acknowledged scan must be
// applied exactly once and each card's scans in their order: the jobs
// left sending are reconciled by their markers, never re-sent blind.
func TestE2E_KillWithRequestsInFlight(t *testing.T) {
	const (
		cards   = 8
		slow    = 5 * time.Second // each request's answer time while the kill lands
		atLeast = 4               // requests that must be in flight at the kill
	)
	for _, tc := range []struct {
		name   string
		faults sandbox.Faults
	}{
		{"applied, answers still coming", sandbox.Faults{SlowBody: slow}},
		{"not yet applied", sandbox.Faults{Latency: slow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seed := manyStampCards(cards)
			h := newHarnessWith(t, harnessOptions{
				sandbox: sandbox.Options{Seed: seed},
				timeout: 3 * slow, // the answers are slow, not lost
				// The looks outlast the slow answers: the sandbox, like a
				// real server, applies what it received after the daemon
				// died, 5 s after it came. A job left sending is looked up
				// at once after the restart, then every settle; a till that
				// gave up looking sooner would send again and apply it
				// twice. settle × (looks − 1) = 6 s here; shipped, 60 s.
				config: "dedupe_window: -1s\nworker: {in_flight: 8, settle: 3s, looks: 3, retry_base: 200ms, retry_cap: 1s}\n",
			})
			h.start()
			// Each card once with quick answers, so the card is known and
			// each later scan costs one request: the action.
			for _, c := range seed.Cards {
				h.scanSaved(c.ID)
			}
			h.waitCount(time.Minute, "applied", cards)

			h.sb.API.SetFaults(tc.faults)
			before := h.sb.API.Stats().Requests
			for _, c := range seed.Cards { // two scans a card: the second waits behind the first
				h.scan(c.ID)
				h.scan(c.ID)
			}
			h.waitCount(30*time.Second, "saved", 3*cards)
			sent := time.Now()
			for h.sb.API.Stats().Requests-before < atLeast {
				if time.Since(sent) > slow/2 {
					t.Fatalf("%d requests on the wire %v after the scans, want %d before the first answer could come",
						h.sb.API.Stats().Requests-before, time.Since(sent), atLeast)
				}
				h.pump(10 * time.Millisecond)
			}
			inFlight := h.sb.API.Stats().Requests - before
			if time.Since(sent) >= slow {
				t.Fatalf("the kill came %v after the first send, when answers may have arrived", time.Since(sent))
			}
			h.kill()

			h.sb.API.SetFaults(sandbox.Faults{})
			restarted := time.Now()
			h.start()
			h.waitDrained(2 * time.Minute)
			saved := h.saved()
			if len(saved) != 3*cards {
				t.Fatalf("%d scans acknowledged, want %d", len(saved), 3*cards)
			}
			checkExactlyOnce(t, h, saved)
			checkCardOrder(t, h)
			t.Log(fmt.Sprintf("FIGURE case=%q in-flight-at-kill=%d acknowledged=%d drained-after-restart=%v events=%s",
				tc.name, inFlight, len(saved), time.Since(restarted).Round(100*time.Millisecond), h.eventCounts()))
		})
	}
}
