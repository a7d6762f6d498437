package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/hid"
	"github.com/tillscan/tillscan/scanner/scannertest"
)

// listenLines runs a listen command and returns its stdout as a channel of
// lines, and a stop function that cancels it and returns Run's error.
func listenLines(t *testing.T, c *listenCmd) (<-chan string, func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := c.Run(&globals{Ctx: ctx, Stdout: pw, Stderr: &stderr, Env: func(string) string { return "" }})
		pw.Close()
		done <- err
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr) // a pipe blocks, it never returns (0, nil)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines, func() error {
		cancel()
		err := <-done
		for range lines { // drain
		}
		if stderr.Len() > 0 {
			t.Logf("stderr:\n%s", stderr.String())
		}
		return err
	}
}

func wantLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	l, ok := <-lines
	if !ok || !strings.HasPrefix(l, prefix) {
		t.Fatalf("line %q (open %v); want one starting %q", l, ok, prefix)
	}
	return l
}

func TestListen_serialScansAndReplug(t *testing.T) {
	dev := scannertest.NewDevice(t, filepath.Join(t.TempDir(), "usb-Test_Scanner-if00"))
	lines, stop := listenLines(t, &listenCmd{Serial: dev.Path, Terminator: "any"})
	wantLine(t, lines, "listening scanner=serial serial="+dev.Path)
	wantLine(t, lines, "device connected scanner=serial path="+dev.Path)
	dev.Write([]byte("544256-439-856\r\n"))
	if l := wantLine(t, lines, "scan "); l != `scan scanner=serial text="544256-439-856" card="544256-439-856"` {
		t.Errorf("scan line %q", l)
	}
	dev.Unplug()
	wantLine(t, lines, "device gone scanner=serial path="+dev.Path+" err=")
	dev.Replug()
	// Supervise retries with backoff: a failure line for the missing device may come first.
	for l := wantLine(t, lines, "device "); !strings.HasPrefix(l, "device connected"); l = wantLine(t, lines, "device ") {
	}
	dev.Write([]byte("https://x.example/c/123456-789-012\r"))
	dev.Write([]byte("5012345678900\r"))
	if l := wantLine(t, lines, "scan "); l != `scan scanner=serial text="https://x.example/c/123456-789-012" card="123456-789-012"` {
		t.Errorf("scan line %q", l)
	}
	if l := wantLine(t, lines, "scan "); l != `scan scanner=serial text="5012345678900" card=none` {
		t.Errorf("scan line %q", l)
	}
	if err := stop(); err != nil {
		t.Errorf("Run() = %v; want nil after interrupt", err)
	}
}

// Another process holding the serial port (here a child with it as its
// stdin, as the tillscan service would hold it) is named before listen
// opens the port.
func TestListen_portBusy(t *testing.T) {
	dev := scannertest.NewDevice(t, filepath.Join(t.TempDir(), "usb-Test_Scanner-if00"))
	f, err := os.Open(dev.Path)
	if err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("sleep", "60")
	holder.Stdin = f
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	lines, stop := listenLines(t, &listenCmd{Serial: dev.Path, Terminator: "any"})
	wantLine(t, lines, "listening scanner=serial")
	want := fmt.Sprintf("port busy scanner=serial path=%s pid=%d command=%q", dev.Path, holder.Process.Pid, "sleep")
	if l := wantLine(t, lines, "port busy "); l != want {
		t.Errorf("line %q; want %q", l, want)
	}
	if err := stop(); err != nil {
		t.Errorf("Run() = %v", err)
	}
}

func TestListen_hidStartsAndStops(t *testing.T) {
	if !hid.Supported() {
		_, stop := listenLines(t, &listenCmd{HID: []string{"0627:0001"}, Layout: "us", Mode: "auto", Terminator: "any"})
		if err := stop(); !errors.Is(err, hid.ErrUnsupported) {
			t.Errorf("listen --hid without cgo = %v; want ErrUnsupported", err)
		}
		return
	}
	lines, stop := listenLines(t, &listenCmd{HID: []string{"0627:0001"}, Layout: "fr", Interface: -1, Mode: "auto", Terminator: "any"})
	if l := <-lines; l != "listening scanner=hid-0627:0001 hid=0627:0001 layout=fr mode=auto" {
		t.Errorf("first line %q", l)
	}
	if err := stop(); err != nil {
		t.Errorf("Run() = %v; want nil after interrupt", err)
	}
}

func TestListen_badArguments(t *testing.T) {
	tests := []struct {
		c    listenCmd
		want string
	}{
		{listenCmd{}, "give --hid VID:PID or --serial PATH"},
		{listenCmd{HID: []string{"0627"}}, "not VID:PID"},
		{listenCmd{HID: []string{"0627:zz"}}, "not VID:PID"},
		{listenCmd{Serial: "/dev/x", Terminator: "semicolon"}, "--terminator: scanner: unknown terminator"},
		{listenCmd{Serial: "/dev/x", Mode: "serial"}, "--mode: "},
		{listenCmd{Serial: "/dev/x", POSFormat: "zebra"}, "--pos-format: hid: unknown HID POS format"},
		{listenCmd{Serial: "/dev/x", Layout: "dvorak"}, "--layout: "},
		{listenCmd{Serial: "/dev/x", PassLayout: "dvorak"}, "--pass-layout: "},
	}
	for _, tt := range tests {
		err := tt.c.Run(&globals{Ctx: t.Context(), Stdout: io.Discard, Stderr: io.Discard})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("listen %+v = %v; want an error about %q", tt.c, err, tt.want)
		}
	}
}

