package control

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/internal/logtest"
)

// TestPeerCredentialsChecked: a user outside the daemon's user and group
// is refused by the peer check itself, even when the socket file's mode
// would let it connect (here opened to everyone on purpose). Needs root
// (to run the client as nobody) and curl; under CI=true their absence is
// a failure.
func TestPeerCredentialsChecked(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs root and curl (euid %d, curl: %v)", os.Geteuid(), err)
		}
		t.Skip("needs root and curl")
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755) // nobody must reach the socket to show the peer check
	}
	path := filepath.Join(dir, "c.sock")
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logged logtest.Buffer
	go func() { done <- New(&fakeBackend{}, nil, zerolog.New(&logged)).ServeSocket(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	run := func(asNobody bool) error {
		cmd := exec.CommandContext(t.Context(), curl, "-sf", "--max-time", "10", "--unix-socket", path, "http://tillscan/api/v1/status")
		if asNobody {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		return cmd.Run()
	}
	if err := run(false); err != nil {
		t.Fatalf("root through the socket: %v", err)
	}
	err = run(true)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("nobody through a world-writable socket: %v, want refused", err)
	}
	if !strings.Contains(logged.String(), ErrPeerRefused.Error()) || !strings.Contains(logged.String(), "of user 65534") {
		t.Fatalf("curl failed (%v) but the peer check did not refuse user 65534; log:\n%s", err, logged.String())
	}
}
