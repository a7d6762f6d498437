//go:build unix

package scanner

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fileReader reads an *os.File for Stdin.Run without polling: each Read
// waits in poll(2), with no timeout, for the file or for ctx to end. Waiting
// in poll first means Run never blocks in read(2) on a terminal or pipe, so
// it returns when ctx ends without leaving a goroutine behind, and the
// shared stdin is never switched to non-blocking mode (which would upset
// the shell after exit).
type fileReader struct {
	f    *os.File
	wake *os.File // readable (at EOF) once ctx ended: ctx's AfterFunc closes its write end
	stop func()   // ends the AfterFunc and closes the pipe
}

// newFileReader returns a reader of f whose Read returns (0, nil) once ctx
// ends. Call Close when done.
func newFileReader(ctx context.Context, f *os.File) (*fileReader, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("wake-up pipe: %w", err)
	}
	woken := make(chan struct{})
	stopWake := context.AfterFunc(ctx, func() {
		defer close(woken)
		w.Close()
	})
	return &fileReader{f: f, wake: r, stop: func() {
		if stopWake() {
			w.Close()
		} else {
			<-woken // ctx's Close is under way: Run returns after it
		}
		r.Close()
	}}, nil
}

// Close releases the wake-up pipe; f stays open.
func (fr *fileReader) Close() { fr.stop() }

// Read waits until f is readable (or hung up) and reads it, or returns
// (0, nil) once ctx has ended.
func (fr *fileReader) Read(b []byte) (int, error) {
	ready, err := fr.wait()
	if err != nil || !ready {
		return 0, err
	}
	return fr.f.Read(b) // readable (or hung up: Read then reports EOF)
}

// wait polls f and the wake-up pipe; ready is false when the pipe woke it.
func (fr *fileReader) wait() (ready bool, err error) {
	rc, err := fr.f.SyscallConn()
	if err != nil {
		return true, nil // not a descriptor-backed file: just read it
	}
	wc, err := fr.wake.SyscallConn()
	if err != nil {
		return false, err
	}
	var perr error
	cerr := rc.Control(func(fd uintptr) {
		werr := wc.Control(func(wfd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wfd), Events: unix.POLLIN}}
			for {
				_, err := unix.Poll(fds, -1)
				if errors.Is(err, unix.EINTR) {
					continue
				}
				switch {
				case err != nil:
					perr = err
				case fds[0].Revents&unix.POLLNVAL != 0:
					perr = os.ErrClosed
				case fds[1].Revents != 0:
					// ctx ended: Run checks it next
				default:
					ready = true
				}
				return
			}
		})
		if werr != nil {
			perr = werr
		}
	})
	if cerr != nil {
		return false, cerr
	}
	return ready, perr
}
