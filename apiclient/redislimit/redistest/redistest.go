// Package redistest runs a real redis-server on loopback for tests of the
// shared limiter. Without redis-server (Debian: apt-get install
// redis-server) a test is skipped, or fails when CI=true.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Server is a redis-server child process of the test.
type Server struct {
	Port int
	URL  string // redis://127.0.0.1:PORT/0

	t   testing.TB
	cmd *exec.Cmd
	dir string
}

// Start runs redis-server with persistence off on a free loopback port,
// in a directory of the test; it is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return StartAt(t, port)
}

// StartAt is Start on a given port (e.g. one a client already points at).
func StartAt(t testing.TB, port int) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is missing (CI must install Debian's redis-server package)")
		}
		t.Skip("redis-server not installed (apt-get install redis-server); under CI=true this fails")
	}
	s := &Server{Port: port, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), t: t, dir: t.TempDir()}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: redis-server not listening on %d after 10s: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server and waits for it; stopping twice does nothing.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
