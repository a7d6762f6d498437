// Package scanner reads barcode and QR scanners (stdin or a keyboard-wedge
// terminal, serial ports, USB-HID devices) and turns their bytes into Scans.
// It does not know what a scan means: package pos decides whether a scan is
// a loyalty card.
//
// Each Source is owned by the one goroutine that calls its Run: it opens
// and reads the device, and it has closed it when Run returns. Reads do not
// poll: they wait for bytes (an idle scanner costs no wake-ups), or for the
// Framer's idle deadline while a scan is partly read. When ctx ends, a
// context.AfterFunc ends the waiting read: Serial closes the port, Stdin
// wakes its poll(2).
//
// The pieces: Framer (framer.go) turns timed bytes into scans and rejects
// garbage, with no I/O, so every source shares one set of framing rules;
// Stdin (stdin.go) and Serial (serial.go) are Sources; Supervise
// (supervise.go) restarts a failing Source with backoff, so an unplugged
// scanner comes back by itself. Package scanner/hid reads USB-HID scanners
// and scanner/scannertest fakes a serial scanner with a pty for tests.
package scanner

import (
	"context"
	"errors"
	"time"
)

// Scan is one complete read from a scanner.
type Scan struct {
	Text      string    // the decoded text, terminator and configured prefix/suffix removed
	Scanner   string    // the configured name of the scanner that read it
	At        time.Time // when the last byte of the scan arrived
	Symbology string    // barcode symbology if the device reports it (HID POS), else ""
}

// Source is a scanner. Run reads scans and passes each to emit until ctx
// ends (then it returns nil) or the device fails (then it returns an error;
// ErrDeviceGone if the device went away). emit is quick and safe for
// concurrent use.
type Source interface {
	Name() string
	Run(ctx context.Context, emit func(Scan)) error
}

// ErrDeviceGone is returned by Run when the device was unplugged or closed
// under the reader.
var ErrDeviceGone = errors.New("scanner: device gone")
