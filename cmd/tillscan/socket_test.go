package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorCommandsUseTheSocket: while the daemon runs (holding the
// queue file), `tillscan queue` and `tillscan status` reach it through
// the operator socket, and the TCP port no longer serves the queue's
// operator endpoints.
func TestOperatorCommandsUseTheSocket(t *testing.T) {
	pd := startPOSDaemon(t)
	scan := postScan(t, pd, "544256-439-856")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"queue", "list", "-c", pd.config}, scan.Job},
		{[]string{"queue", "show", "-c", pd.config, scan.Job}, `"card": "544256-439-856"`},
		{[]string{"queue", "export", "-c", pd.config}, scan.Job},
		{[]string{"queue", "drop", "-c", pd.config, "NOSUCHJOB", "--reason", "x"}, "no such job"},
		{[]string{"status", "-c", pd.config}, "loyalty API"},
	} {
		out, err := runCLI(t, nil, tt.args...)
		if err != nil {
			out += "error: " + err.Error()
		}
		if !strings.Contains(out, tt.want) {
			t.Errorf("tillscan %s:\n%s\nwant %q", strings.Join(tt.args, " "), out, tt.want)
		}
	}
	for _, path := range []string{"/api/v1/jobs", "/api/v1/queue", "/api/v1/queue/export"} {
		resp, err := http.Get(pd.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("TCP GET %s = %d, want 404 (operator socket only)", path, resp.StatusCode)
		}
	}
	fi, err := os.Stat(pd.d.cfg.Status.Socket)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("operator socket %s: %v %v, want mode 0660", pd.d.cfg.Status.Socket, fi, err)
	}
}

// TestNoSocketIsAProblemNotAStop: a socket that cannot be made (here: its
// directory is missing, as without RuntimeDirectory=) leaves the daemon
// running and is shown on the status page.
func TestNoSocketIsAProblemNotAStop(t *testing.T) {
	d := testDaemon(t)
	defer d.close()
	d.sock.Close() // made at start in state_dir; now make it where it cannot be
	d.sock = nil
	d.cfg.Status.Socket = filepath.Join(t.TempDir(), "missing", "control.sock")
	d.listenSocket()
	if d.sock != nil {
		t.Fatal("a socket was made in a missing directory")
	}
	if p := problems(d); !strings.Contains(p, "tillscan queue and tillscan status cannot reach this daemon") || !strings.Contains(p, "RuntimeDirectory") {
		t.Fatalf("problems = %q, want the missing socket explained", p)
	}
}

// TestOwnSocket: the command line trusts a demo socket in the shared
// temporary directory only if it is a socket of this user.
func TestOwnSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	for _, tt := range []struct {
		path string
		want bool
	}{{sock, true}, {plain, false}, {filepath.Join(dir, "none"), false}} {
		if got := ownSocket(tt.path); got != tt.want {
			t.Errorf("ownSocket(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
