package queue_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/deploy/vmtest"
)

var (
	powercutRounds = flag.Int("powercut.rounds", 5, "power cuts of TestQEMU_QueuePowerCut (e.g. 50 for the long run, with -timeout 0)")
	powercutSeed   = flag.Uint64("powercut.seed", 0, "seed of TestQEMU_QueuePowerCut's cut timing and child choices; 0 picks one")
)

// The queue's crash child and checker (queue/crash_test.go) print these;
// the host keeps every such line, in order, as the history the next
// checker replays. The patterns are exact (26-character ULIDs, one-letter
// cards, the queue's state names, none a prefix of another), so a line cut
// short by the power cut, or garbled by a kernel message, matches none of
// them and is left out: the history then knows less, never something false.
var (
	historyRe  = regexp.MustCompile(`^(?:READY|(?:ACK|SENT) [0-9A-Z]{26} [A-Z]|(?:DONE|DROP) [0-9A-Z]{26}|FILE [0-9A-Z]{26} [A-Z] (?:pending|sending|ambiguous|dead|done|dropped))$`)
	ackRe      = regexp.MustCompile(`^ACK [0-9A-Z]{26} [A-Z]$`)
	doneRe     = regexp.MustCompile(`^DONE [0-9A-Z]{26}$`)
	verdictRe  = regexp.MustCompile(`^(VERIFIED|VERIFY FAILED:|` + regexp.QuoteMeta(vmtest.FailedPrefix) + `)(.*)$`)
	drainedRe  = regexp.MustCompile(`^(DRAINED|VERIFY FAILED:)(.*)$`)
	mountedRe  = regexp.MustCompile(`^` + regexp.QuoteMeta(vmtest.MountedLine) + `$`)
	queueTests = vmtest.Program{Pkg: "./queue", Test: true}
)

// powercutAcks is how many jobs a round's child must have acknowledged
// before the cut may come, so it lands mid-work rather than during start-up.
const powercutAcks = 20

// TestQEMU_QueuePowerCut proves that an acknowledged scan survives a power
// cut, which TestCrash's kill -9 cannot: after a kill -9 the kernel's page
// cache still holds every write, fsync'd or not.
//
// The queue's own test binary runs in a Debian guest on an ext4 virtio
// disk, as its crash child: enqueueing and completing jobs and printing
// each fact (ACK, SENT, DONE, DROP) only once the queue call returned. The
// host SIGKILLs QEMU at a random moment after a round's child has
// acknowledged powercutAcks jobs (one cut in four lands in the next boot's
// recovery instead: Open, the check, its prune). That drops the guest's page cache (what
// the guest had not yet written to its disk) while the disk keeps what the
// guest wrote: a power cut as the guest sees it. The next boot mounts the
// same image (ext4 replays its journal) and first runs the checker: it
// replays everything earlier guests printed into TestCrash's oracle and
// verifies the file as after a kill -9 (no acknowledged job lost, nothing
// reported done or dropped came back, nothing left sending, Check passes,
// per-card order held), then a new child works until the next cut. After
// the last cut the checker also drains the queue and has it take one more
// job (liveness).
//
// The disk is vmtest.WritebackDrive (which says what a power cut of it can
// and cannot show): the test catches a missing fsync (data left in the
// guest's page cache), not a disk or kernel that ignores flushes.
func TestQEMU_QueuePowerCut(t *testing.T) {
	a := vmtest.Require(t)
	seed := *powercutSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -powercut.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	bin := vmtest.Build(t, queueTests)
	img := vmtest.NewDisk(t, 64<<20)

	var history []string // every historyRe line so far, in order
	acked, done := 0, 0
	plan := vmtest.PowerCuts{Cuts: *powercutRounds, RecoveryWithin: 600 * time.Millisecond, WorkWithin: 300 * time.Millisecond}
	early := plan.Run(t, rng, seed, func(t *testing.T, b vmtest.Boot) {
		lines := powercutBoot(t, a, bin, img, history, b)
		for _, l := range lines {
			switch {
			case ackRe.MatchString(l):
				acked++
			case doneRe.MatchString(l):
				done++
			}
		}
		history = append(history, lines...)
	})
	t.Logf("%d power cuts (%d during recovery): %d jobs acknowledged, %d reported done; after each cut none lost, none undone, nothing left sending; then the queue drained and took new work",
		*powercutRounds, early, acked, done)
}

