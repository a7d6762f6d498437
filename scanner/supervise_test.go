package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/scanner/scannertest"
)

// fakeRun is what one call of a fake source's Run does.
type fakeRun struct {
	connect bool          // report the device open
	hold    time.Duration // then run this long
	err     error         // then fail with this (nil: run until ctx ends)
	end     bool          // or end by itself with nil, like stdin at EOF
}

// fakeSource plays a script of runs, one per Run call, recording when each
// call started. Beyond the script it runs until ctx ends.
type fakeSource struct {
	mu     sync.Mutex
	script []fakeRun
	starts []time.Time
}

func (s *fakeSource) Name() string { return "fake" }

func (s *fakeSource) Run(ctx context.Context, emit func(Scan)) error {
	return s.RunOpened(ctx, emit, nil)
}

func (s *fakeSource) RunOpened(ctx context.Context, emit func(Scan), opened func()) error {
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	r := fakeRun{connect: true}
	if len(s.script) > 0 {
		r, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	if r.connect && opened != nil {
		opened()
	}
	if r.end {
		return nil
	}
	if r.err == nil {
		<-ctx.Done()
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(r.hold):
		return r.err
	}
}

// plainSource hides RunOpened, so Supervise must treat a started Run as
// connected.
type plainSource struct{ f *fakeSource }

func (p plainSource) Name() string                                   { return p.f.Name() }
func (p plainSource) Run(ctx context.Context, emit func(Scan)) error { return p.f.Run(ctx, emit) }

var (
	errGone  = fmt.Errorf("scanner: open /dev/x: %w", ErrDeviceGone)
	errGone2 = fmt.Errorf("scanner: read /dev/x: %w", ErrDeviceGone)
	errOther = errors.New("scanner: open /dev/x: permission denied")
)

type stateEvent struct {
	connected bool
	err       error
}

type logLine struct{ Level, Message string }

func parseLogs(t *testing.T, b []byte) []logLine {
	t.Helper()
	var got []logLine
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, l)
	}
	return got
}

func TestSupervise_Backoff(t *testing.T) {
	gone := fakeRun{err: errGone}
	tests := []struct {
		name   string
		script []fakeRun
		run    time.Duration   // how long to let it run before cancelling
		want   []time.Duration // offsets at which Run is called
	}{
		{"doubles up to the cap", slices.Repeat([]fakeRun{gone}, 9), time.Minute,
			[]time.Duration{0, 250 * time.Millisecond, 750 * time.Millisecond, 1750 * time.Millisecond,
				3750 * time.Millisecond, 7750 * time.Millisecond, 15750 * time.Millisecond, 25750 * time.Millisecond,
				35750 * time.Millisecond, 45750 * time.Millisecond}},
		{"healthy run resets", []fakeRun{gone, gone, gone, {connect: true, hold: 20 * time.Second, err: errGone}, gone}, time.Minute,
			[]time.Duration{0, 250 * time.Millisecond, 750 * time.Millisecond, 1750 * time.Millisecond,
				21750*time.Millisecond + 250*time.Millisecond, 22000*time.Millisecond + 500*time.Millisecond}},
		{"short connected run keeps backing off", []fakeRun{gone, gone, {connect: true, hold: time.Second, err: errGone}}, time.Minute,
			[]time.Duration{0, 250 * time.Millisecond, 750 * time.Millisecond, 2750 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &fakeSource{script: tt.script}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- Supervise(ctx, src, func(Scan) {}, zerolog.Nop(), SuperviseOptions{}) }()
				time.Sleep(tt.run)
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Supervise() = %v, want nil", err)
				}
				var got []time.Duration
				for _, s := range src.starts {
					got = append(got, s.Sub(start))
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("Run called at %v, want %v", got, tt.want)
				}
			})
		})
	}
}

func TestSupervise_StatesAndLogs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{script: []fakeRun{
			{err: errGone}, {err: errGone},
			{connect: true, hold: time.Second, err: errGone}, {err: errGone2},
			{err: errOther}, {err: errOther},
			{connect: true, hold: time.Second, err: errOther},
			{connect: true, end: true},
		}}
		var logs bytes.Buffer // read after Supervise returns
		var states []stateEvent
		opt := SuperviseOptions{OnState: func(name string, connected bool, err error) {
			if name != "fake" {
				t.Errorf("OnState name = %q, want fake", name)
			}
			states = append(states, stateEvent{connected, err})
		}}
		if err := Supervise(t.Context(), src, func(Scan) {}, zerolog.New(&logs), opt); err != nil {
			t.Fatalf("Supervise() = %v, want nil when the source ends", err)
		}

		wantStates := []stateEvent{{false, errGone}, {false, errGone}, {true, nil}, {false, errGone}, {false, errGone2},
			{false, errOther}, {false, errOther}, {true, nil}, {false, errOther}, {true, nil}, {false, nil}}
		if !slices.Equal(states, wantStates) {
			t.Errorf("states = %v\nwant     %v", states, wantStates)
		}
		got := parseLogs(t, logs.Bytes())
		want := []logLine{
			{"warn", "scanner not connected, waiting for it to appear"},
			{"debug", "scanner still unavailable"},
			{"info", "scanner connected"},
			{"warn", "scanner unplugged, waiting for it to come back"},
			{"debug", "scanner still unavailable"},
			{"error", "scanner failed; fix the cause shown, tillscan keeps retrying"},
			{"debug", "scanner still unavailable"},
			{"info", "scanner connected"},
			{"error", "scanner failed; fix the cause shown, tillscan keeps retrying"},
			{"info", "scanner connected"},
			{"info", "scanner source ended"},
		}
		if !slices.Equal(got, want) {
			t.Errorf("logs = %v\nwant %v", got, want)
		}
	})
}

func TestSupervise_PlainSourceConnectsOnStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := plainSource{&fakeSource{script: []fakeRun{{connect: false, end: true}}}}
		var states []stateEvent
		opt := SuperviseOptions{OnState: func(_ string, c bool, err error) { states = append(states, stateEvent{c, err}) }}
		if err := Supervise(t.Context(), src, func(Scan) {}, zerolog.Nop(), opt); err != nil {
			t.Fatal(err)
		}
		if want := []stateEvent{{true, nil}, {false, nil}}; !slices.Equal(states, want) {
			t.Errorf("states = %v, want %v", states, want)
		}
	})
}

// reportingSource reports its own connection state, as a USB-HID source
// does while its device comes and goes within one Run.
type reportingSource struct{ states []stateEvent }

func (r reportingSource) Name() string { return "reporting" }
func (r reportingSource) Run(ctx context.Context, emit func(Scan)) error {
	return r.RunReporting(ctx, emit, func(bool, error) {})
}
func (r reportingSource) RunReporting(ctx context.Context, emit func(Scan), state func(bool, error)) error {
	for _, s := range r.states {
		state(s.connected, s.err)
	}
	<-ctx.Done()
	return nil
}

// A StateReporter is not "connected" because its Run started: Supervise
// passes on what it reports (a HID scanner configured but not plugged in).
func TestSupervise_StateReporter(t *testing.T) {
	src := reportingSource{states: []stateEvent{{false, errGone}, {true, nil}, {false, errGone2}}}
	states := make(chan stateEvent, 10)
	opt := SuperviseOptions{OnState: func(_ string, c bool, err error) { states <- stateEvent{c, err} }}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Supervise(ctx, src, func(Scan) {}, zerolog.Nop(), opt) }()
	for _, want := range src.states {
		if got := <-states; got != want {
			t.Errorf("state %v; want %v", got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := <-states; got != (stateEvent{false, nil}) {
		t.Errorf("state at stop %v; want not connected, no error", got)
	}
}

func TestSupervise_CancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{script: []fakeRun{{err: errGone}}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- Supervise(ctx, src, func(Scan) {}, zerolog.Nop(), SuperviseOptions{MinBackoff: time.Hour})
		}()
		synctest.Wait() // Supervise is now waiting out its backoff
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Supervise() = %v, want nil", err)
		}
		if len(src.starts) != 1 {
			t.Errorf("Run called %d times, want 1", len(src.starts))
		}
	})
}

// TestSupervise_PTY_UnplugReplug drives the real Serial source through a
// pty behind a by-id-like symlink: scans arrive, the device is unplugged
// and replugged (a new pty at the same link), and scans arrive again.
func TestSupervise_PTY_UnplugReplug(t *testing.T) {
	dev := scannertest.NewDevice(t, filepath.Join(t.TempDir(), "usb-Test_Scanner-if00-port0"))
	s := newTestSerial(t, dev.Path)
	connected := make(chan struct{}, 4)
	failed := make(chan error, 1)
	opt := SuperviseOptions{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnState: func(_ string, c bool, err error) {
			if c {
				connected <- struct{}{}
			} else if err != nil {
				select { // retries while unplugged: keep the first
				case failed <- err:
				default:
				}
			}
		}}
	scans := make(chan Scan, 4)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Supervise(ctx, s, func(sc Scan) { scans <- sc }, zerolog.New(zerolog.NewTestWriter(t)), opt)
	}()

	for i, card := range []string{"544256-439-856", "123456-789-012"} {
		<-connected
		dev.Write([]byte(card[:5]))
		dev.Write([]byte(card[5:] + "\r\n"))
		if sc := <-scans; sc.Text != card {
			t.Fatalf("plug %d: scan = %q, want %q", i, sc.Text, card)
		}
		if i == 0 {
			dev.Unplug()
			if err := <-failed; !errors.Is(err, ErrDeviceGone) {
				t.Fatalf("state after unplug: %v, want ErrDeviceGone", err)
			}
			dev.Replug()
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Supervise() = %v, want nil", err)
	}
}

// TestSupervise_Reminder: a device missing for 25 minutes is logged at
// warn when first seen and again every RemindEvery, at debug in between.
func TestSupervise_Reminder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{script: slices.Repeat([]fakeRun{{err: errGone}}, 1000)}
		ctx, cancel := context.WithCancel(t.Context())
		var logs bytes.Buffer // read after Supervise returns
		done := make(chan error, 1)
		go func() { done <- Supervise(ctx, src, func(Scan) {}, zerolog.New(&logs), SuperviseOptions{}) }()
		time.Sleep(25 * time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		warns := 0
		for _, l := range parseLogs(t, logs.Bytes()) {
			if l.Level == "warn" {
				warns++
			}
		}
		if warns != 3 {
			t.Errorf("%d warnings in 25 minutes, want 3 (at 0, ~10 and ~20 minutes)", warns)
		}
	})
}
