// Package passthrough re-types scans on a virtual keyboard through Linux
// uinput, so that a till's POS software still receives the product barcodes
// from a scanner that tillscan has taken from the OS. It types the keys that
// produce the text on the POS's keyboard layout, terminator included, one
// scan at a time from a Typer's own goroutine, so that the goroutine
// reading a scanner never waits for the keys. It does not decide what to
// re-type (package pos says what is a loyalty card; cmd/tillscan queues
// the rest on a Typer).
//
// It needs /dev/uinput: the kernel module uinput (CONFIG_INPUT_UINPUT) and
// write access for the service user (deploy/udev/70-tillscan.rules). The
// virtual keyboard appears as a new /dev/input/event* device named after
// the scanner.
package passthrough

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/hid"
)

// DevicePath is the uinput control device.
const DevicePath = "/dev/uinput"

// Errors a caller can branch on.
var (
	// ErrNoUinput is returned by Open when /dev/uinput does not exist.
	ErrNoUinput = errors.New("passthrough: " + DevicePath + " does not exist: load the kernel module with `modprobe uinput` " +
		"and make it load at boot (a line `uinput` in /etc/modules-load.d/tillscan.conf)")
	// ErrPermission is returned by Open when /dev/uinput cannot be written.
	ErrPermission = errors.New("passthrough: no permission to write " + DevicePath + ": install deploy/udev/70-tillscan.rules " +
		"(it gives the tillscan group /dev/uinput), run `udevadm control --reload && udevadm trigger`, or run as root")
	// ErrUnsupported is returned by Open on a system without uinput
	// (anything but Linux).
	ErrUnsupported = errors.New("passthrough: virtual keyboards need Linux's uinput; pass-through is not available on this system")
	// ErrClosed is returned by Type after Close.
	ErrClosed = errors.New("passthrough: keyboard closed")
)

// keyer is the part of a uinput.Keyboard that Type uses.
type keyer interface {
	KeyDown(code int) error
	KeyUp(code int) error
	Close() error
}

// Keyboard is a virtual keyboard that types text on one layout. It is safe
// for concurrent use: concurrent Types do not interleave their keys.
type Keyboard struct {
	layout *hid.Layout
	// Delay is the pause after each key press and release. The kernel keeps
	// only a small buffer of events per reader (64 for evdev), and a slow
	// POS would lose keys of a long barcode typed in one burst. Set it
	// before the first Type; Open sets 2ms.
	Delay time.Duration

	mu sync.Mutex // serialises Type and Close
	kb keyer      // nil after Close
}

// EventNode returns the virtual keyboard's evdev node, such as
// /dev/input/event3, where its keys can be read back.
func (k *Keyboard) EventNode() (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sp, ok := k.kb.(interface{ FetchSyspath() (string, error) })
	if !ok {
		return "", errors.New("passthrough: keyboard closed or not a uinput device")
	}
	sys, err := sp.FetchSyspath()
	if err != nil {
		return "", fmt.Errorf("passthrough: sysfs path of the virtual keyboard: %w", err)
	}
	sys = strings.TrimRight(sys, "\x00") // bendahl/uinput keeps the ioctl's NUL padding
	events, err := filepath.Glob(filepath.Join(sys, "event*"))
	if err != nil || len(events) != 1 {
		return "", fmt.Errorf("passthrough: no single event node under %s (%d found)", sys, len(events))
	}
	return "/dev/input/" + filepath.Base(events[0]), nil
}

// Layout returns the layout the keyboard types on.
func (k *Keyboard) Layout() *hid.Layout { return k.layout }

// Type types text and then terminator ("\r" or "\n": Enter, "\r\n": one
// Enter, "\t": Tab, "": nothing). Nothing is typed if the layout cannot type
// some character of it.
func (k *Keyboard) Type(text, terminator string) error {
	keys, err := Keys(k.layout, text+terminatorText(terminator))
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kb == nil {
		return ErrClosed
	}
	for _, key := range keys {
		if err := k.press(key); err != nil {
			return fmt.Errorf("passthrough: typing %q: %w", text, err)
		}
	}
	return nil
}

func (k *Keyboard) press(key Key) error {
	var mods []int
	if key.Shift {
		mods = append(mods, KeyLeftShift)
	}
	if key.AltGr {
		mods = append(mods, KeyRightAlt)
	}
	for _, m := range mods {
		if err := k.kb.KeyDown(m); err != nil {
			return err
		}
	}
	err := k.kb.KeyDown(key.Code)
	k.pause()
	if err == nil {
		err = k.kb.KeyUp(key.Code)
	}
	for _, m := range mods { // released even after an error, so no modifier stays stuck
		if uerr := k.kb.KeyUp(m); err == nil {
			err = uerr
		}
	}
	k.pause()
	return err
}

func (k *Keyboard) pause() {
	if k.Delay > 0 {
		time.Sleep(k.Delay)
	}
}

// Close removes the virtual keyboard. Type fails with ErrClosed afterwards.
func (k *Keyboard) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kb == nil {
		return nil
	}
	err := k.kb.Close()
	k.kb = nil
	return err
}

// terminatorText is what a terminator types: one Enter for CR, LF or CRLF.
func terminatorText(t string) string {
	if t == "\r\n" {
		return "\r"
	}
	return t
}

// Terminator returns the terminator to re-type after a scan that was framed
// with t: "\r" (Enter) for any, cr and crlf, "\n" (also Enter) for lf,
// "\t" for tab, "" for none.
func Terminator(t scanner.Terminator) string {
	switch t {
	case scanner.TermLF:
		return "\n"
	case scanner.TermTab:
		return "\t"
	case scanner.TermNone:
		return ""
	}
	return "\r"
}
