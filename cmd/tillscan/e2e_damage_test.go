//go:build linux

package main

// The daemon-level damaged-file campaign: the real daemon writes a queue
// file with known content (scans applied, then scans saved while the API is
// out), is stopped, and then, round after round, starts on a randomly
// damaged copy of that file with the API back. Whatever the damage, the
// daemon starts (it never crash-loops), says what it found (a log line and
// a problem on the status API), applies every acknowledged job whose bytes
// the damage did not touch exactly once, and never re-sends a job that was
// already applied.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/queue/queuetest"
)

var (
	damageRounds = flag.Int("e2e.damage.rounds", 8, "rounds of TestE2E_DamagedQueueFile (one random corruption each); the long variant is -e2e.damage.rounds=200")
	damageSeed   = flag.Uint64("e2e.damage.seed", 0, "seed of TestE2E_DamagedQueueFile's corruptions; 0 picks one (it is logged)")
)

// queueTemplate is the known queue file and what is in it.
type queueTemplate struct {
	queuetest.File
	state   map[string][]byte // the other files of the state directory (the card cache)
	applied map[string]bool   // jobs applied before the file was damaged
	waiting map[string]bool   // jobs saved while the API was out
	card    map[string]string // job id → card number
}

// TestE2E_DamagedQueueFile runs the campaign.
//
//	go test -run DamagedQueueFile -v ./cmd/tillscan/                                        # 8 rounds
//	go test -run DamagedQueueFile -v -timeout 60m ./cmd/tillscan/ -args -e2e.damage.rounds=200
func TestE2E_DamagedQueueFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the daemon once per corruption")
	}
	t.Parallel()
	seed := *damageSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -args -e2e.damage.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	h := newHarness(t, sandbox.Options{Seed: manyStampCards(6)}, faultWorker)
	tp := buildQueueTemplate(t, h)
	stateDir := filepath.Join(h.dir, "state")
	outcomes := map[string]int{}
	var damagedSent, wrongCard int
	for round := range *damageRounds {
		d := tp.Damage(rng, slices.Sorted(maps.Keys(tp.waiting)))
		bad, what, pages := d.Data, d.What, d.Pages
		// What the queue itself makes of this file, on a copy: the daemon
		// must say the same.
		expect := queueVerdict(t, bad)
		installState(t, stateDir, tp, bad)
		opsBefore := len(h.sb.API.Operations())
		linesBefore := h.lineCount()
		h.start() // fails the test if the daemon exits before it is ready
		h.waitDrained(time.Minute)
		h.checkAlive()
		problems := h.problems()
		ops := h.sb.API.Operations()[opsBefore:]
		h.stop()

		fail := func(format string, args ...any) {
			t.Errorf("round %d (%s; queue: %s): %s", round, what, expect, fmt.Sprintf(format, args...))
		}
		moved, _ := filepath.Glob(filepath.Join(stateDir, "queue.db.corrupt-*"))
		switch {
		case len(moved) == 1:
			outcomes["moved aside"]++
			if b, err := os.ReadFile(moved[0]); err != nil || !bytes.Equal(b, bad) {
				fail("the file moved aside is not the damaged file byte for byte (%v)", err)
			}
		case len(moved) > 1:
			fail("%d files moved aside, want at most one", len(moved))
		case expect.String() == "clean":
			outcomes["accepted unchanged"]++
		default:
			outcomes["repaired or quarantined"]++
		}
		if expect.String() != "clean" {
			if len(problems) == 0 {
				fail("the status API shows no problem")
			}
			if !h.loggedSince(linesBefore, func(l logLine) bool { return l.Level == "error" || l.Level == "warn" }) {
				fail("no warning or error in the log")
			}
		}
		sent := map[string]int{} // job id → actions with its marker this round
		for _, op := range ops {
			if op.Comment == nil {
				continue
			}
			for _, w := range strings.Fields(*op.Comment) {
				if job, ok := strings.CutPrefix(w, "tillscan:e2e:"); ok {
					sent[job]++
					if c, known := tp.card[job]; known && c != op.CardID {
						wrongCard++
						t.Logf("round %d (%s): job %s of card %s applied to card %s", round, what, job, c, op.CardID)
					}
				}
			}
		}
		for job, n := range sent {
			if n > 1 {
				fail("job %s applied %d times", job, n)
			}
		}
		for job := range tp.applied {
			if sent[job] > 0 {
				if pages[tp.Page(job)] {
					damagedSent++
					t.Logf("round %d (%s): already applied job %s, whose page was damaged, was sent again", round, what, job)
				} else {
					fail("already applied job %s (undamaged) sent again", job)
				}
			}
		}
		if len(moved) == 0 {
			for job := range tp.waiting {
				if !pages[tp.Page(job)] && sent[job] != 1 {
					fail("undamaged waiting job %s applied %d times, want exactly once", job, sent[job])
				}
			}
		}
	}
	t.Logf("FIGURE damage rounds=%d outcomes=%v damaged-applied-job-resent=%d applied-to-another-card=%d seed=%d",
		*damageRounds, outcomes, damagedSent, wrongCard, seed)
}

