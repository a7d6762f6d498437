package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"go.bug.st/serial"
)

// ErrNotConnected is returned by Feedback while the device is not open.
var ErrNotConnected = errors.New("scanner: device not connected")

// SerialConfig configures a Serial source. Zero fields mean the documented
// default.
type SerialConfig struct {
	Name string // required: names the scanner in scans and logs
	// Path is the device, required. Prefer the stable symlinks under
	// /dev/serial/by-id/: /dev/ttyACM0 may come back as ttyACM1 after a
	// replug.
	Path     string
	Baud     int     // 0 means 9600; USB CDC-ACM scanners ignore it
	DataBits int     // 5 to 8; 0 means 8
	Parity   string  // "none" (or ""), "odd", "even", "mark" or "space"
	StopBits float64 // 1 (or 0) or 2; 1.5 is refused, Linux termios cannot set it
	Frame    FrameConfig
	// GoodRead and BadRead are written to the port by Feedback, for
	// scanners that beep or light on a host command (for example BEL for
	// many RS-232 scanners, "B" for Datalogic). A BadRead is also sent when
	// the Framer rejects a scan. Empty means no feedback.
	GoodRead, BadRead []byte
}

// Serial is a Source reading a serial (RS-232 or USB CDC-ACM) scanner. Run
// must not be called concurrently with itself; Feedback may be called from
// any goroutine at any time.
type Serial struct {
	cfg  SerialConfig
	mode serial.Mode
	log  zerolog.Logger

	mu sync.Mutex // guards port, and is held while Feedback writes to it
	// port is the open port while Run reads it, else nil.
	port serial.Port
}

// NewSerial checks cfg and returns a Serial source. It does not open the
// port: Run does. log receives rejected scans; it is used as is, so give it
// the scanner's name as a field where you wire it.
func NewSerial(cfg SerialConfig, log zerolog.Logger) (*Serial, error) {
	if cfg.Name == "" || cfg.Path == "" {
		return nil, fmt.Errorf("scanner: serial scanner %q: name and path are required", cfg.Name)
	}
	where := fmt.Sprintf("scanner: serial scanner %q (%s)", cfg.Name, cfg.Path)
	if _, err := NewFramer(cfg.Frame); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	mode := serial.Mode{BaudRate: cfg.Baud, DataBits: cfg.DataBits}
	if mode.BaudRate == 0 {
		mode.BaudRate = 9600
	}
	if mode.BaudRate < 0 {
		return nil, fmt.Errorf("%s: baud %d is negative", where, cfg.Baud)
	}
	if mode.DataBits == 0 {
		mode.DataBits = 8
	}
	if mode.DataBits < 5 || mode.DataBits > 8 {
		return nil, fmt.Errorf("%s: data bits %d: use 5, 6, 7 or 8", where, cfg.DataBits)
	}
	switch strings.ToLower(cfg.Parity) {
	case "", "none":
		mode.Parity = serial.NoParity
	case "odd":
		mode.Parity = serial.OddParity
	case "even":
		mode.Parity = serial.EvenParity
	case "mark":
		mode.Parity = serial.MarkParity
	case "space":
		mode.Parity = serial.SpaceParity
	default:
		return nil, fmt.Errorf("%s: parity %q: use none, odd, even, mark or space", where, cfg.Parity)
	}
	switch cfg.StopBits {
	case 0, 1:
		mode.StopBits = serial.OneStopBit
	case 2:
		mode.StopBits = serial.TwoStopBits
	case 1.5:
		return nil, fmt.Errorf("%s: 1.5 stop bits cannot be set on Linux: use 1 or 2", where)
	default:
		return nil, fmt.Errorf("%s: stop bits %v: use 1 or 2", where, cfg.StopBits)
	}
	return &Serial{cfg: cfg, mode: mode, log: log}, nil
}

// Name returns the configured name.
func (s *Serial) Name() string { return s.cfg.Name }

// Run opens the port, emits scans until ctx ends (then it returns nil) or
// the port fails (ErrDeviceGone when it was unplugged or is missing), and
// closes the port.
func (s *Serial) Run(ctx context.Context, emit func(Scan)) error {
	return s.RunOpened(ctx, emit, nil)
}

// RunOpened is Run, calling opened (if not nil) once the port is open.
//
// The port is closed when RunOpened returns, or as soon as ctx ends: a
// read waits with no timeout while no scan is partly read (an idle till
// sleeps), and go.bug.st/serial ends a blocked Read when the port is
// closed from another goroutine (its Read selects on the port and on a
// pipe Close writes to).
func (s *Serial) RunOpened(ctx context.Context, emit func(Scan), opened func()) error {
	if ctx.Err() != nil {
		return nil
	}
	f, err := NewFramer(s.cfg.Frame) // fresh per connection: no half scan survives a replug
	if err != nil {
		return fmt.Errorf("scanner: %s: %w", s.cfg.Path, err)
	}
	mode := s.mode
	p, err := serial.Open(s.cfg.Path, &mode)
	if err != nil {
		return s.openError(err)
	}
	s.mu.Lock()
	s.port = p
	s.mu.Unlock()
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(closed)
		s.closePort(p)
	})
	defer func() {
		if !stop() {
			<-closed // ctx's close is under way: Run returns after it
		}
		s.closePort(p)
	}()
	if opened != nil {
		opened()
	}
	return s.read(ctx, p, f, time.Now, emit)
}

// closePort stops Feedback writing to p, then closes p. It may run twice
// (ctx ending, then Run returning); the port's Close is idempotent.
func (s *Serial) closePort(p serial.Port) {
	// Feedback holds mu while it writes, so once port is nil no write can
	// reach a closed (and possibly reused) file descriptor.
	s.mu.Lock()
	if s.port == p {
		s.port = nil
	}
	s.mu.Unlock()
	p.Close()
}

