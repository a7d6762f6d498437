//go:build linux

package queue_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tillscan/tillscan/queue"
)

// smallFS mounts a tmpfs of size bytes on a temporary directory and returns
// it; the test is skipped (with the reason) when it cannot mount.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test needs root to mount a small tmpfs (CI runs tests as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("disk-full test: cannot mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the file system is full and returns it.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
			return path
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

func TestEnqueue_DiskFull(t *testing.T) {
	dir := smallFS(t, "4m")
	path := filepath.Join(dir, "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { q.Close() }()

	var acked []queue.Job
	for range 20 {
		acked = append(acked, enqueue(t, q, "544256-439-856", t0))
	}
	filler := fill(t, dir)

	// Enqueue until the disk refuses; every success before that is on disk.
	big := scan("544256-439-856")
	big.Raw = strings.Repeat("x", 8000)
	var full error
	for range 5000 {
		j, err := q.Enqueue(big, t0)
		if err != nil {
			full = err
			break
		}
		acked = append(acked, j)
	}
	if full == nil {
		t.Fatal("Enqueue never failed on a full file system")
	}
	if !errors.Is(full, syscall.ENOSPC) || !strings.Contains(full.Error(), "NOT saved") {
		t.Errorf("Enqueue on a full disk = %v, want ENOSPC and NOT saved", full)
	}
	t.Logf("disk full after %d acknowledged jobs: %v", len(acked), full)
	// Smaller writes may still fit in pages the file already has; whatever
	// succeeds must be kept, whatever fails must leave the file usable.
	failed := 0
	for _, n := range []int{4000, 1000, 100, 10, 4000, 10} {
		big.Raw = strings.Repeat("y", n)
		if j, err := q.Enqueue(big, t0); err == nil {
			acked = append(acked, j)
		} else {
			failed++
		}
	}
	t.Logf("then %d of 6 smaller enqueues failed", failed)
	// The queue still reads while the disk is full.
	wantNext(t, q, t0, acked[0].ID)

	// Space comes back: the same open queue works again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := enqueue(t, q, "544256-439-856", t0)
	if err := errors.Join(q.Sending(acked[0].ID, "add-stamp 1", t0), q.Done(acked[0].ID, send("applied"), "")); err != nil {
		t.Fatalf("worker after the disk freed up: %v", err)
	}
	mustCheck(t, q)

	// And so does the file after a restart: nothing acknowledged is lost.
	q.Close()
	q, err = queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	if movedTo, _ := q.Recovered(); movedTo != "" {
		t.Fatalf("file moved aside after disk full: %s", movedTo)
	}
	for _, j := range append(acked, after) {
		mustGet(t, q, j.ID)
	}
	mustCheck(t, q)
}

func TestOpen_DiskFullOnCreate(t *testing.T) {
	dir := smallFS(t, "1m")
	fill(t, dir)
	path := filepath.Join(dir, "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err == nil {
		q.Close()
		t.Fatal("Open on a full file system succeeded")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Open on a full file system = %v, want ENOSPC", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after the failed create, want only the filler", len(entries))
	}
}
