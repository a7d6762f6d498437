package vmtest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// cpioEntry is one entry read back by readCPIO.
type cpioEntry struct {
	name       string
	mode       uint32
	rdev       [2]uint32
	data       string
	ino, nlink uint32
}

// readCPIO parses a newc archive independently of cpioWriter, checking
// magic, alignment and the trailer.
func readCPIO(b []byte) ([]cpioEntry, error) {
	var out []cpioEntry
	off := 0
	for {
		if off%4 != 0 {
			return nil, fmt.Errorf("entry at %d is not 4-aligned", off)
		}
		if len(b)-off < 110 {
			return nil, fmt.Errorf("short header at %d", off)
		}
		h := b[off : off+110]
		if string(h[:6]) != "070701" {
			return nil, fmt.Errorf("bad magic %q at %d", h[:6], off)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("field %d at %d: %w", i, off, err)
			}
			f[i] = uint32(v)
		}
		size, namesize := int(f[6]), int(f[11])
		nameStart := off + 110
		name := b[nameStart : nameStart+namesize]
		if name[len(name)-1] != 0 {
			return nil, fmt.Errorf("name at %d not NUL-terminated", off)
		}
		dataStart := (nameStart + namesize + 3) &^ 3
		data := b[dataStart : dataStart+size]
		off = (dataStart + size + 3) &^ 3
		n := string(name[:len(name)-1])
		if n == "TRAILER!!!" {
			if off != len(b) {
				return nil, fmt.Errorf("%d bytes after trailer", len(b)-off)
			}
			return out, nil
		}
		out = append(out, cpioEntry{name: n, mode: f[1], rdev: [2]uint32{f[9], f[10]}, data: string(data), ino: f[0], nlink: f[4]})
	}
}

func TestCPIOWriter_Golden(t *testing.T) {
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	if err := w.File("init", 0o755, []byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Header fields: magic, ino, mode, uid, gid, nlink, mtime, filesize,
	// devmajor, devminor, rdevmajor, rdevminor, namesize, check.
	want := "070701" + "00000001" + "000081ED" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000003" + "00000000" + "00000000" + "00000000" + "00000000" + "00000005" + "00000000" +
		"init\x00" + "\x00" + // 110 + 5 = 115, padded to 116
		"hi\n" + "\x00" + // 3 data bytes, padded to 4
		"070701" + "00000000" + "00000000" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "0000000B" + "00000000" +
		"TRAILER!!!\x00" + "\x00\x00\x00" // 110 + 11 = 121, padded to 124
	if got := buf.String(); got != want {
		t.Errorf("archive:\n got %q\nwant %q", got, want)
	}
}

func TestCPIOWriter_RoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	steps := []error{
		w.Dir("bin", 0o755),
		w.File("bin/busybox", 0o755, bytes.Repeat([]byte{0x7f}, 1001)),
		w.Symlink("bin/sh", "busybox"),
		w.Dir("dev", 0o755),
		w.CharDev("dev/console", 0o600, 5, 1),
		w.File("empty", 0o644, nil),
		w.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, err := readCPIO(buf.Bytes())
	if err != nil {
		t.Fatalf("readCPIO: %v", err)
	}
	want := []cpioEntry{
		{name: "bin", mode: 0o40755, ino: 1, nlink: 2},
		{name: "bin/busybox", mode: 0o100755, data: string(bytes.Repeat([]byte{0x7f}, 1001)), ino: 2, nlink: 1},
		{name: "bin/sh", mode: 0o120777, data: "busybox", ino: 3, nlink: 1},
		{name: "dev", mode: 0o40755, ino: 4, nlink: 2},
		{name: "dev/console", mode: 0o20600, rdev: [2]uint32{5, 1}, ino: 5, nlink: 1},
		{name: "empty", mode: 0o100644, ino: 6, nlink: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCPIOWriter_BadName(t *testing.T) {
	for _, name := range []string{"", "/", "a/../b", "a//b", "./a", "a/"} {
		var buf bytes.Buffer
		w := newCPIOWriter(&buf)
		if err := w.File(name, 0o644, nil); err == nil {
			t.Errorf("File(%q): got nil error, want one", name)
		}
		if err := w.Close(); err == nil {
			t.Errorf("Close after File(%q) failed: got nil error, want the sticky one", name)
		}
	}
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestCPIOWriter_WriteErrorSticks(t *testing.T) {
	w := newCPIOWriter(failWriter{})
	if err := w.Dir("bin", 0o755); !errors.Is(err, errDiskFull) {
		t.Fatalf("Dir: got %v, want %v", err, errDiskFull)
	}
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Close: got %v, want %v", err, errDiskFull)
	}
}
