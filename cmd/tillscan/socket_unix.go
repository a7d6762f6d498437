//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// ownSocket reports whether path is a socket of this user (a socket in
// the shared temporary directory made by someone else is not trusted).
func ownSocket(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
