package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/scanner/scannertest"
	"go.bug.st/serial"
)

// fakeRead is one result of fakePort.Read, arriving after advance.
// cancel ends ctx first, as the daemon stopping while the read waits.
type fakeRead struct {
	data    string
	err     error
	advance time.Duration
	cancel  bool
}

// fakePort behaves like a go.bug.st/serial port: each Read returns what
// the script says, and (0, nil) stands for a timed read timing out. When
// the script runs out it cancels ctx and returns (0, nil) once more. It
// records the read timeout in effect at each Read.
type fakePort struct {
	script   []fakeRead
	clock    time.Time
	cancel   context.CancelFunc
	timeout  time.Duration
	timeouts []time.Duration // the timeout of each Read, in order
}

// readScript runs a Serial scanner's read loop over a fake port playing
// script until it runs out (which ends ctx), and returns the port (what
// it was asked), the scans emitted and read's error.
func readScript(t *testing.T, frame FrameConfig, script []fakeRead, log zerolog.Logger) (*fakePort, []Scan, error) {
	t.Helper()
	s, err := NewSerial(SerialConfig{Name: "till-1", Path: "/dev/fake", Frame: frame}, log)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := NewFramer(frame)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	port := &fakePort{script: script, clock: t0, cancel: cancel}
	var got []Scan
	err = s.read(ctx, port, f, port.now, func(sc Scan) { got = append(got, sc) })
	return port, got, err
}

func (p *fakePort) SetReadTimeout(d time.Duration) error {
	p.timeout = d
	return nil
}

func (p *fakePort) Read(b []byte) (int, error) {
	p.timeouts = append(p.timeouts, p.timeout)
	if len(p.script) == 0 {
		p.cancel()
		return 0, nil
	}
	r := p.script[0]
	p.script = p.script[1:]
	p.clock = p.clock.Add(r.advance)
	if r.cancel {
		p.cancel()
	}
	return copy(b, r.data), r.err
}

func (p *fakePort) now() time.Time { return p.clock }

// timeouts returns k empty reads, each d after the previous one.
func timeouts(k int, d time.Duration) []fakeRead {
	return slices.Repeat([]fakeRead{{advance: d}}, k)
}

func script(parts ...[]fakeRead) []fakeRead { return slices.Concat(parts...) }

func TestSerial_read(t *testing.T) {
	card := "544256-439-856"
	tests := []struct {
		name    string
		frame   FrameConfig
		script  []fakeRead
		want    []string
		wantAt  []time.Duration // offsets from t0 of each scan's At, if checked
		wantErr error           // nil: Run ends by ctx
		wantLog string
	}{
		{
			name: "partial reads with hundreds of empty reads between them make one scan",
			script: script(
				[]fakeRead{{data: "5442"}}, timeouts(150, time.Millisecond),
				[]fakeRead{{data: "56-43"}}, timeouts(150, time.Millisecond),
				[]fakeRead{{data: "9-856\r"}}, timeouts(300, 100*time.Millisecond),
				[]fakeRead{{data: card + "\r"}},
			),
			want: []string{card, card},
		},
		{
			name:  "no terminator: the tick ends the scan at its last byte",
			frame: FrameConfig{Terminator: TermNone, IdleTimeout: 150 * time.Millisecond},
			script: script(
				[]fakeRead{{data: "5442", advance: 10 * time.Millisecond}, {data: "56-439-856", advance: 5 * time.Millisecond}},
				timeouts(3, 100*time.Millisecond),
			),
			want:   []string{card},
			wantAt: []time.Duration{15 * time.Millisecond},
		},
		{
			name: "garbage rejected with a log line, then resync",
			script: []fakeRead{
				{data: "\x00\xff\x01noise\r"}, {data: card + "\r"},
			},
			want:    []string{card},
			wantLog: "scan rejected",
		},
		{
			name:    "stale partial scan dropped, next scan whole",
			script:  script([]fakeRead{{data: "5442"}}, timeouts(6, 100*time.Millisecond), []fakeRead{{data: card + "\r"}}),
			want:    []string{card},
			wantLog: "incomplete scan",
		},
		{
			name:    "EIO is an unplug",
			script:  []fakeRead{{data: card + "\r"}, {err: syscall.EIO}},
			want:    []string{card},
			wantErr: ErrDeviceGone,
		},
		{
			name:    "ENODEV with data pending is an unplug; the partial scan is dropped",
			script:  []fakeRead{{data: "5442"}, {err: syscall.ENODEV}},
			wantErr: ErrDeviceGone,
		},
		{
			name:    "other read errors are returned as such",
			script:  []fakeRead{{err: syscall.EINVAL}},
			wantErr: syscall.EINVAL,
		},
		{
			name:   "a read failing because ctx ended (the port closed under it) is a stop, not an error",
			script: []fakeRead{{data: card + "\r"}, {err: syscall.EBADF, cancel: true}},
			want:   []string{card},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer // read only after read returns, on this goroutine
			_, got, err := readScript(t, tt.frame, tt.script, zerolog.New(&logs))
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("read() = %v, want %v", err, tt.wantErr)
			}
			var texts []string
			for i, sc := range got {
				texts = append(texts, sc.Text)
				if sc.Scanner != "till-1" {
					t.Errorf("scan %d Scanner = %q, want till-1", i, sc.Scanner)
				}
				if i < len(tt.wantAt) && !sc.At.Equal(t0.Add(tt.wantAt[i])) {
					t.Errorf("scan %d At = %v, want %v", i, sc.At, t0.Add(tt.wantAt[i]))
				}
			}
			if !slices.Equal(texts, tt.want) {
				t.Errorf("scans = %q, want %q", texts, tt.want)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log = %q, want it to contain %q", logs.String(), tt.wantLog)
			}
		})
	}
}

