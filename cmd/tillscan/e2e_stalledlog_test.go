//go:build linux

package main

// The daemon's start and stop when the API or its log sink stops answering.

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

// TestE2E_StopUnderStalls: the API is a black hole (connections accepted,
// nothing ever answered) and the daemon's log is read, or is a pipe nobody
// reads that is already full (journald stalled). Either way the daemon
// must tell systemd it is ready, and exit 0 on SIGTERM sent while its
// first request is in flight, within the unit's TimeoutStopSec (20s, after
// which systemd would SIGKILL it). Before the log went through logSink,
// the stalled log's first line blocked: the daemon never became ready and
// ignored SIGTERM.
func TestE2E_StopUnderStalls(t *testing.T) {
	bin := tillscanBinary(t)
	for _, tc := range []struct {
		name    string
		stalled bool
	}{
		{"log read", false},
		{"log stalled", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			api, accepted := blackHole(t)
			notify := listenNotify(t) // sets NOTIFY_SOCKET, so these cannot be parallel
			config := filepath.Join(dir, "tillscan.yaml")
			os.WriteFile(config, []byte(fmt.Sprintf(`till_id: e2e
state_dir: %s
log: {level: info, format: json}
api: {base_url: 'http://%s/api/v2', timeout: 10s}
status: {listen: 'off', socket: 'off'}
`, filepath.Join(dir, "state"), api)), 0o600)

			r, w := fullPipe(t)
			var out bytes.Buffer
			copied := make(chan struct{})
			readLog := sync.OnceFunc(func() { go func() { io.Copy(&out, r); close(copied) }() })
			if !tc.stalled {
				readLog()
			}
			cmd := exec.Command(bin, "run", "--config", config)
			cmd.Env = append(os.Environ(), "TILLSCAN_API_KEY="+sandbox.DemoAPIKey)
			cmd.Stdout, cmd.Stderr = io.Discard, w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close() // the daemon holds the only write end now
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			began := time.Now()
			waitReady(t, notify, exited)
			readyIn := time.Since(began)
			select {
			case <-accepted:
			case <-time.After(30 * time.Second):
				t.Error("the daemon sent no request to the API within 30s of start")
			}
			cmd.Process.Signal(syscall.SIGTERM)
			stopping := time.Now()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v, want 0", err)
				}
				t.Logf("FIGURE %s, black-holed API: ready after %v, exit %v after SIGTERM",
					tc.name, readyIn.Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond))
				if !tc.stalled {
					<-copied
					if !strings.Contains(out.String(), `"message":"stopped"`) {
						t.Errorf("no \"stopped\" line in the log:\n%s", out.String())
					}
				}
				return
			case <-time.After(30 * time.Second):
			}
			readLog() // so the Go runtime can print the goroutines
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
			t.Fatalf("the daemon did not exit within 30s of SIGTERM; its goroutines:\n%s", text)
		})
	}
}

// waitReady waits for READY=1 on the notify socket; no READY=1 within the
// unit's TimeoutStartSec (30s) is an error, an exit before it is fatal.
func waitReady(t *testing.T, notify *notifySocket, exited <-chan error) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-notify.msgs:
			if m == sddaemon.SdNotifyReady {
				return
			}
		case err := <-exited:
			t.Fatalf("the daemon exited before it was ready: %v", err)
		case <-timeout:
			t.Errorf("no %s within 30s of start", sddaemon.SdNotifyReady)
			return
		}
	}
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
// or answers. It returns host:port and a channel closed at the first
// connection.
func blackHole(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	first := sync.OnceFunc(func() { close(accepted) })
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
			first()
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
	return ln.Addr().String(), accepted
}
