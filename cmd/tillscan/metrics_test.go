package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/deploy"
	"github.com/tillscan/tillscan/queue"
)

// opsDaemon is an in-process daemon on the sandbox with a stdin scanner
// fed by the test and the status listener on loopback.
type opsDaemon struct {
	d     *daemon
	sb    *sandbox.Server
	base  string   // http://127.0.0.1:port
	scans *os.File // one scan per line
}

// startOpsDaemon starts the daemon; tune, if set, adjusts it before run
// (the watchdog's bounds). extra is more scanners' YAML lines.
func startOpsDaemon(t *testing.T, notify bool, tune func(*daemon), extra ...string) *opsDaemon {
	t.Helper()
	return startOps(t, opsConfig{notify: notify, tune: tune, scanners: extra})
}

// opsConfig is what a test varies in the ops daemon.
type opsConfig struct {
	notify   bool
	tune     func(*daemon)
	scanners []string // more scanners' YAML lines
	api      string   // more api settings, in YAML flow form ("shared_limiter: redis://…")
}

func startOps(t *testing.T, oc opsConfig) *opsDaemon {
	t.Helper()
	sb, err := sandbox.NewServer(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	dir := t.TempDir()
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`till_id: till-7
state_dir: %q
api: {base_url: %q, timeout: 1m, %s}
scanners:
  - {name: front, type: stdin}
%s
status: {listen: "127.0.0.1:0"}
worker: {settle: 1s, retry_base: 1s, retry_cap: 2s}
`, dir, sb.URL, oc.api, strings.Join(oc.scanners, "\n"))))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stdin, stdinW, err := os.Pipe() // a file: the stdin scanner stops when the daemon does
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); stdinW.Close() })
	d, err := newDaemon(cfg, daemonOptions{APIKey: sandbox.DemoAPIKey, Log: zerolog.New(zerolog.NewTestWriter(t)),
		Stdin: stdin, StatusListener: ln, Notify: oc.notify})
	if err != nil {
		t.Fatal(err)
	}
	if oc.tune != nil {
		oc.tune(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	t.Cleanup(func() {
		sb.API.SetFaults(sandbox.Faults{}) // a request held by the test ends
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	waitFor(t, "the daemon to accept scans", func() bool { return d.accepting.Load() })
	return &opsDaemon{d: d, sb: sb, base: "http://" + ln.Addr().String(), scans: stdinW}
}

// waitFor polls cond; the bound is a hang guard, not a timing assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (o *opsDaemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(o.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (o *opsDaemon) scan(t *testing.T, text string) {
	t.Helper()
	if _, err := io.WriteString(o.scans, text+"\n"); err != nil {
		t.Fatal(err)
	}
}

// families returns the metric families a /metrics page declares.
func families(page string) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	return out
}

// TestMetrics scrapes a running daemon: promtool accepts the page, every
// metric the alert rules and the dashboard query is served, and the
// counters move for a scan applied, a scan whose job the API refused and a
// scan the till refused.
func TestMetrics(t *testing.T) {
	o := startOpsDaemon(t, false, nil)
	code, page := o.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, page)
	}

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("promtool is missing (Debian package prometheus): CI must install it")
			}
			t.Skip("promtool not installed (apt-get install prometheus)")
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(page)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})

	t.Run("every queried metric is served", func(t *testing.T) {
		qs, err := deploy.Queries()
		if err != nil {
			t.Fatal(err)
		}
		served := families(page)
		for _, q := range qs {
			for _, name := range deploy.MetricNames(q.Expr) {
				if name != "up" && !served[name] { // up is Prometheus' own
					t.Errorf("%s queries %s, which /metrics does not serve", q.Source, name)
				}
			}
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
			if !served[name] {
				t.Errorf("%s is not served", name)
			}
		}
	})

	t.Run("every documented metric is served, nothing else", func(t *testing.T) {
		doc, err := os.ReadFile("../../docs/metrics.md")
		if err != nil {
			t.Fatal(err)
		}
		documented := map[string]bool{}
		for _, line := range strings.Split(string(doc), "\n") {
			if f := strings.Split(line, "`"); strings.HasPrefix(line, "| `tillscan_") && len(f) > 1 {
				documented[f[1]] = true
			}
		}
		if len(documented) < 15 {
			t.Fatalf("found %d metrics in docs/metrics.md's tables: the parser is out of date", len(documented))
		}
		// Served only by a daemon with a shared limiter: TestStatus_Pacing
		// scrapes one.
		conditional := map[string]bool{"tillscan_api_shared_limiter_up": true}
		for name := range documented {
			if !families(page)[name] && !conditional[name] {
				t.Errorf("docs/metrics.md lists %s, which /metrics does not serve", name)
			}
		}
		for name := range families(page) {
			if strings.HasPrefix(name, "tillscan_") && !documented[name] {
				t.Errorf("/metrics serves %s, which docs/metrics.md does not list", name)
			}
		}
	})

	t.Run("counters move", func(t *testing.T) {
		m := o.d.metrics
		o.scan(t, sandbox.DemoStampCard) // saved, then applied
		o.scan(t, "544256-439-999")      // saved, then refused by the API (no such card)
		o.scan(t, "TILLSCAN:NO-SUCH")    // refused at the till
		waitFor(t, "both jobs to finish", func() bool {
			st, err := o.d.q.Stats(time.Now())
			return err == nil && st.Depth[queue.Done] == 1 && st.Depth[queue.Refused] == 1
		})
		// The job metrics are counted just after the queue's own
		// transition, the scans from the event feed: wait for the last of
		// each kind before comparing.
		waitFor(t, "the scans and jobs to be counted", func() bool {
			_, page := o.get(t, "/metrics")
			return counterValue(t, m.scans.WithLabelValues("refused")) == 1 &&
				counterValue(t, m.finished.WithLabelValues("refused")) == 1 &&
				strings.Contains(page, "tillscan_scan_to_applied_seconds_count 1\n")
		})
		for _, c := range []struct {
			name string
			got  float64
			want float64
		}{
			{"scans saved", counterValue(t, m.scans.WithLabelValues("saved")), 2},
			{"scans refused", counterValue(t, m.scans.WithLabelValues("refused")), 1},
			{"scans not saved", counterValue(t, m.scans.WithLabelValues("not_saved")), 0},
			{"jobs applied", counterValue(t, m.finished.WithLabelValues("applied")), 1},
			{"jobs refused", counterValue(t, m.finished.WithLabelValues("refused")), 1},
			{"actions answered 200", counterValue(t, m.requests.WithLabelValues("action", "200")), 1},
		} {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		}
		_, page := o.get(t, "/metrics")
		for _, line := range []string{
			"tillscan_scan_to_applied_seconds_count 1",
			`tillscan_queue_jobs{state="done"} 1`,
			`tillscan_queue_jobs{state="refused"} 1`,
			`tillscan_scanner_connected{scanner="front"} 1`,
			"tillscan_api_reachable 1",
			"tillscan_api_key_refused 0",
			`tillscan_till_info{till_id="till-7",version="dev"} 1`,
		} {
			if !strings.Contains(page, line+"\n") {
				t.Errorf("/metrics has no line %q", line)
			}
		}
		if !strings.Contains(page, "tillscan_queue_commit_duration_seconds_count ") ||
			strings.Contains(page, "tillscan_queue_commit_duration_seconds_count 0\n") {
			t.Errorf("no queue commit observed:\n%s", grepLines(page, "tillscan_queue_commit"))
		}
	})
}