// TestSerial_readTimeouts checks what each read waits for: nothing pending
// means no timeout at all (an idle till sleeps instead of polling); a
// partial scan means a read that times out at the Framer's deadline.
func TestSerial_readTimeouts(t *testing.T) {
	none := serial.NoTimeout
	ms := time.Millisecond
	tests := []struct {
		name   string
		frame  FrameConfig
		script []fakeRead
		want   []time.Duration // the timeout of each read, the script's last read (which cancels) included
		scans  []string
	}{
		{
			name:   "idle: every read waits with no timeout",
			script: []fakeRead{{data: "544256-439-856\r", advance: time.Hour}, {data: "\n", advance: 10 * time.Hour}},
			want:   []time.Duration{none, none, none},
			scans:  []string{"544256-439-856"},
		},
		{
			name:  "a partial scan is read until its stale deadline, then idle again",
			frame: FrameConfig{Terminator: TermCR, IdleTimeout: 500 * ms},
			script: []fakeRead{
				{data: "5442", advance: time.Hour}, // after an hour idle
				{data: "56-43", advance: 200 * ms},
				{data: "9-856\r", advance: 100 * ms},
			},
			want:  []time.Duration{none, 500 * ms, 500 * ms, none},
			scans: []string{"544256-439-856"},
		},
		{
			name:   "no terminator: the read times out at the idle end, which ends the scan",
			frame:  FrameConfig{Terminator: TermNone, IdleTimeout: 100 * ms},
			script: []fakeRead{{data: "5442"}, {data: "56-439-856", advance: 30 * ms}, {advance: 100 * ms}},
			want:   []time.Duration{none, 100 * ms, 100 * ms, none},
			scans:  []string{"544256-439-856"},
		},
		{
			name:   "a stale partial scan is dropped at its deadline, then idle again",
			frame:  FrameConfig{Terminator: TermCR, IdleTimeout: 500 * ms},
			script: []fakeRead{{data: "5442"}, {advance: 500 * ms}},
			want:   []time.Duration{none, 500 * ms, none},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, scans, err := readScript(t, tt.frame, tt.script, zerolog.Nop())
			if err != nil {
				t.Fatalf("read() = %v", err)
			}
			var got []string
			for _, sc := range scans {
				got = append(got, sc.Text)
			}
			if !slices.Equal(port.timeouts, tt.want) {
				t.Errorf("read timeouts = %v, want %v (-1ns: none)", port.timeouts, tt.want)
			}
			if !slices.Equal(got, tt.scans) {
				t.Errorf("scans = %q, want %q", got, tt.scans)
			}
		})
	}
}

