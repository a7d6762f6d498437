//go:build linux

package main

// The daemon's start and stop when its log sink stops taking lines.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestE2E_StalledLogSink: the daemon's stderr is a pipe nobody reads and
// that is already full (journald stalled), and the API is a black hole
// (connections accepted, nothing ever answered). The daemon must still
// tell systemd it is ready, and exit cleanly on SIGTERM within its stop
// bound: the unit's TimeoutStopSec is 20s, after which systemd would
// SIGKILL it. Before the log went through logSink, its first log line
// blocked: it never became ready and ignored SIGTERM.
func TestE2E_StalledLogSink(t *testing.T) {
	bin := tillscanBinary(t)
	dir := t.TempDir()
	api := blackHole(t)
	notify := listenNotify(t) // sets NOTIFY_SOCKET, so this test cannot be parallel
	config := filepath.Join(dir, "tillscan.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf(`till_id: e2e
state_dir: %s
log: {level: info, format: json}
api: {base_url: 'http://%s/api/v2', timeout: 10s}
status: {listen: 'off', socket: 'off'}
`, filepath.Join(dir, "state"), api)), 0o600)

	stderr, full := fullPipe(t)
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Env = append(os.Environ(), "TILLSCAN_API_KEY="+sandbox.DemoAPIKey)
	cmd.Stdout, cmd.Stderr = io.Discard, full
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	full.Close() // the daemon holds the only write end now
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	began := time.Now()
	ready := time.After(30 * time.Second) // the unit's TimeoutStartSec
wait:
	for {
		select {
		case m := <-notify.msgs:
			if m == sddaemon.SdNotifyReady {
				break wait
			}
		case err := <-exited:
			t.Fatalf("the daemon exited before it was ready: %v", err)
		case <-ready:
			t.Errorf("no %s within 30s of start with a stalled log", sddaemon.SdNotifyReady)
			break wait
		}
	}
	readyIn := time.Since(began)
	cmd.Process.Signal(syscall.SIGTERM)
	stopping := time.Now()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0", err)
		}
		t.Logf("FIGURE stalled log, black-holed API: ready after %v, exit %v after SIGTERM",
			readyIn.Round(10*time.Millisecond), time.Since(stopping).Round(10*time.Millisecond))
		return
	case <-time.After(30 * time.Second):
	}
	// Read the log now, so the Go runtime can print the goroutines.
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, stderr); close(copied) }()
	cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
	<-copied
	text := out.String()
	if i := strings.Index(text, "SIGQUIT"); i >= 0 {
		text = text[i:]
	}
	t.Fatalf("the daemon did not exit within 30s of SIGTERM with a stalled log; its goroutines:\n%s", text)
}

// fullPipe returns a pipe whose buffer is already full: a write end whose
// next write blocks until someone reads the read end (kept open).
func fullPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	w.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	junk := bytes.Repeat([]byte("a log line nobody reads\n"), 4096)
	for {
		if _, err := w.Write(junk); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			break
		}
	}
	w.SetWriteDeadline(time.Time{})
	return r, w
}

// blackHole listens on loopback, accepts every connection and never reads
// or answers; it returns host:port.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
