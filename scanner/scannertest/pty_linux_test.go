package scannertest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.bug.st/serial"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openPort(t *testing.T, path string) serial.Port {
	t.Helper()
	p, err := serial.Open(path, &serial.Mode{BaudRate: 9600})
	if err != nil {
		t.Fatalf("serial.Open(%s) = %v", path, err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.SetReadTimeout(10 * time.Second); err != nil { // a guard against hanging, not a synchroniser
		t.Fatal(err)
	}
	return p
}

func TestPTY_BytesBothWaysUntranslated(t *testing.T) {
	pty := NewPTY(t)
	port := openPort(t, pty.Path)

	// Every byte value, CR and LF included, must reach the port as sent.
	want := make([]byte, 256)
	for i := range want {
		want[i] = byte(i)
	}
	if _, err := pty.Write(want); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	got := make([]byte, len(want))
	if n, err := io.ReadFull(port, got); err != nil || string(got) != string(want) {
		t.Fatalf("port read %d bytes %q, %v; want %q", n, got[:n], err, want)
	}

	feedback := []byte("\x07\r\nB")
	if _, err := port.Write(feedback); err != nil {
		t.Fatalf("port.Write() = %v", err)
	}
	pty.Expect(t, feedback)
}

func TestPTY_CloseHangsUpThePort(t *testing.T) {
	pty := NewPTY(t)
	port := openPort(t, pty.Path)
	if err := pty.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	n, err := port.Read(make([]byte, 16))
	var pe *serial.PortError
	gone := errors.As(err, &pe) && pe.Code() == serial.PortClosed || errors.Is(err, syscall.EIO)
	if n != 0 || !gone {
		t.Fatalf("port.Read() after Close = %d, %v; want 0 and PortClosed or EIO", n, err)
	}
	if err := pty.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestPTY_ReadDeadline(t *testing.T) {
	pty := NewPTY(t)
	if err := pty.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := pty.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read() past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestDevice_UnplugReplug(t *testing.T) {
	link := filepath.Join(t.TempDir(), "usb-Test_Scanner_0001-if00")
	dev := NewDevice(t, link)

	port := openPort(t, link)
	if _, err := dev.Write([]byte("1\r")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 2)
	if _, err := io.ReadFull(port, got); err != nil || string(got) != "1\r" {
		t.Fatalf("read %q, %v; want \"1\\r\"", got, err)
	}

	dev.Unplug()
	if _, err := port.Read(got); err == nil {
		t.Fatalf("port.Read() after Unplug = nil error, want a hang-up")
	}
	port.Close()
	if _, err := os.Stat(link); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat(link) after Unplug = %v, want ErrNotExist", err)
	}
	if _, err := dev.Write([]byte("x")); !errors.Is(err, ErrUnplugged) {
		t.Fatalf("Write() while unplugged = %v, want ErrUnplugged", err)
	}

	dev.Replug()
	port2 := openPort(t, link)
	if _, err := port2.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	dev.PTY().Expect(t, []byte("ok"))
}

// TestPTY_ReleaseExclusive simulates a daemon killed with SIGKILL while it
// had the port open: the exclusive flag go.bug.st/serial set stays on the
// pty (a non-root reopen would get EBUSY) until ReleaseExclusive.
func TestPTY_ReleaseExclusive(t *testing.T) {
	pty := NewPTY(t)
	port := openPort(t, pty.Path)
	excl := func() int {
		t.Helper()
		fd, err := unix.Open(pty.Path, unix.O_RDWR|unix.O_NOCTTY, 0)
		if errors.Is(err, unix.EBUSY) {
			return 1 // not root: the flag refuses the open itself
		} else if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		v, err := unix.IoctlGetInt(fd, unix.TIOCGEXCL)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := excl(); got != 1 {
		t.Fatalf("exclusive flag while the port is open = %d, want 1", got)
	}
	_ = port // stays "open": the flag is what a killed process leaves behind
	if err := pty.ReleaseExclusive(); err != nil {
		t.Fatalf("ReleaseExclusive() = %v", err)
	}
	if got := excl(); got != 0 {
		t.Fatalf("exclusive flag after ReleaseExclusive = %d, want 0", got)
	}
}