// counterValue reads one counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

func grepLines(page, prefix string) string {
	var out []string
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetrics_HIDScannerAbsent checks a USB-HID scanner that is
// configured but not plugged in is exported as not connected (0), beside a
// connected one.
func TestMetrics_HIDScannerAbsent(t *testing.T) {
	o := startOpsDaemon(t, false, nil, "  - {name: back, type: hid, vid: 0x0c2e, pid: 0x7fff}")
	// The two sources open concurrently: the HID one may report its
	// missing device before the serial one has opened its pty.
	waitFor(t, "the HID source to report that no device is open, and the serial one open", func() bool {
		back, front := false, false
		for _, sc := range (statusBackend{o.d}).Status(t.Context()).Scanners {
			back = back || sc.Name == "back" && sc.Error != ""
			front = front || sc.Name == "front" && sc.Connected
		}
		return back && front
	})
	_, page := o.get(t, "/metrics")
	for _, line := range []string{`tillscan_scanner_connected{scanner="back"} 0`, `tillscan_scanner_connected{scanner="front"} 1`} {
		if !strings.Contains(page, line+"\n") {
			t.Errorf("/metrics has no line %q:\n%s", line, grepLines(page, "tillscan_scanner"))
		}
	}
	st := statusBackend{o.d}.Status(t.Context())
	for _, sc := range st.Scanners {
		if sc.Name == "back" && sc.Connected {
			t.Errorf("status reports the absent HID scanner connected: %+v", sc)
		}
	}
}

// TestHealthEndpoints checks /healthz, /readyz and the exit of `tillscan
// status`, and that readiness follows a refused key: not ready while the
// client refuses it.
func TestHealthEndpoints(t *testing.T) {
	o := startOpsDaemon(t, false, nil)
	if code, body := o.get(t, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	waitFor(t, "ready", func() bool { code, _ := o.get(t, "/readyz"); return code == http.StatusOK })
	cfgPath := o.statusConfig(t)
	if out, err := runCLI(t, nil, "status", "-c", cfgPath); err != nil {
		t.Errorf("tillscan status on a ready daemon = %v\n%s", err, out)
	}

	o.sb.API.RevokeKey(sandbox.DemoAPIKey)
	o.scan(t, sandbox.DemoStampCard) // the send meets the 401
	waitFor(t, "the client to refuse the key", func() bool { return o.d.api.Status().Refused != nil })
	code, body := o.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "refused the key") {
		t.Errorf("/readyz with a refused key = %d %s", code, body)
	}
	if code, _ := o.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with a refused key = %d: the process is alive", code)
	}
	if out, err := runCLI(t, nil, "status", "-c", cfgPath); !errors.Is(err, errNotReady) || !strings.Contains(out, "NOT READY") {
		t.Errorf("tillscan status with a refused key = %v, want errNotReady (exit 1)\n%s", err, out)
	}
}

