package hid

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/scanner"
)

// fakeDevice is an open device. It fails the test if it is read
// concurrently, read after Close, closed twice, or closed while a read is in
// flight (hidapi's undefined behaviour).
type fakeDevice struct {
	t       testing.TB
	reports chan []byte
	gone    chan struct{} // closed on unplug: reads fail from then on
	writes  chan []byte
	inRead  atomic.Int32
	closed  atomic.Int32

	mu    sync.Mutex
	waits []int // the timeout of every read, in milliseconds
}

// readTimeouts returns the timeout of every read so far.
func (d *fakeDevice) readTimeouts() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.waits)
}

func (d *fakeDevice) ReadTimeout(b []byte, ms int) (int, error) {
	if d.inRead.Add(1) != 1 {
		d.t.Error("two reads in flight on one device")
	}
	defer d.inRead.Add(-1)
	d.mu.Lock()
	d.waits = append(d.waits, ms)
	d.mu.Unlock()
	if d.closed.Load() != 0 {
		d.t.Error("read after Close")
		return 0, errors.New("closed")
	}
	select {
	case <-d.gone:
		return 0, errors.New("hidapi: hid_error is not implemented yet")
	default:
	}
	select {
	case r := <-d.reports:
		return copy(b, r), nil
	case <-d.gone:
		return 0, errors.New("hidapi: hid_error is not implemented yet")
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return 0, nil
	}
}

func (d *fakeDevice) Write(b []byte) (int, error) {
	d.writes <- slices.Clone(b)
	return len(b), nil
}

func (d *fakeDevice) Close() error {
	if d.inRead.Load() != 0 {
		d.t.Error("Close while a Read is in flight")
	}
	if d.closed.Add(1) != 1 {
		d.t.Error("device closed twice")
	}
	return nil
}

// fakeBackend is a USB bus the test plugs devices into.
type fakeBackend struct {
	t testing.TB

	// changes is what watch returns: plug and unplug announce themselves
	// on it, as the kernel does; nil is a system without USB events.
	changes chan struct{}

	mu      sync.Mutex
	plugged map[string]Device      // listed by enumerate
	next    map[string]*fakeDevice // what open returns for a path
	openErr map[string]error
	opened  []*fakeDevice // every device ever opened
	looks   int           // enumerate calls
}

func newFakeBackend(t testing.TB) *fakeBackend {
	return &fakeBackend{t: t, changes: make(chan struct{}, 1),
		plugged: map[string]Device{}, next: map[string]*fakeDevice{}, openErr: map[string]error{}}
}

func (b *fakeBackend) supported() bool        { return true }
func (b *fakeBackend) check() (string, error) { return "", nil }

func (b *fakeBackend) watch(context.Context, *sync.WaitGroup) (<-chan struct{}, error) {
	if b.changes == nil {
		return nil, nil
	}
	return b.changes, nil
}

// announce tells the Source the bus changed, as a kernel uevent does.
func (b *fakeBackend) announce() {
	if b.changes == nil {
		return
	}
	select {
	case b.changes <- struct{}{}:
	default:
	}
}

// lookCount returns how many times the Source listed the devices.
func (b *fakeBackend) lookCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.looks
}

func (b *fakeBackend) enumerate(vid, pid uint16) ([]Device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.looks++
	var out []Device
	for _, d := range b.plugged {
		if d.VID == vid && d.PID == pid {
			out = append(out, d)
		}
	}
	return out, nil
}

func (b *fakeBackend) open(d Device) (device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.openErr[d.Path]; err != nil {
		return nil, err
	}
	fd := b.next[d.Path]
	if fd == nil {
		b.t.Errorf("open(%s): device not plugged", d.Path)
		return nil, errors.New("not plugged")
	}
	delete(b.next, d.Path)
	b.opened = append(b.opened, fd)
	return fd, nil
}

// plug connects a device and returns the handle open will return for it.
func (b *fakeBackend) plug(d Device) *fakeDevice {
	b.mu.Lock()
	defer b.mu.Unlock()
	fd := &fakeDevice{t: b.t, reports: make(chan []byte, 64), gone: make(chan struct{}), writes: make(chan []byte, 4)}
	b.plugged[d.Path] = d
	b.next[d.Path] = fd
	b.announce()
	return fd
}

// unplug removes the device; an open handle fails its next read.
func (b *fakeBackend) unplug(path string, fd *fakeDevice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.plugged, path)
	delete(b.next, path)
	close(fd.gone)
	b.announce()
}

func (b *fakeBackend) setOpenErr(path string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.openErr[path] = err
}

