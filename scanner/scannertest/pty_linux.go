package scannertest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal standing in for a serial scanner. The code under
// test opens Path; the test writes scans with Write and reads the code's
// output with Read. Close is like pulling the cable: the code's reads fail.
//
// Write, Read and Close may be called from different goroutines.
type PTY struct {
	Path string // the slave device (/dev/pts/N) to give to the serial source

	master *os.File // pollable, so Read honours SetReadDeadline and Close
	// slave is held open for the PTY's life: it keeps the raw termios set
	// below (the kernel resets a pty's termios when its last slave fd
	// closes), so CR and LF reach the reader untranslated even when the code
	// reopens the port, and it keeps master reads from failing with EIO
	// while the code has the port closed.
	slave *os.File

	closeOnce sync.Once
	closeErr  error
}

// NewPTY opens a PTY that is closed when the test ends.
func NewPTY(t testing.TB) *PTY {
	t.Helper()
	p, err := OpenPTY()
	if err != nil {
		t.Fatalf("scannertest: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// OpenPTY opens a PTY; the caller must Close it.
func OpenPTY() (*PTY, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	var n int
	err = control(m, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
			return fmt.Errorf("unlock pty: %w", err)
		}
		var err error
		if n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN); err != nil { // ptsname
			return fmt.Errorf("pty number: %w", err)
		}
		return nil
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	path := "/dev/pts/" + strconv.Itoa(n)
	s, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := control(s, makeRaw); err != nil {
		s.Close()
		m.Close()
		return nil, fmt.Errorf("raw mode on %s: %w", path, err)
	}
	return &PTY{Path: path, master: m, slave: s}, nil
}

// control runs fn on f's descriptor without switching f to blocking mode
// (which f.Fd() would do, and then Close could not interrupt a Read).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// makeRaw is cfmakeraw(3): no echo, no line editing, no CR/LF translation,
// 8-bit characters.
func makeRaw(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}

// Write types b into the port, as the scanner would send it.
func (p *PTY) Write(b []byte) (int, error) { return p.master.Write(b) }

// WriteString types s into the port.
func (p *PTY) WriteString(s string) (int, error) { return p.master.Write([]byte(s)) }

// Read reads what the code under test wrote to the port. It blocks until
// something arrives, the read deadline passes or the PTY is closed.
func (p *PTY) Read(b []byte) (int, error) { return p.master.Read(b) }

// SetReadDeadline bounds Read, so that a test that waits for feedback fails
// instead of hanging when none comes.
func (p *PTY) SetReadDeadline(t time.Time) error { return p.master.SetReadDeadline(t) }

// Expect reads exactly len(want) bytes and fails the test if they differ
// or do not arrive within 10 s. Call it from the test's goroutine.
func (p *PTY) Expect(t testing.TB, want []byte) {
	t.Helper()
	if err := p.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatalf("scannertest: %v", err)
	}
	defer p.SetReadDeadline(time.Time{})
	got := make([]byte, len(want))
	if n, err := io.ReadFull(p, got); err != nil {
		t.Fatalf("scannertest: read %d bytes from %s: got %q, %v; want %q", len(want), p.Path, got[:n], err, want)
	}
	if string(got) != string(want) {
		t.Fatalf("scannertest: read %q from %s, want %q", got, p.Path, want)
	}
}

// ReleaseExclusive clears the exclusive-open flag (TIOCEXCL) that
// go.bug.st/serial sets on the port. Its Close clears it too, but a process
// killed with SIGKILL cannot, and the flag lives as long as the pty does, so
// the next open by a non-root process fails with EBUSY ("port busy"). Call
// it after killing a process that had the port open, before starting the
// next one. (root ignores the flag.)
func (p *PTY) ReleaseExclusive() error {
	return control(p.slave, func(fd int) error { return unix.IoctlSetInt(fd, unix.TIOCNXCL, 0) })
}

// Close closes both sides. The code under test sees a hang-up, as when a
// USB scanner is unplugged. Close is idempotent.
func (p *PTY) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.master.Close(), p.slave.Close())
	})
	return p.closeErr
}
