//go:build linux

package main

// End-to-end tests: the real tillscan binary, a real pty acting as a serial
// scanner, and the sandbox API on loopback. They observe the daemon through
// its JSON log lines and the sandbox's operations log, never by sleeping.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/scanner/scannertest"
)

var showLog = flag.Bool("e2e.log", false, "log every daemon line of every end-to-end test, not only the last 80 of a failed one")

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tillscanBinary builds the real daemon once per test run.
func tillscanBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the daemon (skipped with -short)")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tillscan-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tillscan")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// logLine is one JSON log line of the daemon.
type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Event   string `json:"event"`
	Card    string `json:"card"`
	Job     string `json:"job"`
	raw     string
}

// harness runs the daemon against a sandbox and a fake serial scanner.
type harness struct {
	t      testing.TB
	bin    string
	sb     *sandbox.Server
	dev    *scannertest.Device
	dir    string
	config string
	status string   // host:port of the status API
	env    []string // extra environment for the daemon

	mu      sync.Mutex // guards what follows
	cmd     *exec.Cmd
	lines   chan logLine // the running daemon's log, closed when it exits
	exit    chan error
	all     []logLine                  // every line of every run, for the failure report
	jobs    map[string]map[string]bool // event kind → job ids, over every run
	changed chan struct{}              // a line arrived (capacity 1)
}

// harnessOptions shape one harness; the zero value is the demo sandbox
// with the default config.
type harnessOptions struct {
	sandbox sandbox.Options
	config  string        // extra top-level YAML appended to the config
	timeout time.Duration // api.timeout; 0 means 2s
	// via, if set, returns the base URL the daemon should use to reach
	// the sandbox (through a fault-injecting proxy).
	via func(sb *sandbox.Server) string
}

func newHarness(t testing.TB, opts sandbox.Options, extraConfig string) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{sandbox: opts, config: extraConfig})
}

func newHarnessWith(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, bin: tillscanBinary(t), dir: t.TempDir(), jobs: map[string]map[string]bool{}, changed: make(chan struct{}, 1)}
	var err error
	h.sb, err = sandbox.NewServer(o.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.sb.Close)
	h.dev = scannertest.NewDevice(t, filepath.Join(h.dir, "usb-Fake_Scanner-if00"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.status = ln.Addr().String()
	ln.Close()
	baseURL := h.sb.URL
	if o.via != nil {
		baseURL = o.via(h.sb)
	}
	if o.timeout == 0 {
		o.timeout = 2 * time.Second
	}
	h.config = filepath.Join(h.dir, "tillscan.yaml")
	cfg := fmt.Sprintf(`till_id: e2e
state_dir: %s
log: {level: info, format: json}
api:
  base_url: %s
  timeout: %s
scanners:
  - name: counter
    type: serial
    path: %s
    baud: 9600
    terminator: crlf
status:
  listen: %s
%s`, filepath.Join(h.dir, "state"), baseURL, o.timeout, h.dev.Path, h.status, o.config)
	if err := os.WriteFile(h.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.stop()
		if t.Failed() || *showLog {
			h.mu.Lock()
			defer h.mu.Unlock()
			n := 80
			if *showLog {
				n = len(h.all)
			}
			for _, l := range h.all[max(0, len(h.all)-n):] {
				t.Log("daemon:", l.raw)
			}
		}
	})
	return h
}

// start runs the daemon and returns once it logged that it accepts scans.
func (h *harness) start() {
	h.t.Helper()
	cmd := exec.Command(h.bin, "run", "--config", h.config)
	cmd.Env = append(append(os.Environ(), "TILLSCAN_API_KEY="+sandbox.DemoAPIKey), h.env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	lines := make(chan logLine, 4096)
	exit := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			var l logLine
			l.raw = sc.Text()
			json.Unmarshal(sc.Bytes(), &l)
			h.mu.Lock()
			h.all = append(h.all, l)
			if l.Event != "" && l.Job != "" {
				if h.jobs[l.Event] == nil {
					h.jobs[l.Event] = map[string]bool{}
				}
				h.jobs[l.Event][l.Job] = true
			}
			h.mu.Unlock()
			select {
			case h.changed <- struct{}{}:
			default:
			}
			if strings.HasPrefix(l.Message, "ready") {
				once.Do(func() { close(ready) })
			}
			lines <- l
		}
		close(lines)
		exit <- cmd.Wait()
	}()
	h.mu.Lock()
	h.cmd, h.lines, h.exit = cmd, lines, exit
	h.mu.Unlock()
	select {
	case <-ready:
	case err := <-exit:
		h.t.Fatalf("daemon exited before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		h.t.Fatal("daemon not ready after 30s")
	}
}

// kill stops the daemon with SIGKILL, as a crash or power cut would.
func (h *harness) kill() { h.signal(syscall.SIGKILL) }

// stop stops the daemon with SIGTERM and waits for it.
func (h *harness) stop() { h.signal(syscall.SIGTERM) }

// reload sends SIGHUP, as systemctl reload does, and returns at once.
func (h *harness) reload() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		h.t.Fatal("reload: the daemon is not running")
	}
	h.cmd.Process.Signal(syscall.SIGHUP)
}

// signal sends a signal that ends the daemon and waits for it to exit.
func (h *harness) signal(sig syscall.Signal) {
	h.mu.Lock()
	cmd, exit := h.cmd, h.exit
	h.cmd = nil
	h.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	for range h.lines { // drain so the reader goroutine can finish
	}
	<-exit
}

