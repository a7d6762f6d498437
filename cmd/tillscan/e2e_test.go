//go:build linux

package main

// End-to-end tests of the daemon's behaviour (card types, crashes, reload,
// refusals, systemd). The harness and the exactly-once oracle they share
// are in e2e_harness_test.go.

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

func TestE2E_EveryCardTypeGetsTheRightCall(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "")
	h.start()
	tests := []struct {
		card  string
		sum   float64 // purchase sum entered before the scan; 0 = none
		event int     // the sandbox's eventId of the action we expect (apiclient/sandbox/effects.go)
	}{
		{"544256-439-856", 0, 1},   // stamp: add-stamp
		{"544256-439-857", 0, 7},   // stamp on visits mechanics: learned, add-visit
		{"612001-100-201", 20, 6},  // cashback: add-transaction-amount of the purchase
		{"612001-100-202", 0, 17},  // multipass: subtract-visit
		{"612001-100-203", 0, 43},  // coupon: redeem-coupon
		{"612001-100-204", 30, 5},  // discount: add-point
		{"612001-100-205", 10, 15}, // gift: subtract-point (pay with the gift balance)
		{"612001-100-206", 0, 17},  // membership with a daily limit: learned, subtract-visit (docs/api.md, "Card actions")
		{"612001-100-207", 0, 9},   // reward on points: add-scores
		{"612001-100-208", 15, 4},  // reward on spend: learned, add-purchase
	}
	for _, tt := range tests {
		if tt.sum != 0 {
			h.next("", tt.sum)
		}
		h.scan("https://wallet.example/c/" + tt.card + "?utm=till") // a QR code with a URL
		l := h.waitEvent(30*time.Second, "outcome for "+tt.card, func(l logLine) bool {
			return l.Card == tt.card && (l.Event == "applied" || l.Event == "rejected" || l.Event == "dead")
		})
		if l.Event != "applied" {
			t.Errorf("%s: %s %q, want applied", tt.card, l.Event, l.Message)
		}
	}
	if out, err := runCLI(t, nil, "status", "-c", h.config); err != nil || !strings.Contains(out, "reachable") || !strings.Contains(out, "10 applied") {
		t.Errorf("tillscan status = %q, %v; want healthy with 10 applied", out, err)
	}
	ops := h.sb.API.Operations()
	for _, tt := range tests {
		var got []int
		for _, op := range ops {
			if op.CardID == tt.card && op.Comment != nil && strings.Contains(*op.Comment, "tillscan:e2e:") {
				got = append(got, op.EventID)
			}
		}
		if len(got) != 1 || got[0] != tt.event {
			t.Errorf("%s: operations with our marker have eventIds %v, want exactly [%d]", tt.card, got, tt.event)
		}
	}
}

var killRounds = flag.Int("e2e.kills", 15, "how many times TestE2E_KillLoopWithDroppedAnswers kills the daemon; the long variant is -e2e.kills=200")

// TestE2E_KillLoopWithDroppedAnswers pulls the plug on the daemon again and
// again while scans keep arriving and the API drops the answer to 30 % of
// the actions it applied. Every acknowledged scan must end up applied
// exactly once, each card's in the order they were saved.
//
//	go test -run KillLoop -v ./cmd/tillscan/                                  # 15 kills
//	go test -run KillLoop -v -timeout 60m ./cmd/tillscan/ -args -e2e.kills=200 # the long variant
func TestE2E_KillLoopWithDroppedAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the daemon many times")
	}
	t.Parallel()
	const cards = 16 // fewer cards than scans: each card gets several, in order
	seed := manyStampCards(cards)
	h := newHarness(t, sandbox.Options{Seed: seed, RandSeed: 7}, `dedupe_window: -1s
worker: {settle: 500ms, looks: 2, retry_base: 200ms, retry_cap: 1s}
`)
	h.sb.API.SetFaults(sandbox.Faults{ApplyThenDropRate: 0.3, Latency: 20 * time.Millisecond})
	rnd := rand.New(rand.NewPCG(1, 2))
	written := 0
	began := time.Now()
	for range *killRounds {
		h.start()
		// Steady load: a scan every 40 ms until the plug is pulled, so the
		// kill lands mid-scan, mid-send, mid-reconciliation or idle.
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				h.dev.Write([]byte(seed.Cards[written%cards].ID + "\r\n"))
				written++
			}
		}()
		time.Sleep(time.Duration(200+rnd.IntN(600)) * time.Millisecond)
		h.kill()
		close(stop)
		<-done
	}
	h.sb.API.SetFaults(sandbox.Faults{})
	h.start()
	restarted := time.Now()
	// The backlog drains at the rate limit (10 requests a second), so the
	// bound grows with the scans written: 200 kills leave thousands.
	h.waitDrained(2*time.Minute + time.Duration(written)*200*time.Millisecond)
	drain := time.Since(restarted)
	saved := h.saved()
	if len(saved) == 0 {
		t.Fatal("no scan was acknowledged")
	}
	checkExactlyOnce(t, h, saved)
	checkCardOrder(t, h)
	t.Logf("FIGURE kills=%d scans-written=%d acknowledged=%d drain-after-last-restart=%v total=%v events=%s",
		*killRounds, written, len(saved), drain.Round(100*time.Millisecond), time.Since(began).Round(time.Second), h.eventCounts())
}

