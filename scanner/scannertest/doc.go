// Package scannertest provides fake serial barcode scanners for tests: a
// pseudo-terminal whose slave side the code under test opens like a serial
// port (go.bug.st/serial works on it), while the test types scans into the
// master side and reads back what the code writes (good/bad-read feedback).
// A Device adds a stable symlink, like /dev/serial/by-id/..., that can be
// unplugged and replugged.
//
// It needs Linux (/dev/ptmx) and no external tools. Like net/http/httptest,
// it is imported by tests only.
package scannertest