// scan types one scan into the fake scanner.
func (h *harness) scan(text string) {
	h.t.Helper()
	if _, err := h.dev.Write([]byte(text + "\r\n")); err != nil {
		h.t.Fatal(err)
	}
}

// waitEvent reads the log until match returns true.
func (h *harness) waitEvent(timeout time.Duration, what string, match func(logLine) bool) logLine {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				h.t.Fatalf("daemon exited while waiting for %s", what)
			}
			if match(l) {
				return l
			}
		case <-deadline:
			h.t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// count returns how many distinct jobs had the event, over every run.
func (h *harness) count(event string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.jobs[event])
}

// waitCount waits until n distinct jobs had the event. Use it when the
// daemon is running and its log is not being read with waitEvent.
func (h *harness) waitCount(timeout time.Duration, event string, n int) {
	h.t.Helper()
	deadline := time.After(timeout)
	for h.count(event) < n {
		select {
		case <-h.changed:
		case l, ok := <-h.lines: // keep the pipe flowing
			if !ok {
				h.t.Fatalf("daemon exited while waiting for %d %s events (have %d)", n, event, h.count(event))
			}
			_ = l
		case <-deadline:
			h.t.Fatalf("%d of %d jobs %s after %v", h.count(event), n, event, timeout)
		}
	}
}

// next sets the next scan's mode and purchase sum through the status API.
func (h *harness) next(mode string, sum float64) {
	h.t.Helper()
	body := fmt.Sprintf(`{"mode":%q}`, mode)
	if sum > 0 {
		body = fmt.Sprintf(`{"mode":%q,"purchase_sum":%g}`, mode, sum)
	}
	resp, err := http.Post("http://"+h.status+"/api/v1/next", "application/json", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		h.t.Fatalf("POST /api/v1/next %s = %d %s", body, resp.StatusCode, b)
	}
}

// markers counts the sandbox's operations per tillscan marker.
func (h *harness) markers() map[string]int {
	m := map[string]int{}
	for _, op := range h.sb.API.Operations() {
		if op.Comment == nil {
			continue
		}
		for _, w := range strings.Fields(*op.Comment) {
			if strings.HasPrefix(w, "tillscan:e2e:") {
				m[w]++
			}
		}
	}
	return m
}

func TestE2E_EveryCardTypeGetsTheRightCall(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "")
	h.start()
	tests := []struct {
		card  string
		sum   float64 // purchase sum entered before the scan; 0 = none
		event int     // the sandbox's eventId of the action we expect (apiclient/sandbox/actions.go)
	}{
		{"544256-439-856", 0, 1},   // stamp: add-stamp
		{"544256-439-857", 0, 7},   // stamp on visits mechanics: learned, add-visit
		{"612001-100-201", 20, 6},  // cashback: add-transaction-amount of the purchase
		{"612001-100-202", 0, 17},  // multipass: subtract-visit
		{"612001-100-203", 0, 43},  // coupon: redeem-coupon
		{"612001-100-204", 30, 5},  // discount: add-point
		{"612001-100-205", 10, 15}, // gift: subtract-point (pay with the gift balance)
		{"612001-100-206", 0, 17},  // membership with a daily limit: learned, subtract-visit (notes/api.md §1)
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
	h.waitDrained(2 * time.Minute)
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

// waitDrained polls the status API until the queue has nothing left to
// send: the daemon has no "drained" event to wait on.
func (h *harness) waitDrained(timeout time.Duration) {
	h.t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !h.drained() {
		select {
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("queue not drained after %v", timeout)
		}
	}
}

// drained reports whether the daemon's queue has nothing left to send.
func (h *harness) drained() bool {
	resp, err := http.Get("http://" + h.status + "/api/v1/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Queue struct{ Depth map[string]int } `json:"queue"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	d := st.Queue.Depth
	return d["pending"]+d["sending"]+d["ambiguous"] == 0
}

// checkExactlyOnce: every acknowledged job's marker is in the sandbox's
// operations log exactly once, and no marker appears twice.
func checkExactlyOnce(t *testing.T, h *harness, saved map[string]bool) {
	t.Helper()
	m := h.markers()
	for job := range saved {
		if n := m["tillscan:e2e:"+job]; n != 1 {
			t.Errorf("job %s: applied %d times, want exactly once", job, n)
		}
	}
	for marker, n := range m {
		if n != 1 {
			t.Errorf("%s applied %d times", marker, n)
		}
	}
	st := h.sb.API.Stats()
	t.Logf("%d scans acknowledged, %d markers applied; sandbox: %d requests, %d answered 429", len(saved), len(m), st.Requests, st.RateLimited)
}

// manyStampCards is a seed with n plain stamp cards.
func manyStampCards(n int) *sandbox.Seed {
	s := &sandbox.Seed{Templates: []sandbox.Template{{ID: 1, CompanyID: 1, Name: "Coffee", Type: 0, StampsPerReward: 1000}}}
	for i := range n {
		s.Cards = append(s.Cards, sandbox.Card{ID: fmt.Sprintf("700%03d-%03d-%03d", i/1000000, (i/1000)%1000, i%1000), TemplateID: 1, CompanyID: 1, Type: "stamp"})
	}
	return s
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
