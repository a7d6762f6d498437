//go:build unix

package config

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ownerWarning says so when the file belongs to neither this user nor
// root: its owner can change the key.
func ownerWarning(path string, fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 || int(st.Uid) == os.Getuid() {
		return ""
	}
	return fmt.Sprintf("api key file %s belongs to user id %d, not to this user or root: that user can change the key; chown it", path, st.Uid)
}