func (b *fakeBackend) checkAllClosed(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, fd := range b.opened {
		if n := fd.closed.Load(); n != 1 {
			t.Errorf("device %d closed %d times; want 1", i, n)
		}
	}
}

const testVID, testPID = 0x0c2e, 0x0b61

func typeText(t testing.TB, fd *fakeDevice, layout, text string) {
	t.Helper()
	l, err := LayoutByName(layout)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range genReports(t, l, text, genOpts{holdShift: true}) {
		fd.reports <- r
	}
}

// harness runs a Source over a fake bus inside a synctest bubble.
type harness struct {
	b      *fakeBackend
	src    *Source
	scans  chan scanner.Scan
	events chan Event
	cancel context.CancelFunc
	done   chan error
}

func startSource(t *testing.T, cfg Config) *harness {
	t.Helper()
	return startSourceOn(t, cfg, newFakeBackend(t))
}

func startSourceOn(t *testing.T, cfg Config, b *fakeBackend) *harness {
	t.Helper()
	h := &harness{b: b, scans: make(chan scanner.Scan, 16), events: make(chan Event, 16), done: make(chan error, 1)}
	src, err := newSource(cfg, zerolog.New(zerolog.NewTestWriter(t)), Hooks{Event: func(e Event) { h.events <- e }}, h.b)
	if err != nil {
		t.Fatalf("newSource: %v", err)
	}
	h.src = src
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel = cancel
	go func() { h.done <- src.Run(ctx, func(s scanner.Scan) { h.scans <- s }) }()
	return h
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	if err := <-h.done; err != nil {
		t.Errorf("Run() = %v; want nil after cancel", err)
	}
	h.b.checkAllClosed(t)
}

func (h *harness) wantEvent(t *testing.T, kind EventKind, path string) Event {
	t.Helper()
	e := <-h.events
	if e.Kind != kind || e.Device.Path != path {
		t.Fatalf("event %v %s (err %v); want %v %s", e.Kind, e.Device.Path, e.Err, kind, path)
	}
	return e
}

func (h *harness) wantScan(t *testing.T, name, text string) {
	t.Helper()
	s := <-h.scans
	if s.Text != text || s.Scanner != name || s.At.IsZero() {
		t.Fatalf("scan %+v; want text %q from %q with a time", s, text, name)
	}
}

func TestSource_hotplug(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSource(t, Config{Name: "till", VID: testVID, PID: testPID, Interface: AnyInterface, Layout: "fr",
			Feedback: Feedback{Good: []byte{0xFD, 0x03, 0x16, 0x07, 0x0D}}})
		if err := h.src.Feedback(true); !errors.Is(err, ErrNotConnected) {
			t.Errorf("Feedback before connect = %v; want ErrNotConnected", err)
		}
		const path = "1-2.3:1.0"
		d := Device{Path: path, VID: testVID, PID: testPID, Protocol: 1}
		// Not opened: another product, and a mouse sharing the VID:PID.
		h.b.plug(Device{Path: "1-4:1.0", VID: testVID, PID: 0x0001})
		h.b.plug(Device{Path: "1-2.3:1.1", VID: testVID, PID: testPID, Protocol: 2})

		fd := h.b.plug(d)
		h.wantEvent(t, Connected, path)
		typeText(t, fd, "fr", "544256-439-856\r")
		h.wantScan(t, "till", "544256-439-856")

		if err := h.src.Feedback(true); err != nil {
			t.Errorf("Feedback(true) = %v", err)
		}
		if got := <-fd.writes; !slices.Equal(got, []byte{0xFD, 0x03, 0x16, 0x07, 0x0D}) {
			t.Errorf("feedback report % x; want the configured good report", got)
		}
		if err := h.src.Feedback(false); !errors.Is(err, ErrNoFeedback) {
			t.Errorf("Feedback(false) = %v; want ErrNoFeedback (no bad report configured)", err)
		}

		// Half a scan, then the cable is pulled: the partial scan is lost, not glued to the next.
		typeText(t, fd, "fr", "5442")
		synctest.Wait()
		h.b.unplug(path, fd)
		if e := h.wantEvent(t, Gone, path); !errors.Is(e.Err, scanner.ErrDeviceGone) {
			t.Errorf("Gone event error %v; want ErrDeviceGone", e.Err)
		}

		time.Sleep(5 * time.Second) // nothing is plugged: nothing is opened
		fd2 := h.b.plug(d)
		h.wantEvent(t, Connected, path)
		typeText(t, fd2, "fr", "123456-789-012\r")
		h.wantScan(t, "till", "123456-789-012")
		h.stop(t)
		if len(h.b.opened) != 2 {
			t.Errorf("%d devices opened; want 2 (the scanner, then again after re-plug)", len(h.b.opened))
		}
		select {
		case s := <-h.scans:
			t.Errorf("extra scan %+v", s)
		default:
		}
	})
}

