package hid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// watchUSB listens to the kernel's device events (a NETLINK_KOBJECT_UEVENT
// socket, the one libusb's own hot-plug monitor uses) and sends on the
// returned channel when a USB device or interface was added, removed,
// bound or unbound. Events that arrive before the last one was taken are
// coalesced: the channel holds one value. The listener runs on a goroutine
// added to wg until ctx ends; if the socket fails it closes the channel,
// and the caller goes back to looking periodically.
func watchUSB(ctx context.Context, wg *sync.WaitGroup) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, &netlinkError{err}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil { // 1: the kernel's events
		unix.Close(fd)
		return nil, &netlinkError{fmt.Errorf("bind: %w", err)}
	}
	// Non-blocking, so the runtime's poller waits for it: no thread sleeps
	// in recv(2), and Close ends the wait.
	sock := os.NewFile(uintptr(fd), "netlink-uevent")
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	stop := context.AfterFunc(ctx, func() { sock.Close() })
	wg.Go(func() {
		defer close(changed)
		defer stop()
		defer sock.Close()
		buf := make([]byte, 16<<10) // events are under 8 KiB (UEVENT_BUFFER_SIZE 2048 + header)
		for {
			n, err := sock.Read(buf)
			switch {
			case errors.Is(err, unix.ENOBUFS):
				notify() // events were dropped: one of them may have been ours
				continue
			case err != nil:
				return // closed by ctx, or a failure the caller falls back from
			case isUSBEvent(buf[:n]):
				notify()
			}
		}
	})
	return changed, nil
}

// isUSBEvent reports whether a kernel uevent ("ACTION@DEVPATH\0KEY=VALUE\0…")
// is about a USB device or interface.
func isUSBEvent(msg []byte) bool {
	for field := range bytes.SplitSeq(msg, []byte{0}) {
		if bytes.Equal(field, []byte("SUBSYSTEM=usb")) {
			return true
		}
	}
	return false
}
