//go:build linux

package main

// The one end-to-end harness: the real tillscan binary, a real pty acting as
// a serial scanner, and the sandbox API on loopback. Tests observe the daemon
// through its JSON log lines (level, message, event, card, job), its status
// API and the sandbox's operations log, never by sleeping for an outcome.
// The oracle of every exactly-once test is here too.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner/scannertest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

var adaptive = flag.Bool("e2e.adaptive", true, "every end-to-end daemon runs with api.adaptive: true (the adaptive send rate of issue 11, the product's default); -e2e.adaptive=false tests the fixed rate")

// e2eToken is the daemon's POS token (status.token_file) in every test.
const e2eToken = "e2e-pos-token-0123456789abcdef"

var showLog = flag.Bool("e2e.log", false, "log every daemon line of every end-to-end test, not only the last 80 of a failed one")

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
	URL     string `json:"url"` // the "status page" line's address
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
	env    []string // extra environment for the daemon
	// logDelay makes the reader of the daemon's log slow (a pause per
	// line), like journald under load or a pipe read at 80 KB/s.
	logDelay time.Duration

	mu      sync.Mutex // guards what follows
	cmd     *exec.Cmd
	lines   chan logLine               // the running daemon's log, closed when it exits
	exited  chan struct{}              // closed once the running daemon has exited; exitErr is then set
	exitErr error                      // cmd.Wait's result, read only after exited is closed
	status  string                     // host:port of the running daemon's status API, from its log
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
	// logDelay is the harness's logDelay: a slow log sink.
	logDelay time.Duration
}

func newHarness(t testing.TB, opts sandbox.Options, extraConfig string) *harness {
	t.Helper()
	return newHarnessWith(t, harnessOptions{sandbox: opts, config: extraConfig})
}

func newHarnessWith(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, bin: tillscanBinary(t), dir: t.TempDir(), jobs: map[string]map[string]bool{}, changed: make(chan struct{}, 1), logDelay: o.logDelay}
	var err error
	h.sb, err = sandbox.NewServer(o.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.sb.Close)
	h.dev = scannertest.NewDevice(t, filepath.Join(h.dir, "usb-Fake_Scanner-if00"))
	baseURL := h.sb.URL
	if o.via != nil {
		baseURL = o.via(h.sb)
	}
	if o.timeout == 0 {
		o.timeout = 2 * time.Second
	}
	// The POS endpoints (POST /api/v1/next) need a bearer token from a file.
	tokenFile := filepath.Join(h.dir, "pos-token")
	if err := os.WriteFile(tokenFile, []byte(e2eToken+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	h.config = filepath.Join(h.dir, "tillscan.yaml")
	// The status API listens on a port the kernel picks when the daemon
	// starts, learned from its "status page" line. A port reserved here
	// (listen, close, write it in the config) can be handed to another
	// listener before the daemon binds it: the fault proxy once got it,
	// and the daemon exited at start with "address already in use".
	cfg := fmt.Sprintf(`till_id: e2e
state_dir: %s
log: {level: info, format: json}
api:
  base_url: %s
  timeout: %s
  adaptive: %t
scanners:
  - name: counter
    type: serial
    path: %s
    baud: 9600
    terminator: crlf
status:
  listen: 127.0.0.1:0
  token_file: %s
%s`, filepath.Join(h.dir, "state"), baseURL, o.timeout, *adaptive, h.dev.Path, tokenFile, o.config)
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
	exited := make(chan struct{})
	ready := make(chan string, 1) // the status API's address, once the daemon is ready
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		status := ""
		for sc.Scan() {
			time.Sleep(h.logDelay)
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
			switch {
			case l.Message == "status page":
				status = strings.TrimSuffix(strings.TrimPrefix(l.URL, "http://"), "/")
			case strings.HasPrefix(l.Message, "ready"):
				select {
				case ready <- status:
				default: // a second "ready" line
				}
			}
			lines <- l
		}
		close(lines)
		err := cmd.Wait()
		h.mu.Lock()
		h.exitErr = err
		h.mu.Unlock()
		close(exited)
	}()
	h.mu.Lock()
	h.cmd, h.lines, h.exited, h.status = cmd, lines, exited, ""
	h.mu.Unlock()
	// Every outcome is read without consuming anything: a failed start's
	// cleanup (stop) waits on the same exited channel.
	select {
	case status := <-ready:
		if status == "" {
			h.t.Fatal("the daemon was ready without logging its status page's address")
		}
		h.mu.Lock()
		h.status = status
		h.mu.Unlock()
	case <-exited:
		h.mu.Lock()
		err := h.exitErr
		h.mu.Unlock()
		h.t.Fatalf("daemon exited before it was ready: %v", err)
	case <-time.After(30 * time.Second): // the unit's TimeoutStartSec
		h.t.Fatal("daemon not ready after 30s")
	}
}

// statusAddr is host:port of the running daemon's status API.
func (h *harness) statusAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
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