func TestReadTimeout(t *testing.T) {
	f, err := NewFramer(FrameConfig{Terminator: TermNone, IdleTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := readTimeout(f, t0); got != serial.NoTimeout {
		t.Errorf("nothing pending: readTimeout = %v, want NoTimeout", got)
	}
	f.Feed([]byte("5442"), t0)
	for _, tt := range []struct {
		at   time.Duration // after the last byte
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{40 * time.Millisecond, 60 * time.Millisecond},
		// At or past the deadline (the loop ran late): one short read, never
		// a negative timeout, which the port refuses (or -1ns, which is NoTimeout).
		{100 * time.Millisecond, minReadTimeout},
		{100*time.Millisecond + 1, minReadTimeout},
		{time.Hour, minReadTimeout},
	} {
		if got := readTimeout(f, t0.Add(tt.at)); got != tt.want {
			t.Errorf("%v after the last byte: readTimeout = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestNewSerial_Invalid(t *testing.T) {
	ok := SerialConfig{Name: "s", Path: "/dev/ttyACM0"}
	tests := []struct {
		name string
		edit func(*SerialConfig)
		want string
	}{
		{"no name", func(c *SerialConfig) { c.Name = "" }, "required"},
		{"no path", func(c *SerialConfig) { c.Path = "" }, "required"},
		{"parity", func(c *SerialConfig) { c.Parity = "evn" }, "parity"},
		{"data bits", func(c *SerialConfig) { c.DataBits = 9 }, "data bits"},
		{"stop bits 1.5", func(c *SerialConfig) { c.StopBits = 1.5 }, "1.5 stop bits"},
		{"stop bits 3", func(c *SerialConfig) { c.StopBits = 3 }, "stop bits"},
		{"baud", func(c *SerialConfig) { c.Baud = -1 }, "baud"},
		{"frame", func(c *SerialConfig) { c.Frame.Terminator = TermNone; c.Frame.IdleTimeout = -1 }, "idle timeout"},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := NewSerial(cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewSerial() = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	for _, p := range []string{"none", "ODD", "even", "mark", "space"} {
		cfg := ok
		cfg.Parity, cfg.StopBits, cfg.DataBits, cfg.Baud = p, 2, 7, 115200
		if _, err := NewSerial(cfg, zerolog.Nop()); err != nil {
			t.Errorf("NewSerial(parity %s) = %v", p, err)
		}
	}
}

// runSerial starts s.RunOpened and returns channels of its scans and its
// result, after the port is open.
func runSerial(t *testing.T, ctx context.Context, s *Serial) (<-chan Scan, <-chan error) {
	t.Helper()
	scans := make(chan Scan, 16)
	done := make(chan error, 1)
	opened := make(chan struct{})
	go func() { done <- s.RunOpened(ctx, func(sc Scan) { scans <- sc }, func() { close(opened) }) }()
	select {
	case <-opened:
	case err := <-done:
		t.Fatalf("RunOpened() = %v before opening", err)
	}
	return scans, done
}

func newTestSerial(t *testing.T, path string) *Serial {
	t.Helper()
	s, err := NewSerial(SerialConfig{Name: "till-1", Path: path, GoodRead: []byte("\x07"), BadRead: []byte("NAK\r")},
		zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSerial_PTY(t *testing.T) {
	dev := scannertest.NewDevice(t, filepath.Join(t.TempDir(), "usb-Test_Scanner-if00"))
	s := newTestSerial(t, dev.Path)
	if err := s.Feedback(true); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Feedback() before Run = %v, want ErrNotConnected", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	scans, done := runSerial(t, ctx, s)

	url := "https://shop.example/c/544256-439-856?ü=1"
	for _, piece := range []string{"https://sh", "op.example/c/54", "4256-439-856?\xc3", "\xbc=1\r"} {
		if _, err := dev.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	if sc := <-scans; sc.Text != url || sc.Scanner != "till-1" {
		t.Errorf("scan = %+v, want %q from till-1", sc, url)
	}

	if err := s.Feedback(true); err != nil {
		t.Fatalf("Feedback(true) = %v", err)
	}
	dev.PTY().Expect(t, []byte("\x07"))
	if err := s.Feedback(false); err != nil {
		t.Fatalf("Feedback(false) = %v", err)
	}
	dev.PTY().Expect(t, []byte("NAK\r"))

	// A rejected scan sends the bad-read bytes by itself.
	dev.Write([]byte("\x1b[2~\r"))
	dev.PTY().Expect(t, []byte("NAK\r"))

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() after cancel = %v, want nil", err)
	}
	if err := s.Feedback(true); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Feedback() after Run = %v, want ErrNotConnected", err)
	}
}

func TestSerial_PTY_Unplug(t *testing.T) {
	dev := scannertest.NewDevice(t, filepath.Join(t.TempDir(), "usb-Test_Scanner-if00"))
	s := newTestSerial(t, dev.Path)
	_, done := runSerial(t, t.Context(), s)
	dev.Unplug()
	err := <-done
	if !errors.Is(err, ErrDeviceGone) {
		t.Fatalf("Run() after unplug = %v, want ErrDeviceGone", err)
	}
	t.Logf("Run() after unplug = %v", err)
}

// waitResult waits for Run's result: a correctness bound (a read left
// blocked forever), not a measure of speed.
func waitResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s")
		return nil
	}
}

// TestSerial_PTY_CancelWhileIdle stops Run while its read waits with no
// timeout on a silent port: ctx ending closes the port, which ends the read,
// and Run returns nil, not the closed port's error.
func TestSerial_PTY_CancelWhileIdle(t *testing.T) {
	pty := scannertest.NewPTY(t)
	s := newTestSerial(t, pty.Path)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	scans, done := runSerial(t, ctx, s)
	pty.WriteString("544256-439-856\r") // one scan, so the read loop has turned and is idle again
	if sc := <-scans; sc.Text != "544256-439-856" {
		t.Fatalf("scan = %q, want 544256-439-856", sc.Text)
	}
	time.Sleep(300 * time.Millisecond) // silence: the read waits (it used to return every 100 ms)
	cancel()
	if err := waitResult(t, done); err != nil {
		t.Fatalf("Run() after cancel = %v, want nil", err)
	}
	if err := s.Feedback(true); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Feedback() after cancel = %v, want ErrNotConnected", err)
	}
}

// TestSerial_PTY_IdleEnd reads a scanner with no terminator through a real
// port: the read waiting on the partial scan times out at its idle end, and
// the scan is emitted without another byte arriving.
func TestSerial_PTY_IdleEnd(t *testing.T) {
	pty := scannertest.NewPTY(t)
	s, err := NewSerial(SerialConfig{Name: "till-1", Path: pty.Path,
		Frame: FrameConfig{Terminator: TermNone, IdleTimeout: 50 * time.Millisecond}}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	scans, done := runSerial(t, ctx, s)
	for _, card := range []string{"544256-439-856", "544256-439-857"} {
		pty.WriteString(card)
		select {
		case sc := <-scans:
			if sc.Text != card {
				t.Fatalf("scan = %q, want %q", sc.Text, card)
			}
		case err := <-done:
			t.Fatalf("Run() = %v before the scan ended", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no scan within 5s of writing %q without a terminator", card)
		}
	}
	cancel()
	if err := waitResult(t, done); err != nil {
		t.Fatalf("Run() after cancel = %v, want nil", err)
	}
}

func TestSerial_OpenErrors(t *testing.T) {
	dir := t.TempDir()
	notTTY := filepath.Join(dir, "file")
	if err := os.WriteFile(notTTY, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		wantGone bool
		want     string
	}{
		{filepath.Join(dir, "missing"), true, "device gone"},
		{notTTY, false, "check the path names a serial device"},
	}
	for _, tt := range tests {
		err := newTestSerial(t, tt.path).Run(t.Context(), func(Scan) { t.Error("unexpected scan") })
		if err == nil || errors.Is(err, ErrDeviceGone) != tt.wantGone || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%s) = %v; want gone=%v and %q", tt.path, err, tt.wantGone, tt.want)
		}
	}
}

// TestSerial_PTY_FeedbackWhileReading calls Feedback from another goroutine
// while Run reads scans, for the race detector and to show writes and reads
// share the port safely.
func TestSerial_PTY_FeedbackWhileReading(t *testing.T) {
	pty := scannertest.NewPTY(t)
	s := newTestSerial(t, pty.Path)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	scans, done := runSerial(t, ctx, s)

	const n = 50
	fed := make(chan error, 1)
	go func() {
		var err error
		for range n {
			err = errors.Join(err, s.Feedback(true))
		}
		fed <- err
	}()
	for i := range n {
		card := fmt.Sprintf("544256-439-%03d", i)
		pty.WriteString(card + "\r")
		if sc := <-scans; sc.Text != card {
			t.Fatalf("scan %d = %q, want %q", i, sc.Text, card)
		}
	}
	if err := <-fed; err != nil {
		t.Fatalf("Feedback() = %v", err)
	}
	pty.Expect(t, bytes.Repeat([]byte("\x07"), n))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

// BenchmarkSerial_PTYLatency measures one scan's trip from the scanner side
// of a pty to emit: write, select wake-up, read, frame, emit.
func BenchmarkSerial_PTYLatency(b *testing.B) {
	pty := scannertest.NewPTY(b)
	s, err := NewSerial(SerialConfig{Name: "bench", Path: pty.Path}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	scans := make(chan Scan, 1)
	opened := make(chan struct{})
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- s.RunOpened(ctx, func(sc Scan) { scans <- sc }, func() { close(opened) }) }()
	<-opened
	scan := []byte("544256-439-856\r")
	for b.Loop() {
		pty.Write(scan)
		<-scans
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
