//go:build unix

package queue_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tillscan/tillscan/queue"
)

// A file that looks corrupt but is locked by someone else is not ours to
// move: Open must report ErrLocked and leave it alone.
func TestOpen_LockedGarbageNotMoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	if err := os.WriteFile(path, []byte("not a queue, but someone holds it"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(path, queue.Options{LockTimeout: 100e6})
	if err == nil {
		q.Close()
	}
	if !errors.Is(err, queue.ErrLocked) {
		t.Fatalf("Open(locked garbage) = %v, want ErrLocked", err)
	}
	assertNotMoved(t, path)
}