// powercutBoot boots the guest once on img. Unless this is round 0, the
// checker runs first on the history. Unless final, the crash child then
// runs (seeded with b.Seed), and QEMU is SIGKILLed as b says: b.CutDelay
// after the disk is mounted if b.Early, else after the powercutAcks'th
// ack. It returns the history lines the guest printed.
func powercutBoot(t *testing.T, a vmtest.Assets, bin []byte, img string, history []string, b vmtest.Boot) []string {
	t.Helper()
	round, final := b.Round, b.Final
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	files := []vmtest.GuestFile{
		{Path: "/bin/queue.test", Mode: 0o755, Data: bin},
		{Path: "/bin/powercut", Mode: 0o755, Data: []byte(powercutScript(b.Seed, round > 0, final))},
	}
	if round > 0 {
		files = append(files, vmtest.GuestFile{Path: "/history", Mode: 0o644, Data: []byte(strings.Join(history, "\n") + "\n")})
	}
	v, err := vmtest.Start(t, ctx, vmtest.Config{
		Assets:   a,
		Accel:    vmtest.Accelerator(),
		Modules:  vmtest.DiskModules(),
		Files:    files,
		Commands: []string{"/bin/powercut"},
		Drives:   []string{vmtest.WritebackDrive(img)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Early {
		if err := v.WaitLines(ctx, mountedRe, 1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(b.CutDelay) // the random moment, as below
		if err := v.PowerCut(); err != nil {
			t.Fatal(err)
		}
		verdict := "before the checker's verdict"
		for _, m := range v.Lines(verdictRe) {
			if m[1] != "VERIFIED" {
				t.Fatalf("after power cut %d: %s%s", round, m[1], m[2])
			}
			verdict = "after " + m[0]
		}
		t.Logf("power cut %d: during recovery, %d ms after mount, %s; %d acks seen this boot",
			round+1, b.CutDelay.Milliseconds(), verdict, len(v.Lines(ackRe)))
		return historyLines(v)
	}
	if round > 0 {
		m, err := v.Expect(ctx, verdictRe)
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != "VERIFIED" {
			t.Fatalf("after power cut %d: %s%s", round, m[1], m[2])
		}
		t.Logf("after power cut %d: %s", round, m[0])
	}
	if final {
		m, err := v.Expect(ctx, drainedRe)
		if err != nil {
			t.Fatal(err)
		}
		if m[1] != "DRAINED" {
			t.Fatalf("final check: %s%s", m[1], m[2])
		}
		if err := v.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		return historyLines(v)
	}
	if err := v.WaitLines(ctx, ackRe, powercutAcks); err != nil {
		t.Fatal(err)
	}
	// Not synchronisation: the random delay is the point, so that the cut
	// falls anywhere in the child's enqueue/complete cycle.
	time.Sleep(b.CutDelay)
	if err := v.PowerCut(); err != nil {
		t.Fatal(err)
	}
	t.Logf("power cut %d: %.1fs after boot, %d ms after ack %d; %d acks seen this boot",
		round+1, v.Elapsed().Seconds(), b.CutDelay.Milliseconds(), powercutAcks, len(v.Lines(ackRe)))
	return historyLines(v)
}

// historyLines is every console line so far that the history keeps.
func historyLines(v *vmtest.VM) []string {
	var out []string
	for _, m := range v.Lines(historyRe) {
		out = append(out, m[0])
	}
	return out
}

// powercutScript is the guest's program: mount the disk, run the checker
// when there is a history, then the crash child (or, in the final boot,
// nothing more). Its own failures print vmtest.FailedPrefix.
func powercutScript(seed uint64, check, final bool) string {
	var b strings.Builder
	b.WriteString(vmtest.MountScript(""))
	b.WriteString(`export TILLSCAN_QUEUE_CRASH_CHILD=/mnt/queue.db
`)
	if check {
		drain := ""
		if final {
			drain = "1"
		}
		fmt.Fprintf(&b, "TILLSCAN_QUEUE_CRASH_HISTORY=/history TILLSCAN_QUEUE_CRASH_DRAIN=%s /bin/queue.test -test.run='^$' || exit 1\n", drain)
	}
	if final {
		b.WriteString("umount /mnt\n")
	} else {
		fmt.Fprintf(&b, "TILLSCAN_QUEUE_CRASH_SEED=%d exec /bin/queue.test -test.run='^$'\n", seed)
	}
	return b.String()
}

// A line the power cut ends early must not enter the history as a
// different fact: no proper prefix of a line the guest prints matches.
func TestHistoryReRejectsCutLines(t *testing.T) {
	const id = "01M8A45A4WABNCFC48CAXWMSXE"
	lines := []string{"READY", "ACK " + id + " A", "SENT " + id + " F", "DONE " + id, "DROP " + id}
	for _, st := range []string{"pending", "sending", "ambiguous", "dead", "done", "dropped"} {
		lines = append(lines, "FILE "+id+" Z "+st)
	}
	for _, l := range lines {
		if !historyRe.MatchString(l) {
			t.Errorf("historyRe does not match %q", l)
		}
		for n := range len(l) {
			if historyRe.MatchString(l[:n]) {
				t.Errorf("historyRe matches %q, cut short from %q", l[:n], l)
			}
		}
	}
	for _, l := range []string{"VERIFIED 3 acknowledged", "ACK " + id + " A[   3.1] EXT4-fs", "FILE " + id + " A pend"} {
		if historyRe.MatchString(l) {
			t.Errorf("historyRe matches %q", l)
		}
	}
}