// buildQueueTemplate has the real daemon write the known file: a scan of
// every card applied, then two scans of every card saved while the API is
// out. It returns the file compacted (each record once, no stale copies in
// free pages), so a record's bytes locate its page.
func buildQueueTemplate(t *testing.T, h *harness) queueTemplate {
	t.Helper()
	h.start()
	for _, c := range h.sb.API.Cards() {
		h.scanSaved(c.ID)
	}
	h.waitCount(time.Minute, "applied", len(h.sb.API.Cards()))
	tp := queueTemplate{applied: h.saved(), waiting: map[string]bool{}, state: map[string][]byte{}, card: map[string]string{}}
	h.sb.Outage(time.Hour)
	for range 2 {
		for _, c := range h.sb.API.Cards() {
			h.scanSaved(c.ID)
		}
	}
	h.stop()
	if err := h.sb.Restore(); err != nil {
		t.Fatal(err)
	}
	for j := range h.saved() {
		if !tp.applied[j] {
			tp.waiting[j] = true
		}
	}
	stateDir := filepath.Join(h.dir, "state")
	var err error
	if tp.File, err = queuetest.Load(filepath.Join(stateDir, "queue.db"), t.TempDir()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), "queue.db") {
			if tp.state[e.Name()], err = os.ReadFile(filepath.Join(stateDir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for id, r := range tp.Record {
		var rec struct {
			Scan struct{ Card string } `json:"scan"`
			Card string                `json:"card"`
		}
		_ = json.Unmarshal(tp.Data[r[0]:r[1]], &rec)
		tp.card[id] = rec.Card + rec.Scan.Card
	}
	for j := range h.saved() {
		if _, ok := tp.Record[j]; !ok {
			t.Fatalf("acknowledged job %s is not in the queue file", j)
		}
	}
	return tp
}

// installState makes stateDir hold the template's other files and queue
// as its queue file, and nothing else.
func installState(t *testing.T, stateDir string, tp queueTemplate, queue []byte) {
	t.Helper()
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, b := range tp.state {
		if err := os.WriteFile(filepath.Join(stateDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(stateDir, "queue.db"), queue, 0o600); err != nil {
		t.Fatal(err)
	}
}

// verdict is what the queue package itself finds in a damaged file.
type verdict struct {
	moved       bool
	repaired    int
	quarantined int
	openErr     error
}

func (v verdict) String() string {
	switch {
	case v.openErr != nil:
		return "open failed: " + v.openErr.Error()
	case v.moved:
		return "moved aside"
	case v.repaired > 0 || v.quarantined > 0:
		return fmt.Sprintf("%d repairs, %d quarantined", v.repaired, v.quarantined)
	}
	return "clean"
}

// queueVerdict opens a copy of the damaged file with the queue package, as
// the daemon will, and says what it found.
func queueVerdict(t *testing.T, bad []byte) verdict {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.db")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		return verdict{openErr: err}
	}
	defer q.Close()
	moved, _ := q.Recovered()
	st, err := q.Stats(time.Now())
	if err != nil {
		return verdict{openErr: err}
	}
	return verdict{moved: moved != "", repaired: len(q.Repaired()), quarantined: st.Quarantined}
}

// TestE2E_DamagedCardNumber: one bit flipped in a waiting job's card number
// turns it into another card of the shop ("…-001" → "…-000"). The record is
// still valid JSON with a valid card number, but it is damaged: the daemon
// must not apply that scan to the other card, and must say so. It failed
// until the queue quarantined a record whose card disagrees with its history
// index (found by the 200-round damage campaign).
//
//	go test -run DamagedCardNumber -v ./cmd/tillscan/
func TestE2E_DamagedCardNumber(t *testing.T) {
	h := newHarness(t, sandbox.Options{Seed: manyStampCards(6)}, faultWorker)
	tp := buildQueueTemplate(t, h)
	var victim string
	for job := range tp.waiting {
		if tp.card[job] == "700000-000-001" {
			victim = job
			break
		}
	}
	if victim == "" {
		t.Fatal("no waiting job of card 700000-000-001 in the template")
	}
	bad := bytes.Clone(tp.Data)
	rec := tp.Record[victim]
	field := bytes.Index(bad[rec[0]:rec[1]], []byte(`"card":"700000-000-001"`))
	if field < 0 {
		t.Fatal("the victim's record has no card field")
	}
	bad[rec[0]+field+len(`"card":"700000-000-00`)] ^= 1 // '1' → '0'
	installState(t, filepath.Join(h.dir, "state"), tp, bad)
	opsBefore := len(h.sb.API.Operations())
	h.start()
	h.waitDrained(time.Minute)
	problems := h.problems()
	for _, op := range h.sb.API.Operations()[opsBefore:] {
		if op.Comment != nil && strings.Contains(*op.Comment, victim) {
			t.Errorf("the damaged job %s was applied to card %s (it was scanned on 700000-000-001)", victim, op.CardID)
		}
	}
	if len(problems) == 0 {
		t.Error("the status API shows no problem")
	}
}