// --passthrough opens /dev/uinput before any scanner: where it is missing
// (this host's kernel has none) the error names the fix; where it exists,
// the virtual keyboard is announced.
func TestListen_passthroughOpensUinput(t *testing.T) {
	c := &listenCmd{Serial: "/dev/nonexistent-scanner", Terminator: "any", Layout: "us", Passthrough: true}
	if _, err := os.Stat("/dev/uinput"); err != nil {
		err := c.Run(&globals{Ctx: t.Context(), Stdout: io.Discard, Stderr: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "modprobe uinput") {
			t.Errorf("listen --passthrough without /dev/uinput = %v; want an error naming modprobe uinput", err)
		}
		return
	}
	lines, stop := listenLines(t, c)
	wantLine(t, lines, "listening scanner=serial")
	wantLine(t, lines, "passthrough ready layout=us event=")
	if err := stop(); err != nil && !strings.Contains(err.Error(), "nonexistent-scanner") {
		t.Errorf("Run() = %v", err)
	}
}

// The flags' choices come from the packages' own lists.
func TestListen_helpListsThePackagesChoices(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"listen", "--help"}, nil, &out, io.Discard, func(string) string { return "" }); err != nil {
		t.Fatalf("listen --help: %v", err)
	}
	var want []string
	for _, term := range scanner.Terminators() {
		want = append(want, term.String())
	}
	for _, m := range hid.Modes() {
		want = append(want, string(m))
	}
	want = append(append(want, hid.Layouts()...), hid.POSFormats()...)
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("listen --help does not list %q:\n%s", w, out.String())
		}
	}
	// Every listed choice is accepted.
	var cs []listenCmd
	for _, term := range scanner.Terminators() {
		cs = append(cs, listenCmd{Terminator: term.String()})
	}
	for _, m := range hid.Modes() {
		cs = append(cs, listenCmd{Mode: string(m)})
	}
	for _, l := range hid.Layouts() {
		cs = append(cs, listenCmd{Layout: l, PassLayout: l})
	}
	for _, f := range hid.POSFormats() {
		cs = append(cs, listenCmd{POSFormat: f})
	}
	for _, c := range cs {
		if _, _, err := c.check(); err != nil {
			t.Errorf("listen %+v: %v", c, err)
		}
	}
}

func TestParseVIDPID(t *testing.T) {
	for in, want := range map[string][2]uint16{"0c2e:0b61": {0x0c2e, 0x0b61}, "0x0627:0x0001": {0x627, 1}, "0C2E:0B61": {0xc2e, 0xb61}} {
		v, p, err := parseVIDPID(in)
		if err != nil || v != want[0] || p != want[1] {
			t.Errorf("parseVIDPID(%q) = %04x, %04x, %v; want %04x:%04x", in, v, p, err, want[0], want[1])
		}
	}
	for _, in := range []string{"", "0:1", "10000:1", "abc"} {
		if _, _, err := parseVIDPID(in); err == nil {
			t.Errorf("parseVIDPID(%q) succeeded", in)
		}
	}
}