// exitBound is how long a signalled daemon may take to exit. The unit's
// TimeoutStopSec is 20s; this leaves room for a loaded machine.
const exitBound = 60 * time.Second

// signal sends a signal that ends the daemon and waits for it to exit,
// which it may already have done (a failed start). A daemon still running
// after exitBound is a failure: it gets SIGQUIT, so its goroutines are in
// the report, then SIGKILL.
func (h *harness) signal(sig syscall.Signal) {
	h.mu.Lock()
	cmd, lines, exited := h.cmd, h.lines, h.exited
	h.cmd = nil
	h.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig) // an error only says it has exited already
	if waitExited(lines, exited, exitBound) {
		return
	}
	from := h.lineCount()
	cmd.Process.Signal(syscall.SIGQUIT) // the Go runtime prints every goroutine and exits
	quit := waitExited(lines, exited, 10*time.Second)
	if !quit {
		cmd.Process.Kill()
	}
	h.mu.Lock()
	dump := make([]string, 0, len(h.all)-from)
	for _, l := range h.all[from:] {
		dump = append(dump, l.raw)
	}
	h.mu.Unlock()
	h.t.Errorf("the daemon did not exit within %v of signal %v; its goroutines (SIGQUIT):\n%s", exitBound, sig, strings.Join(dump, "\n"))
	if !quit && !waitExited(lines, exited, 10*time.Second) {
		h.t.Errorf("the daemon did not exit after SIGKILL either")
	}
}

// waitExited reads lines (so the daemon's pipe never fills) until exited
// is closed, for at most d, and reports whether it was.
func waitExited(lines <-chan logLine, exited <-chan struct{}, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				lines = nil // closed: the process's end is next
			}
		case <-exited:
			return true
		case <-deadline.C:
			return false
		}
	}
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
	req, err := http.NewRequest(http.MethodPost, "http://"+h.statusAddr()+"/api/v1/next", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	resp, err := http.DefaultClient.Do(req)
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
		case _, ok := <-h.lines: // keep the log flowing: a full pipe would stall the daemon
			if !ok {
				h.t.Fatal("the daemon exited while its queue drained")
			}
		case <-deadline:
			depth, problems := h.depth(), h.problems()
			h.t.Fatalf("queue not drained after %v; queue depth %v, problems %q\n%s", timeout, depth, problems, h.undrained())
		}
	}
}

// undrained stops the daemon with SIGQUIT, so that the Go runtime prints
// every goroutine (a worker stuck, or asleep with work due, shows where),
// and lists what its queue still holds to send with each job's due time:
// why a queue did not drain.
func (h *harness) undrained() string {
	h.mu.Lock()
	cmd, lines, exited := h.cmd, h.lines, h.exited
	h.cmd = nil
	h.mu.Unlock()
	var b strings.Builder
	if cmd != nil {
		from := h.lineCount()
		cmd.Process.Signal(syscall.SIGQUIT)
		if !waitExited(lines, exited, 10*time.Second) {
			cmd.Process.Kill()
			waitExited(lines, exited, 10*time.Second)
		}
		h.mu.Lock()
		b.WriteString("goroutines (SIGQUIT):\n")
		for _, l := range h.all[from:] {
			b.WriteString(l.raw + "\n")
		}
		h.mu.Unlock()
	}
	q, err := queue.Open(filepath.Join(h.dir, "state", "queue.db"), queue.Options{})
	if err != nil {
		return b.String() + fmt.Sprintf("queue unreadable: %v", err)
	}
	defer q.Close()
	fmt.Fprintf(&b, "unfinished jobs at %s:\n", time.Now().Format(time.RFC3339Nano))
	for _, st := range []queue.State{queue.Pending, queue.Sending, queue.Ambiguous} {
		jobs, err := q.List(st, 50, "")
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", st, err)
		}
		for _, j := range jobs {
			fmt.Fprintf(&b, "%s %s card %s created %s next attempt %s, attempts %+v\n",
				j.ID, j.State, j.Card, j.CreatedAt.Format(time.RFC3339Nano), j.NextAttempt.Format(time.RFC3339Nano), j.Attempts)
		}
	}
	return b.String()
}