// readTimeoutSetter is the part of a serial.Port read sets timeouts on.
// A reader without it (a test's) is read as it is.
type readTimeoutSetter interface {
	SetReadTimeout(time.Duration) error
}

// minReadTimeout is the shortest timed read: a deadline already passed
// still gets one look at the port before Tick ends the scan.
const minReadTimeout = time.Millisecond

// read is Run's loop, separate so tests can drive it with a fake port and
// clock. It splits bytes itself (no bufio): a timed read returns (0, nil)
// at its timeout, and bufio gives up after 100 empty reads.
//
// While the Framer holds no partial scan a read has no timeout, so an idle
// scanner costs no wake-ups; while it holds one, the read times out at the
// Framer's deadline, where Tick ends (no terminator) or drops (stale) it.
func (s *Serial) read(ctx context.Context, r io.Reader, f *Framer, now func() time.Time, emit func(Scan)) error {
	setter, _ := r.(readTimeoutSetter)
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		if setter != nil {
			if err := setter.SetReadTimeout(readTimeout(f, now())); err != nil {
				return fmt.Errorf("scanner: %s: set read timeout: %w", s.cfg.Path, err)
			}
		}
		n, err := r.Read(buf) // (0, nil) when a timed read times out
		t := now()
		if n > 0 {
			scans, rejects := f.Feed(buf[:n], t)
			s.deliver(emit, scans, rejects)
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil // ctx closed the port under the read
			case isGone(err):
				return &goneError{op: "read", path: s.cfg.Path, err: err}
			}
			return fmt.Errorf("scanner: read %s: %w", s.cfg.Path, err)
		}
		scans, rejects := f.Tick(t)
		s.deliver(emit, scans, rejects)
	}
	return nil
}

// readTimeout is how long the next read may wait at now: no limit while f
// holds no partial scan, else until f's deadline.
func readTimeout(f *Framer, now time.Time) time.Duration {
	d, ok := f.Deadline()
	if !ok {
		return serial.NoTimeout
	}
	return max(d.Sub(now), minReadTimeout)
}

// deliver logs rejects (and signals a bad read) and emits scans.
func (s *Serial) deliver(emit func(Scan), scans []Scan, rejects []error) {
	for _, r := range rejects {
		s.log.Warn().Err(r).Str("path", s.cfg.Path).
			Msg("scan rejected; scan it again")
		if err := s.write(s.cfg.BadRead); err != nil {
			s.log.Debug().Err(err).Msg("bad-read feedback failed")
		}
	}
	for _, sc := range scans {
		sc.Scanner = s.cfg.Name
		emit(sc)
	}
}

// Feedback writes the configured GoodRead or BadRead bytes to the port so
// the scanner beeps or lights. It returns nil if none are configured, and
// ErrNotConnected while the port is not open.
//
// It may be called while Run reads: a go.bug.st/serial port on Linux writes
// with a plain write(2) on the descriptor, sharing no state with Read's
// select(2) and read(2) (serial_unix.go), and a tty allows a read and a
// write at once. Its Write does not check for Close, though, so mu keeps
// writes and the port's Close apart.
func (s *Serial) Feedback(good bool) error {
	seq := s.cfg.BadRead
	if good {
		seq = s.cfg.GoodRead
	}
	return s.write(seq)
}

func (s *Serial) write(seq []byte) error {
	if len(seq) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.port == nil {
		return fmt.Errorf("scanner: feedback to %s: %w", s.cfg.Name, ErrNotConnected)
	}
	for len(seq) > 0 {
		n, err := s.port.Write(seq)
		if err != nil {
			return fmt.Errorf("scanner: feedback to %s (%s): %w", s.cfg.Name, s.cfg.Path, err)
		}
		seq = seq[n:]
	}
	return nil
}

// openError explains a failed open: what happened and what to do.
func (s *Serial) openError(err error) error {
	if isGone(err) || errors.Is(err, syscall.ENOENT) {
		return &goneError{op: "open", path: s.cfg.Path, err: err}
	}
	hint := ""
	if pe, ok := errors.AsType[*serial.PortError](err); ok {
		switch pe.Code() {
		case serial.PermissionDenied:
			hint = "; let the service user open it (group dialout, or the tillscan udev rule)"
		case serial.PortBusy:
			hint = "; another program has it open (ModemManager, brltty, a second tillscan?)"
		case serial.InvalidSerialPort:
			hint = "; check the path names a serial device"
		case serial.InvalidSpeed, serial.InvalidDataBits, serial.InvalidParity, serial.InvalidStopBits:
			hint = "; check the baud rate, data bits, parity and stop bits settings"
		}
	}
	return fmt.Errorf("scanner: open %s: %w%s", s.cfg.Path, err, hint)
}

// isGone reports whether err means the device went away. go.bug.st/serial
// reports an unplugged USB device as a zero-byte read, which it turns into
// PortError PortClosed (so does a read of a port closed because ctx ended,
// which read checks first);
// a hung-up tty gives EIO; a vanished device node ENXIO or ENODEV.
func isGone(err error) bool {
	if pe, ok := errors.AsType[*serial.PortError](err); ok {
		return pe.Code() == serial.PortClosed || pe.Code() == serial.PortNotFound
	}
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENXIO) ||
		errors.Is(err, syscall.ENODEV) || errors.Is(err, io.EOF)
}

// goneError is ErrDeviceGone with the operation, path and cause.
type goneError struct {
	op, path string
	err      error
}

func (e *goneError) Error() string {
	return fmt.Sprintf("scanner: %s %s: device gone: %v", e.op, e.path, e.err)
}

func (e *goneError) Unwrap() []error { return []error{ErrDeviceGone, e.err} }
