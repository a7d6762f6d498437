//go:build unix

package queue_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tillscan/tillscan/queue"
)

// Issue 12: `tillscan queue compact` runs as root; the service runs as its
// own user and must still open the file afterwards. Before the fix the
// compacted file was root's, mode 0600.
func TestCompact_KeepsOwnerAndMode(t *testing.T) {
	dir := t.TempDir()
	path := queueFile(t, dir, 10)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	wantUID, wantGID := os.Getuid(), os.Getgid()
	if os.Getuid() == 0 { // as in CI: hand the file to another user, as the package does to tillscan
		wantUID, wantGID = 65534, 65534
		if err := os.Chown(path, wantUID, wantGID); err != nil {
			t.Fatal(err)
		}
	}
	for _, dst := range []string{path, filepath.Join(dir, "copy.db")} {
		if err := queue.Compact(path, dst); err != nil {
			t.Fatalf("Compact(%s) = %v", dst, err)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o640 || int(st.Uid) != wantUID || int(st.Gid) != wantGID {
			t.Errorf("%s after Compact: mode %v, owner %d:%d; want 0640, %d:%d", dst, fi.Mode().Perm(), st.Uid, st.Gid, wantUID, wantGID)
		}
	}
}