// depth is the running daemon's queue depth per state, from its status API.
func (h *harness) depth() map[string]int {
	resp, err := http.Get("http://" + h.statusAddr() + "/api/v1/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st struct {
		Queue struct{ Depth map[string]int } `json:"queue"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	return st.Queue.Depth
}

// drained reports whether the daemon's queue has nothing left to send.
func (h *harness) drained() bool {
	d := h.depth()
	return d != nil && d["pending"]+d["sending"]+d["ambiguous"] == 0
}

// checkExactlyOnce: every acknowledged job's marker is in the sandbox's
// operations log exactly once, and no marker appears twice.
func checkExactlyOnce(t *testing.T, h *harness, saved map[string]bool) {
	t.Helper()
	// A request the sandbox is still handling (a latency fault outlasting
	// a killed daemon) may yet apply a marker: count only once none is.
	for deadline := time.Now().Add(time.Minute); h.sb.API.Stats().Busy > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox still handles %d requests a minute after the queue drained", h.sb.API.Stats().Busy)
		}
		h.pump(50 * time.Millisecond)
	}
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

// scanSaved scans card and waits until the daemon acknowledged it: the
// scan's "saved" line. Anything else fails the test (the disk is fine).
func (h *harness) scanSaved(card string) {
	h.t.Helper()
	h.scan(card)
	l := h.waitEvent(10*time.Second, "saved "+card, func(l logLine) bool {
		return l.Card == card && (l.Event == "saved" || l.Event == "not_saved")
	})
	if l.Event != "saved" {
		h.t.Fatalf("%s: %s %q", card, l.Event, l.Message)
	}
}

// saved returns the jobs the daemon acknowledged ("saved"), over every run.
func (h *harness) saved() map[string]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]bool{}
	for j := range h.jobs["saved"] {
		out[j] = true
	}
	return out
}

// savedOrder returns, per card, its acknowledged jobs in the order the
// daemon saved them (its log order, over every run).
func (h *harness) savedOrder() map[string][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]string{}
	for _, l := range h.all {
		if l.Event == "saved" && l.Job != "" {
			out[l.Card] = append(out[l.Card], l.Job)
		}
	}
	return out
}

// checkCardOrder: for every card, the sandbox's operations log holds its
// acknowledged jobs' markers in the order the scans were saved.
func checkCardOrder(t *testing.T, h *harness) {
	t.Helper()
	applied := map[string][]string{} // card → job ids, in the API's order
	for _, op := range h.sb.API.Operations() {
		if op.Comment == nil {
			continue
		}
		for _, w := range strings.Fields(*op.Comment) {
			if job, ok := strings.CutPrefix(w, "tillscan:e2e:"); ok {
				applied[op.CardID] = append(applied[op.CardID], job)
			}
		}
	}
	for card, want := range h.savedOrder() {
		var got []string
		in := map[string]bool{}
		for _, j := range want {
			in[j] = true
		}
		for _, j := range applied[card] {
			if in[j] {
				got = append(got, j)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("card %s: applied in order %v, saved in order %v", card, got, want)
		}
	}
}

// checkAlive fails the test unless the daemon's process is still running
// and its status API answers.
func (h *harness) checkAlive() {
	h.t.Helper()
	h.mu.Lock()
	cmd := h.cmd
	h.mu.Unlock()
	if cmd == nil || cmd.Process.Signal(syscall.Signal(0)) != nil {
		h.t.Fatal("the daemon is not running")
	}
	resp, err := http.Get("http://" + h.statusAddr() + "/api/v1/status")
	if err != nil {
		h.t.Fatalf("status API: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("status API: %s", resp.Status)
	}
}

// eventCounts says how many log lines the daemon wrote per event kind, for
// the figures: "applied:24 reconciling:3 waiting:2 …".
func (h *harness) eventCounts() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := map[string]int{}
	for _, l := range h.all {
		if l.Event != "" {
			n[l.Event]++
		}
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s:%d ", k, n[k])
	}
	return strings.TrimSpace(b.String())
}

// waitSeen waits until some log line of any run so far matches, including
// lines that waitEvent already read past.
func (h *harness) waitSeen(timeout time.Duration, what string, match func(logLine) bool) {
	h.t.Helper()
	deadline := time.After(timeout)
	for {
		h.mu.Lock()
		found := slices.ContainsFunc(h.all, match)
		h.mu.Unlock()
		if found {
			return
		}
		select {
		case <-h.changed:
		case _, ok := <-h.lines: // keep the pipe flowing
			if !ok {
				h.t.Fatalf("daemon exited while waiting for %s", what)
			}
		case <-deadline:
			h.t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// problems returns the status API's list of problems.
func (h *harness) problems() []string {
	h.t.Helper()
	resp, err := http.Get("http://" + h.statusAddr() + "/api/v1/status")
	if err != nil {
		h.t.Fatalf("status API: %v", err)
	}
	defer resp.Body.Close()
	var st struct {
		Problems []string `json:"problems"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		h.t.Fatalf("status API: %v", err)
	}
	return st.Problems
}

// lineCount is how many log lines the daemon wrote so far, over every run.
func (h *harness) lineCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.all)
}

// loggedSince reports whether a log line after the first n matches.
func (h *harness) loggedSince(n int, match func(logLine) bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.all[n:] {
		if match(l) {
			return true
		}
	}
	return false
}

// pump reads the daemon's log for d (so its pipe never fills while a test
// polls something else); it fails the test if the daemon exits.
func (h *harness) pump(d time.Duration) {
	h.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case _, ok := <-h.lines:
			if !ok {
				h.t.Fatal("the daemon exited")
			}
		case <-deadline:
			return
		}
	}
}
