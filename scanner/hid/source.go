package hid

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/scanner"
)

// EventKind says what happened to a device.
type EventKind int

// Device events reported through Hooks.Event.
const (
	Connected  EventKind = iota + 1 // a matching device was opened
	Gone                            // an open device failed (unplugged); it is reopened when it is back
	OpenFailed                      // a matching device could not be opened (reported once per device and error)
)

func (k EventKind) String() string {
	switch k {
	case Connected:
		return "connected"
	case Gone:
		return "gone"
	case OpenFailed:
		return "open failed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change in the set of open devices.
type Event struct {
	Kind    EventKind
	Scanner string // Config.Name
	Device  Device
	Err     error // why (Gone, OpenFailed)
}

// Hooks are optional observers, called from the device goroutines; they
// must be quick and safe for concurrent use. tillscan listen uses them.
type Hooks struct {
	Event  func(Event)
	Raw    func(d Device, report []byte) // every input report; report is only valid during the call
	Reject func(d Device, err error)     // a scan the framer refused (*scanner.RejectError)
}

// Source reads every device matching a Config, hot-plugged: it looks for
// matching devices at start and whenever the kernel announces a USB change,
// gives each one its own goroutine that opens, reads and closes it, and
// reopens a device that failed once it is listed again. Create it with New; Run it once. Feedback and Name are safe for
// concurrent use with Run.
type Source struct {
	cfg    Config
	layout *Layout
	posFmt POSFormat
	log    zerolog.Logger
	hooks  Hooks
	b      backend
	now    func() time.Time

	// state is RunReporting's report; nil under Run. It is set before Run
	// starts any goroutine and called with mu held, so calls never overlap.
	state func(connected bool, err error)

	mu    sync.Mutex           // guards conns
	conns map[string]chan bool // open devices by path → their feedback requests
}

// New checks cfg and returns a Source for it. It fails with ErrUnsupported
// in a build without cgo. log is used as is (as in package scanner): give it
// the scanner's name as a field where you wire; the Source adds "path".
func New(cfg Config, log zerolog.Logger, hooks Hooks) (*Source, error) {
	return newSource(cfg, log, hooks, realBackend{})
}

func newSource(cfg Config, log zerolog.Logger, hooks Hooks, b backend) (*Source, error) {
	if !b.supported() {
		return nil, ErrUnsupported
	}
	if cfg.VID == 0 || cfg.PID == 0 {
		return nil, &configError{field: "vid/pid", msg: fmt.Sprintf("both are required (got %04x:%04x); see `tillscan devices`", cfg.VID, cfg.PID)}
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("hid-%04x:%04x", cfg.VID, cfg.PID)
	}
	if cfg.Interface < AnyInterface {
		return nil, &configError{field: "interface", msg: fmt.Sprintf("%d is not an interface number", cfg.Interface)}
	}
	mode, err := ParseMode(string(cfg.Mode))
	if err != nil {
		return nil, err
	}
	cfg.Mode = mode
	l, err := LayoutByName(cfg.Layout)
	if err != nil {
		return nil, err
	}
	f, err := POSFormatByName(cfg.POSFormat)
	if err != nil {
		return nil, err
	}
	if _, err := scanner.NewFramer(cfg.Frame); err != nil {
		return nil, fmt.Errorf("hid: %s: %w", cfg.Name, err)
	}
	for _, r := range [][]byte{cfg.Feedback.Good, cfg.Feedback.Bad} {
		if len(r) > 65 {
			return nil, &configError{field: "feedback", msg: fmt.Sprintf("a %d-byte output report is longer than a full-speed HID report (64 bytes + ID)", len(r))}
		}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Source{
		cfg: cfg, layout: l, posFmt: f, log: log, hooks: hooks, b: b, now: time.Now,
		conns: make(map[string]chan bool),
	}, nil
}

// Name returns the configured scanner name.
func (s *Source) Name() string { return s.cfg.Name }

// Config returns the checked configuration, defaults filled in.
func (s *Source) Config() Config { return s.cfg }

// idleReadTimeout bounds a read while no scan is partly read. hidapi's read
// cannot be woken (closing a device under a read is undefined), so the
// device's goroutine comes back this often to notice ctx ending and a
// feedback request made by another device's scan; an idle scanner then
// costs one wake-up a second, not ten. A read returns as soon as a report
// arrives, so hidapi's 30-report queue never fills.
const idleReadTimeout = time.Second

// Run looks for matching devices and reads them until ctx ends, then closes
// them and returns nil. A device that fails is reported (Hooks.Event,
// log) and reopened when it is listed again; Run itself fails only when USB
// cannot be used at all (ErrNoNetlink).
func (s *Source) Run(ctx context.Context, emit func(scanner.Scan)) error {
	warning, err := s.b.check()
	if err != nil {
		return err
	}
	if warning != "" {
		s.log.Warn().Msg(warning)
	}
	var wg sync.WaitGroup
	defer wg.Wait() // every device goroutine closes its device before Run returns
	changes, err := s.b.watch(ctx, &wg)
	if err != nil {
		s.log.Warn().Err(err).Dur("every", s.cfg.Poll).Msg("USB hot-plug events cannot be read; looking for the scanner periodically")
		changes = nil
	}
	type ended struct {
		d   Device
		err error // why it could not be opened; nil if it was read until it failed
	}
	done := make(chan ended)
	active := make(map[string]bool)
	reported := make(map[string]string) // path → open error last reported, so it is reported once
	lastEnumErr := ""
	look := func(first bool) {
		devs, err := s.b.enumerate(s.cfg.VID, s.cfg.PID)
		if err != nil && err.Error() != lastEnumErr {
			s.log.Warn().Err(err).Msg("listing USB-HID devices failed")
		}
		lastEnumErr = errString(err)
		for _, d := range devs {
			if !s.cfg.Matches(d) || active[d.Path] {
				continue
			}
			active[d.Path] = true
			wg.Go(func() {
				err := s.own(ctx, d, emit)
				select {
				case done <- ended{d, err}:
				case <-ctx.Done():
				}
			})
		}
		if first && len(active) == 0 {
			s.noneOpen(fmt.Errorf("%w: no %04x:%04x device is plugged in (see `tillscan devices`)", scanner.ErrDeviceGone, s.cfg.VID, s.cfg.PID))
		}
	}
	// Devices are listed at start; usbSettle after the kernel announces a
	// USB change; Poll after a device ended or could not be opened (never
	// right after: a device that fails at once is retried once per Poll,
	// not in a spin); and every Poll where the kernel's events cannot be
	// read. A till whose scanners are open (or unplugged) waits, asleep.
	next := time.NewTimer(0)
	defer next.Stop()
	due := time.Now()
	armed := true
	arm := func(d time.Duration) { // look again within d
		if at := time.Now().Add(d); !armed || at.Before(due) {
			next.Reset(d)
			due, armed = at, true
		}
	}
	for first := true; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-next.C:
			armed = false
			look(first)
			first = false
			if changes == nil {
				arm(s.cfg.Poll)
			}
		case _, ok := <-changes:
			if !ok {
				s.log.Warn().Dur("every", s.cfg.Poll).Msg("USB hot-plug events stopped; looking for the scanner periodically")
				changes = nil
				arm(s.cfg.Poll)
				continue
			}
			arm(usbSettle)
		case e := <-done:
			delete(active, e.d.Path) // reopened at the next look if it is still (or again) listed
			switch msg := errString(e.err); {
			case e.err == nil:
				delete(reported, e.d.Path)
			case reported[e.d.Path] != msg:
				reported[e.d.Path] = msg
				s.log.Error().Err(e.err).Str("path", e.d.Path).Msg("cannot open scanner")
				s.event(Event{Kind: OpenFailed, Scanner: s.cfg.Name, Device: e.d, Err: e.err})
				s.noneOpen(e.err)
			}
			arm(s.cfg.Poll)
		}
	}
}

// usbSettle is how long after the kernel announces a USB change the devices
// are listed: it announces a device before its interfaces, whose sysfs
// entries (the class that tells a mouse sharing a scanner's VID:PID) follow
// within milliseconds; the events of one plug are handled by one look.
const usbSettle = 250 * time.Millisecond

// RunReporting is Run that also says through state whether a matching
// device is open, so that a scanner configured but not plugged in is not
// shown as connected (it implements scanner.StateReporter for
// scanner.Supervise): connected when the first device opens; not
// connected, with why, when the first look finds none, when a device
// cannot be opened while none is open, and when the last one goes (a nil
// error then means Run is stopping).
func (s *Source) RunReporting(ctx context.Context, emit func(scanner.Scan), state func(connected bool, err error)) error {
	s.state = state
	return s.Run(ctx, emit)
}

// reportLocked passes a state change to RunReporting's state; s.mu is held.
func (s *Source) reportLocked(connected bool, err error) {
	if s.state != nil {
		s.state(connected, err)
	}
}

// noneOpen reports not connected, for err, if no device is open.
func (s *Source) noneOpen(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		s.reportLocked(false, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Source) event(e Event) {
	if s.hooks.Event != nil {
		s.hooks.Event(e)
	}
}

// own opens d, reads it until ctx ends or a read fails, and closes it. It
// is the only code that touches the handle. It returns an error only when
// the device could not be opened.
func (s *Source) own(ctx context.Context, d Device, emit func(scanner.Scan)) error {
	p, err := newPipeline(&s.cfg, s.layout, s.posFmt)
	if err != nil {
		return err // checked in New; cannot happen
	}
	dev, err := s.b.open(d)
	if err != nil {
		return err
	}
	defer dev.Close() // after the last read returned: never concurrently with it
	fb := make(chan bool, 1)
	s.mu.Lock()
	s.conns[d.Path] = fb
	if len(s.conns) == 1 {
		s.reportLocked(true, nil)
	}
	s.mu.Unlock()
	var goneErr error // why the device went; nil when Run is stopping
	defer func() {
		s.mu.Lock()
		delete(s.conns, d.Path)
		if len(s.conns) == 0 {
			s.reportLocked(false, goneErr)
		}
		s.mu.Unlock()
	}()
	log := s.log.With().Str("path", d.Path).Logger()
	log.Info().Str("product", d.Product).Str("serial", d.Serial).Msg("scanner connected")
	s.event(Event{Kind: Connected, Scanner: s.cfg.Name, Device: d})

	deliver := func(scans []scanner.Scan, rejects []error) {
		for _, sc := range scans {
			sc.Scanner = s.cfg.Name
			emit(sc)
		}
		for _, err := range rejects {
			log.Warn().Err(err).Msg("scan rejected")
			s.writeFeedback(dev, false, log) // as the serial source does: the cashier hears a bad read
			if s.hooks.Reject != nil {
				s.hooks.Reject(d, err)
			}
		}
	}
	buf := make([]byte, 512) // larger than any full-speed report: hidapi truncates silently
	for ctx.Err() == nil {
		select {
		case good := <-fb:
			s.writeFeedback(dev, good, log)
		default:
		}
		n, err := dev.ReadTimeout(buf, p.readTimeoutMS(s.now()))
		now := s.now()
		if err != nil {
			deliver(p.tick(now))
			log.Warn().Err(err).Msg("scanner gone")
			goneErr = fmt.Errorf("%w: %w", scanner.ErrDeviceGone, err)
			s.event(Event{Kind: Gone, Scanner: s.cfg.Name, Device: d, Err: goneErr})
			return nil
		}
		if n == 0 {
			deliver(p.tick(now))
			continue
		}
		if s.hooks.Raw != nil {
			s.hooks.Raw(d, buf[:n])
		}
		deliver(p.report(buf[:n], now))
	}
	return nil
}

func (s *Source) writeFeedback(dev device, good bool, log zerolog.Logger) {
	r := s.cfg.Feedback.Bad
	if good {
		r = s.cfg.Feedback.Good
	}
	if len(r) == 0 {
		return
	}
	if _, err := dev.Write(r); err != nil {
		log.Warn().Err(err).Bool("good", good).Msg("feedback report not sent")
	}
}

// Feedback asks every open matching device to signal a good or a bad read.
// The report is written by the goroutine that owns the device, between two
// reads, so it never races a read or Close: at once for the device's own
// scan (emit runs on that goroutine), within idleReadTimeout for another
// device's. It returns ErrNoFeedback when
// the Config has no report for it and ErrNotConnected when no device is
// open. A request still pending on a device is replaced, not queued.
func (s *Source) Feedback(good bool) error {
	if good && len(s.cfg.Feedback.Good) == 0 || !good && len(s.cfg.Feedback.Bad) == 0 {
		return ErrNoFeedback
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return fmt.Errorf("%w: %s", ErrNotConnected, s.cfg.Name)
	}
	for _, fb := range s.conns {
		select {
		case <-fb: // drop the stale request
		default:
		}
		fb <- good
	}
	return nil
}