// Two identical scanners on one Config: one goroutine and one decoder
// state each, so interleaved typing does not mix.
func TestSource_twoDevicesInterleaved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSource(t, Config{VID: testVID, PID: testPID, Interface: AnyInterface, Layout: "us"})
		a := h.b.plug(Device{Path: "1-1:1.0", VID: testVID, PID: testPID})
		b := h.b.plug(Device{Path: "1-2:1.0", VID: testVID, PID: testPID})
		<-h.events
		<-h.events
		us, _ := LayoutByName("us")
		ra := genReports(t, us, "AAAA-111\r", genOpts{holdShift: true})
		rb := genReports(t, us, "bbbb-222\r", genOpts{})
		for i := range max(len(ra), len(rb)) {
			if i < len(ra) {
				a.reports <- ra[i]
			}
			if i < len(rb) {
				b.reports <- rb[i]
			}
			synctest.Wait() // both goroutines have read what they were sent
		}
		got := []string{(<-h.scans).Text, (<-h.scans).Text}
		slices.Sort(got)
		if want := []string{"AAAA-111", "bbbb-222"}; !slices.Equal(got, want) {
			t.Errorf("scans %q; want %q", got, want)
		}
		if name := h.src.Name(); name != "hid-0c2e:0b61" {
			t.Errorf("Name() = %q; want the default hid-0c2e:0b61", name)
		}
		h.stop(t)
	})
}

func TestSource_openFailureReportedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSource(t, Config{VID: testVID, PID: testPID, Interface: 0, Serial: "S1", Path: "1-2"})
		denied := errors.New("hid: no permission (test)")
		h.b.setOpenErr("1-2:1.0", denied)
		h.b.plug(Device{Path: "1-2:1.1", VID: testVID, PID: testPID, Serial: "S1", Interface: 1}) // wrong interface
		h.b.plug(Device{Path: "1-3:1.0", VID: testVID, PID: testPID, Serial: "S1"})               // wrong port
		h.b.plug(Device{Path: "1-2:1.0", VID: testVID, PID: testPID, Serial: "S2"})               // wrong serial
		h.b.plug(Device{Path: "1-2:1.0", VID: testVID, PID: testPID, Serial: "S1"})
		if e := h.wantEvent(t, OpenFailed, "1-2:1.0"); !errors.Is(e.Err, denied) {
			t.Errorf("OpenFailed error %v; want the open error", e.Err)
		}
		time.Sleep(10 * time.Second) // ten more polls: the same failure is not reported again
		synctest.Wait()
		if len(h.events) != 0 {
			t.Errorf("%d more events; want the failure reported once", len(h.events))
		}
		h.b.setOpenErr("1-2:1.0", nil)
		h.wantEvent(t, Connected, "1-2:1.0")
		h.stop(t)
	})
}

// RunReporting says connected only while a matching device is open: not
// at start with nothing plugged in, not after an open failed, not once the
// last device went.
func TestSource_RunReporting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend(t)
		src, err := newSource(Config{VID: testVID, PID: testPID, Interface: AnyInterface}, zerolog.Nop(), Hooks{}, b)
		if err != nil {
			t.Fatal(err)
		}
		type state struct {
			connected bool
			err       error
		}
		states := make(chan state, 16)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- src.RunReporting(ctx, func(scanner.Scan) {}, func(c bool, err error) { states <- state{c, err} })
		}()
		want := func(connected bool, is error) {
			t.Helper()
			s := <-states
			if s.connected != connected || is == nil && s.err != nil || is != nil && !errors.Is(s.err, is) {
				t.Fatalf("state %v, %v; want %v, %v", s.connected, s.err, connected, is)
			}
		}
		want(false, scanner.ErrDeviceGone) // nothing plugged in at start
		const path = "1-2:1.0"
		d := Device{Path: path, VID: testVID, PID: testPID}
		denied := errors.New("hid: no permission (test)")
		b.setOpenErr(path, denied)
		fd1 := b.plug(d) // opened once the error is gone
		want(false, denied)
		b.setOpenErr(path, nil)
		want(true, nil)
		fd2 := b.plug(Device{Path: "1-3:1.0", VID: testVID, PID: testPID}) // a second one: still connected
		synctest.Wait()
		b.unplug("1-3:1.0", fd2)
		synctest.Wait()
		if len(states) != 0 {
			t.Errorf("a second device came and went: %d more states; want none while the first stays open", len(states))
		}
		b.unplug(path, fd1)
		want(false, scanner.ErrDeviceGone)
		b.plug(d)
		want(true, nil)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("RunReporting() = %v", err)
		}
		want(false, nil) // stopping
		b.checkAllClosed(t)
	})
}