// BenchmarkDaemonIdle measures the idle cost of `tillscan run` with one
// serial scanner connected and the API reachable: CPU share and resident
// memory over a 20 s quiet period (b.N is ignored; run with -benchtime 1x).
//
//	go test -run '^$' -bench DaemonIdle -benchtime 1x ./cmd/tillscan/
func BenchmarkDaemonIdle(b *testing.B) {
	h := newHarness(b, sandbox.Options{}, "")
	h.start()
	h.scan("544256-439-856") // one real scan first, so the idle state is after work
	h.waitCount(30*time.Second, "applied", 1)
	pid := h.cmd.Process.Pid
	cpu0 := procCPU(b, pid)
	start := time.Now()
	b.ResetTimer()
	time.Sleep(20 * time.Second) // the quiet period being measured
	b.StopTimer()
	cpu := procCPU(b, pid) - cpu0
	b.ReportMetric(100*cpu.Seconds()/time.Since(start).Seconds(), "cpu-%")
	b.ReportMetric(float64(procRSS(b, pid))/(1<<20), "rss-MiB")
}

// procCPU is the user+system CPU time of process pid.
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// procRSS is the resident set size of process pid, in bytes.
func procRSS(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var n int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), &n)
			return n << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// TestE2E_Reload: SIGHUP (systemctl reload) swaps the rules without a
// restart, and a broken config leaves the old one running.
func TestE2E_Reload(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "")
	h.start()
	cfg, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	// A broken file first: the daemon must keep running on the old config.
	os.WriteFile(h.config, append(cfg, []byte("rules:\n  stamp: {action: redeem-coupon}\n")...), 0o600)
	h.reload()
	h.waitEvent(10*time.Second, "reload refused", func(l logLine) bool { return strings.HasPrefix(l.Message, "reload failed") })

	os.WriteFile(h.config, append(cfg, []byte("rules:\n  stamp: {action: add-stamp, quantity: 2}\n")...), 0o600)
	h.reload()
	h.waitEvent(10*time.Second, "reload", func(l logLine) bool { return strings.HasPrefix(l.Message, "config reloaded") })
	h.scan("544256-439-856")
	h.waitEvent(30*time.Second, "applied", func(l logLine) bool { return l.Event == "applied" })
	c, ok := h.sb.API.Card("544256-439-856")
	if !ok || c.Balance.CurrentNumberOfUses != 9 {
		t.Fatalf("stamp card after a scan with the reloaded rule: %+v, want 7+2 = 9 stamps", c.Balance)
	}
}

// TestE2E_RefusedScanHoldsNothing: a definite no is an answer, not a
// problem (issue 10). A redeem the API refuses (no reward to hand out) and a
// cashback card scanned without its purchase sum are refused at once, with
// the reason; the card's next scan is applied, not held behind them; the
// status does not call them a problem.
func TestE2E_RefusedScanHoldsNothing(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "dedupe_window: -1s\n")
	h.start()
	refusedThenApplied := func(card string, sum float64) {
		t.Helper()
		l := h.waitEvent(30*time.Second, "outcome of "+card, func(l logLine) bool {
			return l.Card == card && (l.Event == "refused" || l.Event == "applied" || l.Event == "dead")
		})
		if l.Event != "refused" || l.Message == "" {
			t.Fatalf("%s: %s %q, want refused with the reason", card, l.Event, l.Message)
		}
		if sum > 0 {
			h.next("", sum)
		}
		h.scan(card)
		l = h.waitEvent(30*time.Second, "outcome of "+card, func(l logLine) bool {
			return l.Card == card && (l.Event == "refused" || l.Event == "applied" || l.Event == "dead")
		})
		if l.Event != "applied" {
			t.Fatalf("%s after a refusal: %s %q, want applied", card, l.Event, l.Message)
		}
	}
	h.next("redeem", 0)
	h.scan("544256-439-856") // 7/10 stamps, no reward ready: refused by the API
	refusedThenApplied("544256-439-856", 0)
	h.scan("612001-100-201") // cashback without a purchase sum: refused at the till
	refusedThenApplied("612001-100-201", 20)
	if out, err := runCLI(t, nil, "status", "-c", h.config); err != nil {
		t.Errorf("tillscan status after two refusals = %q, %v; want healthy (a refusal is not a problem)", out, err)
	}
	out, err := runCLI(t, nil, "queue", "list", "-c", h.config, "--state", "dead")
	if err != nil || strings.Contains(out, "544256") || strings.Contains(out, "612001") {
		t.Errorf("queue list --state dead = %q, %v; want no dead job", out, err)
	}
}

// TestE2E_SystemdNotify: READY=1 comes once the daemon accepts scans, a
// STATUS= line says what it is doing, and STOPPING=1 comes on SIGTERM.
func TestE2E_SystemdNotify(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "")
	sock := filepath.Join(h.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	h.env = []string{"NOTIFY_SOCKET=" + sock}
	h.start()
	var seen []string // in arrival order; STATUS may come before READY
	want := func(prefix string) string {
		t.Helper()
		for _, m := range seen {
			if strings.HasPrefix(m, prefix) {
				return m
			}
		}
		deadline := time.After(30 * time.Second)
		for {
			select {
			case m := <-msgs:
				seen = append(seen, m)
				if strings.HasPrefix(m, prefix) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s from the daemon; got %q", prefix, seen)
			}
		}
	}
	want("READY=1")
	if st := want("STATUS="); !strings.Contains(st, "scanners") || !strings.Contains(st, "waiting") {
		t.Errorf("status line %q does not say scanners and backlog", st)
	}
	h.stop()
	want("STOPPING=1")
}
