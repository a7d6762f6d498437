package hid

import (
	"os"

	"golang.org/x/sys/unix"
)

// checkNetlink makes (and closes) the kind of socket libusb's hotplug
// monitor needs; without it libusb_init fails and hidapi finds no devices
// without saying why.
func checkNetlink() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return &netlinkError{err}
	}
	return unix.Close(fd)
}

type netlinkError struct{ err error }

func (e *netlinkError) Error() string   { return ErrNoNetlink.Error() + ": " + e.err.Error() }
func (e *netlinkError) Unwrap() []error { return []error{ErrNoNetlink, e.err} }

// accessRW reports whether this process may read and write path; a
// refusal satisfies errors.Is(err, os.ErrPermission).
func accessRW(path string) error {
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		return &os.PathError{Op: "access", Path: path, Err: err}
	}
	return nil
}