func TestNew_config(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no vid", Config{PID: 1}, "vid/pid"},
		{"bad layout", Config{VID: 1, PID: 1, Layout: "jp"}, "layout"},
		{"bad mode", Config{VID: 1, PID: 1, Mode: "mouse"}, "mode"},
		{"bad pos format", Config{VID: 1, PID: 1, POSFormat: "x"}, "HID POS format"},
		{"bad interface", Config{VID: 1, PID: 1, Interface: -2}, "interface"},
		{"none without idle", Config{VID: 1, PID: 1, Frame: scanner.FrameConfig{Terminator: scanner.TermNone, IdleTimeout: -1}}, "idle"},
		{"long feedback", Config{VID: 1, PID: 1, Feedback: Feedback{Bad: make([]byte, 66)}}, "feedback"},
	}
	for _, tt := range tests {
		_, err := newSource(tt.cfg, zerolog.Nop(), Hooks{}, newFakeBackend(t))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: newSource() = %v; want an error about %q", tt.name, err, tt.want)
		}
	}
	if _, err := newSource(Config{VID: 1, PID: 1}, zerolog.Nop(), Hooks{}, unsupported{}); !errors.Is(err, ErrUnsupported) ||
		!strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Errorf("newSource without cgo = %v; want ErrUnsupported naming CGO_ENABLED=1", err)
	}
}

type unsupported struct{ *fakeBackend }

func (unsupported) supported() bool { return false }

func TestExplainOpen(t *testing.T) {
	sys := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sys, "1-2.3"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sys, "1-2.3", "busnum"), []byte("1\n"), 0o644)
	os.WriteFile(filepath.Join(sys, "1-2.3", "devnum"), []byte("7\n"), 0o644)
	d := Device{Path: "1-2.3:1.0", VID: 0x0c2e, PID: 0x0b61}
	base := errors.New("hidapi: failed to open device")
	err := explainOpen(d, base, sys)
	if !errors.Is(err, base) || !strings.Contains(err.Error(), "/dev/bus/usb/001/007") {
		t.Errorf("explainOpen = %v; want the open error and the usbfs node", err)
	}
	err = explainOpen(Device{Path: "9-9:1.0"}, base, sys)
	if !errors.Is(err, base) || !strings.Contains(err.Error(), "gone") {
		t.Errorf("explainOpen(no sysfs) = %v; want a hint that the device is gone", err)
	}
}

type noNetlink struct{ *fakeBackend }

func (noNetlink) check() (string, error) {
	return "", &netlinkError{errors.New("address family not supported by protocol")}
}

func TestSource_Run_noNetlink(t *testing.T) {
	src, err := newSource(Config{VID: 1, PID: 1}, zerolog.Nop(), Hooks{}, noNetlink{newFakeBackend(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(t.Context(), func(scanner.Scan) {})
	if !errors.Is(err, ErrNoNetlink) || !strings.Contains(err.Error(), "AF_NETLINK") {
		t.Errorf("Run without netlink = %v; want ErrNoNetlink naming AF_NETLINK", err)
	}
}

// A scan the framer drops (here: the rest never came) makes the scanner
// signal a bad read.
func TestSource_rejectSendsBadRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := []byte{0xFD, 0x03, 0x16, 0x07, 0x07}
		h := startSource(t, Config{VID: testVID, PID: testPID, Interface: AnyInterface, Feedback: Feedback{Bad: bad}})
		fd := h.b.plug(Device{Path: "1-1:1.0", VID: testVID, PID: testPID})
		h.wantEvent(t, Connected, "1-1:1.0")
		typeText(t, fd, "us", "5442")
		if got := <-fd.writes; !slices.Equal(got, bad) {
			t.Errorf("report % x after a dropped partial scan; want the bad-read report % x", got, bad)
		}
		h.stop(t)
	})
}