// notifySocket is a fake systemd notify socket.
type notifySocket struct {
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "n")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	s := &notifySocket{conn: conn, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(s.msgs)
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	return s
}

// pings counts the WATCHDOG=1 messages that arrive within d.
func (s *notifySocket) pings(d time.Duration) int {
	n := 0
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return n
			}
			if m == "WATCHDOG=1" {
				n++
			}
		case <-timeout:
			return n
		}
	}
}

// ping reports whether a WATCHDOG=1 arrives within d.
func (s *notifySocket) ping(d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return false
			}
			if m == "WATCHDOG=1" {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// TestWatchdog runs the daemon under a fake systemd notify socket with
// WATCHDOG_USEC set. Its worker is allowed only 300ms without progress,
// far less than the daemon's default: an idle worker (sleeping with a
// beat) must still be alive, and a worker held inside a request must stop
// the pings, then resume them when the request returns.
func TestWatchdog(t *testing.T) {
	sock := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "100000") // 100ms: pings every 50ms
	t.Setenv("WATCHDOG_PID", "")
	tight := func(d *daemon) { d.watch.workerBound = 300 * time.Millisecond }
	o := startOpsDaemon(t, true, tight)

	if n := sock.pings(2 * time.Second); n < 5 {
		t.Fatalf("an idle daemon sent %d WATCHDOG=1 in 2s at a 50ms period", n)
	}

	// The next request is answered only after 5s: far longer than the
	// 300ms the worker may go without progress here.
	o.sb.API.SetFaults(sandbox.Faults{Latency: 5 * time.Second})
	o.scan(t, sandbox.DemoStampCard)
	waitFor(t, "the watchdog to see the worker stuck", func() bool { return !o.d.watch.workerRunning(time.Now()) })
	o.sb.API.SetFaults(sandbox.Faults{}) // later requests answer at once; the held one still waits
	sock.pings(200 * time.Millisecond)   // drain what was sent before the verdict
	if n := sock.pings(time.Second); n != 0 {
		t.Errorf("%d WATCHDOG=1 while the worker is stuck", n)
	}
	if code, body := o.get(t, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "worker") {
		t.Errorf("/readyz with a stuck worker = %d %s", code, body)
	}
	waitFor(t, "the worker to make progress again", func() bool { return o.d.watch.workerRunning(time.Now()) })
	if !sock.ping(10 * time.Second) {
		t.Error("no WATCHDOG=1 after the worker made progress again")
	}
}
