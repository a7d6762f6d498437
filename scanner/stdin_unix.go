//go:build unix

package scanner

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollRead waits up to stdinPoll for f to be readable and reads it, or
// returns (0, nil). Polling first means Run never blocks in read(2) on a
// terminal or pipe, so it can return when ctx ends without leaving a
// goroutine behind, and without switching the shared stdin to non-blocking
// mode (which would upset the shell after exit).
func pollRead(f *os.File, b []byte) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return f.Read(b) // not a descriptor-backed file: just read
	}
	var ready bool
	var perr error
	cerr := rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, int(stdinPoll/time.Millisecond))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil && fds[0].Revents&unix.POLLNVAL != 0 {
				err = os.ErrClosed
			}
			ready, perr = n > 0, err
			return
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr
	case perr != nil:
		return 0, perr
	case !ready:
		return 0, nil
	}
	return f.Read(b) // readable (or hung up: Read then reports EOF)
}
