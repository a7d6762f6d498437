package scannertest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// ErrUnplugged is returned by Device.Write and Device.Read while the device
// is unplugged.
var ErrUnplugged = errors.New("scannertest: device unplugged")

// Device is a fake scanner behind a stable path, the way udev presents a USB
// serial scanner as /dev/serial/by-id/usb-…-if00 → ../../ttyACM0. Unplug
// closes the PTY and removes the link (as udev does); Replug opens a new PTY,
// usually with another /dev/pts number, and points the link at it.
//
// A Device is safe for concurrent use.
type Device struct {
	Path string // the stable symlink to give to the serial source

	t  testing.TB
	mu sync.Mutex // guards pty
	// pty is the currently plugged PTY, nil while unplugged.
	pty *PTY
}

// NewDevice plugs in a new PTY at the symlink path (which must not exist;
// put it in t.TempDir()). Everything is closed when the test ends.
func NewDevice(t testing.TB, path string) *Device {
	t.Helper()
	d := &Device{Path: path, t: t}
	t.Cleanup(d.Unplug)
	d.Replug()
	return d
}

// PTY returns the plugged PTY, or nil while unplugged.
func (d *Device) PTY() *PTY {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pty
}

// Replug plugs a fresh PTY in (unplugging the current one first, if any)
// and points Path at it. It returns the new PTY.
func (d *Device) Replug() *PTY {
	d.t.Helper()
	d.Unplug()
	p, err := OpenPTY()
	if err != nil {
		d.t.Fatalf("scannertest: %v", err)
	}
	// Create the link beside the final name and rename it over, so the code
	// under test never sees a half-made link.
	tmp := d.Path + ".new"
	os.Remove(tmp)
	if err := os.Symlink(p.Path, tmp); err != nil {
		p.Close()
		d.t.Fatalf("scannertest: %v", err)
	}
	if err := os.Rename(tmp, d.Path); err != nil {
		p.Close()
		d.t.Fatalf("scannertest: %v", err)
	}
	d.mu.Lock()
	d.pty = p
	d.mu.Unlock()
	return p
}

// Unplug removes the link and closes the PTY: the code under test sees its
// port hang up and finds no device at Path until Replug. Unplugging an
// unplugged Device does nothing.
func (d *Device) Unplug() {
	d.mu.Lock()
	p := d.pty
	d.pty = nil
	d.mu.Unlock()
	if p == nil {
		return
	}
	if err := os.Remove(d.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.t.Errorf("scannertest: unplug: %v", err)
	}
	p.Close()
}

// ReleaseExclusive calls PTY.ReleaseExclusive on the plugged PTY.
func (d *Device) ReleaseExclusive() error {
	p := d.PTY()
	if p == nil {
		return fmt.Errorf("release %s: %w", d.Path, ErrUnplugged)
	}
	return p.ReleaseExclusive()
}

// Write types b into the plugged PTY.
func (d *Device) Write(b []byte) (int, error) {
	p := d.PTY()
	if p == nil {
		return 0, fmt.Errorf("write %s: %w", d.Path, ErrUnplugged)
	}
	return p.Write(b)
}

// Read reads what the code under test wrote to the plugged PTY.
func (d *Device) Read(b []byte) (int, error) {
	p := d.PTY()
	if p == nil {
		return 0, fmt.Errorf("read %s: %w", d.Path, ErrUnplugged)
	}
	return p.Read(b)
}
