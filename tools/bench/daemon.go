package main

// Driving the real daemon: build it once, write a config, feed scans
// through a pty serial scanner, and follow its JSON log for events.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/scanner/scannertest"
)

// buildDaemon builds cmd/tillscan into dir and returns the binary's path.
func buildDaemon(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "tillscan")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tillscan").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bench: go build ./cmd/tillscan (run the bench from the module root): %w\n%s", err, out)
	}
	return bin, nil
}

// till is one daemon: its state directory, its scanner and its log.
type till struct {
	name string
	bin  string
	dir  string
	pty  *scannertest.PTY
	// apiExtra is more of the api section, each line indented two spaces.
	apiExtra string

	cmd  *exec.Cmd
	exit chan error

	mu     sync.Mutex
	status string                 // host:port of the running daemon's status API, from its log
	counts map[string]int         // event kind → events seen, over every run
	first  map[string]time.Time   // event kind → when the first was seen
	last   map[string]time.Time   // event kind → when the latest was seen
	byCard map[string][]time.Time // card → when its "applied" events were seen
	saved  map[string][]time.Time // card → when its "saved" events were seen
	notify chan struct{}
}

func newTill(bin, dir, name string) (*till, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := scannertest.OpenPTY()
	if err != nil {
		return nil, err
	}
	return &till{name: name, bin: bin, dir: dir, pty: p,
		counts: map[string]int{}, first: map[string]time.Time{}, last: map[string]time.Time{},
		byCard: map[string][]time.Time{}, saved: map[string][]time.Time{}, notify: make(chan struct{}, 1)}, nil
}

// close stops the daemon and closes the scanner.
func (t *till) close() {
	t.stop()
	t.pty.Close()
}

// start writes the config (the bench's fixed parts, then extra YAML) and
// runs the daemon against baseURL until it logs that it is ready. The
// config resembles cmd/tillscan's end-to-end harness, which is test code
// this command cannot import.
func (t *till) start(baseURL, extra string) error {
	cfg := fmt.Sprintf(`till_id: %s
state_dir: %s
log: {level: info, format: json}
api:
  base_url: %s
  timeout: 10s
%sdedupe_window: -1s
scanners:
  - name: counter
    type: serial
    path: %s
    baud: 9600
    terminator: crlf
status:
  listen: 127.0.0.1:0
%s`, t.name, filepath.Join(t.dir, "state"), baseURL, t.apiExtra, t.pty.Path, extra)
	path := filepath.Join(t.dir, "tillscan.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(t.bin, "run", "--config", path)
	cmd.Env = append(os.Environ(), "TILLSCAN_API_KEY="+sandbox.DemoAPIKey)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: start %s: %w", t.name, err)
	}
	t.cmd, t.exit = cmd, make(chan error, 1)
	ready := make(chan struct{})
	logf, err := os.OpenFile(filepath.Join(t.dir, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var once sync.Once
		for sc.Scan() {
			now := time.Now()
			logf.Write(append(sc.Bytes(), '\n'))
			var l struct{ Message, Event, Card, URL string }
			json.Unmarshal(sc.Bytes(), &l)
			if l.Message == "status page" {
				// The daemon picks its own port (listen 127.0.0.1:0): a
				// port reserved here and freed could be handed to nginx.
				if u, err := url.Parse(l.URL); err == nil {
					t.setStatus(u.Host)
				}
			}
			if strings.HasPrefix(l.Message, "ready") {
				once.Do(func() { close(ready) })
			}
			if l.Event != "" {
				t.record(l.Event, l.Card, now)
			}
		}
		t.exit <- cmd.Wait()
	}()
	select {
	case <-ready:
		return nil
	case err := <-t.exit:
		t.cmd = nil
		return fmt.Errorf("bench: %s exited before it was ready (%v); see %s", t.name, err, filepath.Join(t.dir, "daemon.log"))
	case <-time.After(30 * time.Second):
		t.stop()
		return fmt.Errorf("bench: %s not ready after 30s", t.name)
	}
}

func (t *till) setStatus(addr string) {
	t.mu.Lock()
	t.status = addr
	t.mu.Unlock()
}

// statusAddr is the running daemon's status address, from its log.
func (t *till) statusAddr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

func (t *till) record(event, card string, now time.Time) {
	t.mu.Lock()
	t.counts[event]++
	if t.first[event].IsZero() {
		t.first[event] = now
	}
	t.last[event] = now
	switch event {
	case "applied":
		t.byCard[card] = append(t.byCard[card], now)
	case "saved":
		t.saved[card] = append(t.saved[card], now)
	}
	t.mu.Unlock()
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// stop ends the daemon with SIGTERM and waits for it.
func (t *till) stop() {
	if t.cmd == nil {
		return
	}
	terminate(t.cmd, t.exit, 20*time.Second)
	t.cmd = nil
}

func (t *till) pid() int { return t.cmd.Process.Pid }

// scan types one scan into the till's scanner.
func (t *till) scan(text string) error {
	_, err := t.pty.WriteString(text + "\r\n")
	return err
}

func (t *till) count(event string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[event]
}

// waitCount waits until n events of the kind were seen in total.
func (t *till) waitCount(ctx context.Context, event string, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for t.count(event) < n {
		select {
		case <-t.notify:
		case err := <-t.exit:
			t.exit <- err
			return fmt.Errorf("bench: %s exited while waiting for %d %q events", t.name, n, event)
		case <-deadline:
			return fmt.Errorf("bench: %s: %d of %d %q events after %v", t.name, t.count(event), n, event, timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// queueDepth is the till's open jobs (pending, sending, ambiguous), from
// its status API.
func (t *till) queueDepth() (int, error) {
	resp, err := http.Get("http://" + t.statusAddr() + "/api/v1/status")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Queue struct{ Depth map[string]int } `json:"queue"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	d := st.Queue.Depth
	return d["pending"] + d["sending"] + d["ambiguous"], nil
}

// unreachable is a base URL nothing answers on: while a till points
// there its scans stay queued.
func unreachable() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/api/v2", nil
}
