//go:build unix

package queue

import (
	"fmt"
	"os"
	"syscall"
)

// keepOwner gives the file at path the owner, group and permission bits of
// the file fi describes. Compact run as root must leave a file the service's
// own user can still open.
func keepOwner(path string, fi os.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("give %s the owner of the original (%d:%d): %w", path, st.Uid, st.Gid, err)
		}
	}
	if err := os.Chmod(path, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("give %s the permissions of the original: %w", path, err)
	}
	return nil
}