// TestSource_readTimeouts checks what each read waits for: an idle device
// is read with the long idle timeout (one wake-up a second, not ten), a
// partial scan until the framer's deadline, which ends it.
func TestSource_readTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idleMS = int(idleReadTimeout / time.Millisecond)
		h := startSource(t, Config{VID: testVID, PID: testPID, Interface: AnyInterface,
			Frame: scanner.FrameConfig{Terminator: scanner.TermNone, IdleTimeout: 50 * time.Millisecond}})
		fd := h.b.plug(Device{Path: "1-1:1.0", VID: testVID, PID: testPID})
		h.wantEvent(t, Connected, "1-1:1.0")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		idle := fd.readTimeouts()
		if len(idle) < 10 || len(idle) > 12 {
			t.Errorf("%d reads in 10s idle; want about 10 (one per %v)", len(idle), idleReadTimeout)
		}
		for i, ms := range idle {
			if ms != idleMS {
				t.Fatalf("idle read %d waited %d ms; want %d", i, ms, idleMS)
			}
		}

		typeText(t, fd, "us", "544256-439-856") // no terminator: the idle gap ends it
		h.wantScan(t, "hid-0c2e:0b61", "544256-439-856")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		all := fd.readTimeouts()
		var partial int
		for i, ms := range all[len(idle):] {
			switch {
			case ms == idleMS:
			case ms >= 1 && ms <= 50:
				partial++
			default:
				t.Errorf("read %d after typing waited %d ms; want at most the 50 ms idle gap, or %d", i, ms, idleMS)
			}
		}
		if partial == 0 {
			t.Errorf("no read waited for the partial scan's idle end: %v", all[len(idle):])
		}
		if last := all[len(all)-1]; last != idleMS {
			t.Errorf("last read waited %d ms; want %d once the scan ended", last, idleMS)
		}
		h.stop(t)
	})
}

// TestSource_looksOnlyWhenTold checks when devices are listed: at start,
// after the kernel announces a USB change, and a Poll after a device failed;
// never while everything listed is open or nothing is plugged in, so an
// idle till does not wake to enumerate USB.
func TestSource_looksOnlyWhenTold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSource(t, Config{VID: testVID, PID: testPID, Interface: AnyInterface})
		synctest.Wait()
		if n := h.b.lookCount(); n != 1 {
			t.Fatalf("%d looks at start; want 1", n)
		}
		time.Sleep(time.Hour) // nothing plugged in: no look
		synctest.Wait()
		if n := h.b.lookCount(); n != 1 {
			t.Fatalf("%d looks after an hour with nothing plugged in; want still 1", n)
		}

		const path = "1-1:1.0"
		fd := h.b.plug(Device{Path: path, VID: testVID, PID: testPID})
		h.wantEvent(t, Connected, path)
		looks := h.b.lookCount()
		time.Sleep(time.Hour) // open and idle: no look
		synctest.Wait()
		if n := h.b.lookCount(); n != looks {
			t.Fatalf("%d looks in an idle hour with the scanner open; want none", n-looks)
		}
		typeText(t, fd, "us", "544256-439-856\r") // still read
		h.wantScan(t, "hid-0c2e:0b61", "544256-439-856")

		// The device fails although it is still listed (no event comes): it
		// is tried again after Poll.
		close(fd.gone)
		h.wantEvent(t, Gone, path)
		h.b.mu.Lock()
		h.b.next[path] = &fakeDevice{t: t, reports: make(chan []byte, 64), gone: make(chan struct{}), writes: make(chan []byte, 4)}
		h.b.mu.Unlock()
		h.wantEvent(t, Connected, path)
		h.stop(t)
	})
}

// TestSource_pollsWithoutEvents checks the fallback: where the kernel's USB
// events cannot be read, or stop, devices are looked for every Poll.
func TestSource_pollsWithoutEvents(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(b *fakeBackend)
	}{
		{"no events", func(b *fakeBackend) { b.changes = nil }},
		{"events stop", func(b *fakeBackend) { close(b.changes) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newFakeBackend(t)
				tt.setup(b)
				h := startSourceOn(t, Config{VID: testVID, PID: testPID, Interface: AnyInterface, Poll: 2 * time.Second}, b)
				time.Sleep(9 * time.Second)
				synctest.Wait()
				if n := b.lookCount(); n < 4 || n > 6 {
					t.Errorf("%d looks in 9s at Poll 2s; want about 5", n)
				}
				b.changes = nil // plug announces nothing: the poll finds it
				b.plug(Device{Path: "1-1:1.0", VID: testVID, PID: testPID})
				h.wantEvent(t, Connected, "1-1:1.0")
				h.stop(t)
			})
		})
	}
}