// The exact lines the QEMU end-to-end test parses.
func TestListen_lineFormat(t *testing.T) {
	var buf bytes.Buffer
	out := &lineWriter{w: &buf}
	h := out.hidHooks(true)
	d := hid.Device{Path: "1-1:1.0", VID: 0x0627, PID: 1, Product: "QEMU USB Keyboard", Serial: "68284"}
	h.Event(hid.Event{Kind: hid.Connected, Scanner: "hid-0627:0001", Device: d})
	h.Raw(d, []byte{0, 0, 0x22, 0, 0, 0, 0, 0})
	out.scan(scanner.Scan{Scanner: "hid-0627:0001", Text: `5"4`}, "")
	out.scan(scanner.Scan{Scanner: "hid-0c2e:0b61", Text: "https://x.example/c/544256-439-856", Symbology: "]Q1"}, "544256-439-856")
	h.Event(hid.Event{Kind: hid.Gone, Scanner: "hid-0627:0001", Device: d, Err: scanner.ErrDeviceGone})
	want := `device connected scanner=hid-0627:0001 path=1-1:1.0 vid=0627 pid=0001 interface=0 product="QEMU USB Keyboard" serial="68284"
raw scanner=hid-0627:0001 path=1-1:1.0 report=0000220000000000
scan scanner=hid-0627:0001 text="5\"4" card=none
scan scanner=hid-0c2e:0b61 text="https://x.example/c/544256-439-856" symbology="]Q1" card="544256-439-856"
device gone scanner=hid-0627:0001 path=1-1:1.0 err="scanner: device gone"
`
	if buf.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestDevices_listSerial(t *testing.T) {
	root := t.TempDir()
	dev, sys := filepath.Join(root, "dev"), filepath.Join(root, "sys")
	mk := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, path string) {
		t.Helper()
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(dev, "ttyACM0"), "")
	mk(filepath.Join(dev, "ttyUSB0"), "")
	ln("../../ttyACM0", filepath.Join(dev, "serial/by-id/usb-Honeywell_1900-if00"))
	// sysfs: ttyACM0's device is the USB interface, whose parent is the USB device.
	usbdev := filepath.Join(sys, "devices/usb1/1-2")
	mk(filepath.Join(usbdev, "idVendor"), "0c2e\n")
	mk(filepath.Join(usbdev, "idProduct"), "0b6a\n")
	mk(filepath.Join(usbdev, "serial"), "17123B4567\n")
	mk(filepath.Join(usbdev, "product"), "Honeywell 1900\n")
	os.MkdirAll(filepath.Join(usbdev, "1-2:1.0"), 0o755)
	ln(filepath.Join(usbdev, "1-2:1.0"), filepath.Join(sys, "class/tty/ttyACM0/device"))

	// Built-in UARTs: Linux makes ttyS0-3 whether there is a UART or not.
	for _, n := range []string{"ttyS0", "ttyS1", "ttyS2", "ttyS3", "ttyS10", "ttyAMA0"} {
		mk(filepath.Join(dev, n), "")
	}
	mk(filepath.Join(sys, "class/tty/ttyS0/type"), "4\n")  // PORT_16550A: the PC's COM1
	mk(filepath.Join(sys, "class/tty/ttyS1/type"), "0\n")  // PORT_UNKNOWN: a placeholder
	mk(filepath.Join(sys, "class/tty/ttyS2/type"), "4\n")  // a second real port
	mk(filepath.Join(sys, "class/tty/ttyS3/device/x"), "") // no type, no driver: not listed
	mk(filepath.Join(sys, "class/tty/ttyS10/device/driver/x"), "")
	mk(filepath.Join(sys, "class/tty/ttyAMA0/type"), "0\n") // ttyAMA nodes exist only for real PL011s

	var got []string
	for _, p := range listSerial(dev, filepath.Join(sys, "class/tty")) {
		got = append(got, strings.ReplaceAll(p.line(), root, ""))
	}
	want := []string{
		`* /dev/serial/by-id/usb-Honeywell_1900-if00 -> /dev/ttyACM0 0c2e:0b6a serial="17123B4567" product="Honeywell 1900"`,
		`  /dev/ttyUSB0`,
		`  /dev/ttyS0 built-in UART`,
		`  /dev/ttyS2 built-in UART`,
		`  /dev/ttyS10 built-in UART`,
		`  /dev/ttyAMA0 built-in UART`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("listSerial:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// portUsers finds who has a serial port open from /proc/<pid>/fd links,
// through the by-id name, leaving out listen itself.
func TestDevices_portUsers(t *testing.T) {
	root := t.TempDir()
	dev, proc := filepath.Join(root, "dev"), filepath.Join(root, "proc")
	tty := filepath.Join(dev, "ttyACM0")
	byID := filepath.Join(dev, "serial/by-id/usb-Honeywell_1900-if00")
	for _, d := range []string{filepath.Dir(byID), filepath.Join(proc, "812/fd"), filepath.Join(proc, "900/fd"), filepath.Join(proc, "1000/fd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{tty: "", filepath.Join(proc, "812/comm"): "tillscan\n", filepath.Join(proc, "1000/comm"): "tillscan\n"}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		byID:                             "../../ttyACM0",
		filepath.Join(proc, "812/fd/0"):  "/dev/null",
		filepath.Join(proc, "812/fd/7"):  tty, // the daemon
		filepath.Join(proc, "812/fd/8"):  tty, // twice: one entry
		filepath.Join(proc, "900/fd/3"):  filepath.Join(dev, "ttyUSB0"),
		filepath.Join(proc, "1000/fd/5"): tty, // listen itself
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	got := portUsers(proc, byID, 1000)
	if want := []portUser{{pid: 812, command: "tillscan"}}; !slices.Equal(got, want) {
		t.Errorf("portUsers = %+v; want %+v", got, want)
	}
	if got := portUsers(proc, filepath.Join(dev, "ttyS9"), 1000); got != nil {
		t.Errorf("portUsers of a missing device = %+v; want none", got)
	}
}

func TestDevices_run(t *testing.T) {
	var buf bytes.Buffer
	if err := (&devicesCmd{}).Run(&globals{Ctx: t.Context(), Stdout: &buf, Stderr: io.Discard}); err != nil {
		t.Fatalf("devices: %v", err)
	}
	if s := buf.String(); !strings.HasPrefix(s, "HID devices:\n") || !strings.Contains(s, "\nSerial devices:\n") {
		t.Errorf("devices output:\n%s", s)
	}
}
