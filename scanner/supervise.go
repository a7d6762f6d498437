package scanner

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// OpenNotifier is an optional interface of a Source whose Run opens a
// device. RunOpened is Run, except that it calls opened (if not nil) once
// the device is open, so that Supervise reports "connected" at once rather
// than assuming it when Run starts. *Serial implements it.
type OpenNotifier interface {
	RunOpened(ctx context.Context, emit func(Scan), opened func()) error
}

// StateReporter is an optional interface of a Source that keeps running
// while its device comes and goes (a USB-HID source handles hot-plug
// itself). RunReporting is Run, except that it calls state whenever the
// device connects (true, nil) or is not there (false, why; a nil error
// when Run is stopping), so that Supervise reports what is true instead
// of "connected" when Run starts. Calls of state never overlap.
// *hid.Source implements it.
type StateReporter interface {
	RunReporting(ctx context.Context, emit func(Scan), state func(connected bool, err error)) error
}

// Defaults for zero SuperviseOptions fields.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultHealthy    = 10 * time.Second
	// RemindEvery is how often a failure that keeps repeating is logged
	// again at its full level, so the journal shows it is still broken.
	RemindEvery = 10 * time.Minute
)

// SuperviseOptions tune Supervise. Zero fields mean the documented default.
type SuperviseOptions struct {
	// MinBackoff is the delay before the first restart; it doubles after
	// each failed attempt up to MaxBackoff. 0 means DefaultMinBackoff.
	MinBackoff time.Duration
	// MaxBackoff caps the delay, so a replugged device is found within it.
	// 0 means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Healthy is how long a source must have been connected for its next
	// failure to restart after MinBackoff again. 0 means DefaultHealthy.
	Healthy time.Duration
	// OnState, if not nil, is told of every connect (connected, nil error),
	// failure (not connected, the error; once per attempt while a device is
	// missing) and stop (not connected, nil error). Calls for one source
	// never overlap; they must be quick. Meant for the status page.
	OnState func(name string, connected bool, err error)
}

// Supervise runs src until ctx ends, restarting it with backoff whenever it
// fails, and returns nil. An unplugged or missing device is not an error:
// Supervise logs it and keeps retrying, so the device comes back by itself.
// If Run returns nil before ctx ends (stdin reached EOF), the source is
// finished and Supervise returns nil too.
//
// It logs each connect at info, an unplug or missing device (ErrDeviceGone)
// at warn, other failures at error, and repeats of a failure until the next
// connect at debug, except for a reminder at full level every RemindEvery.
// log is used as is: give it the scanner's name as a field where you wire.
func Supervise(ctx context.Context, src Source, emit func(Scan), log zerolog.Logger, opt SuperviseOptions) error {
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = DefaultMinBackoff
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = DefaultMaxBackoff
	}
	opt.MaxBackoff = max(opt.MaxBackoff, opt.MinBackoff)
	if opt.Healthy <= 0 {
		opt.Healthy = DefaultHealthy
	}
	name := src.Name()
	state := func(connected bool, err error) {
		if opt.OnState != nil {
			opt.OnState(name, connected, err)
		}
	}

	delay := opt.MinBackoff
	var lastErr error       // the previous failure since the last connect, to log repeats quietly
	var downSince time.Time // when the source last stopped working
	var lastLoud time.Time  // when a failure was last logged above debug
	for ctx.Err() == nil {
		// connectedAt is written by opened, which a Source may call from
		// another goroutine, hence atomic (UnixNano; 0 = not connected).
		var connectedAt atomic.Int64
		opened := func() {
			connectedAt.Store(time.Now().UnixNano())
			log.Info().Msg("scanner connected")
			state(true, nil)
		}
		var err error
		switch src := src.(type) {
		case StateReporter: // it logs its own connects and losses
			err = src.RunReporting(ctx, emit, func(connected bool, err error) {
				if connected {
					connectedAt.Store(time.Now().UnixNano())
				}
				state(connected, err)
			})
		case OpenNotifier:
			err = src.RunOpened(ctx, emit, opened)
		default:
			opened()
			err = src.Run(ctx, emit)
		}
		wasConnected := connectedAt.Load() != 0
		if ctx.Err() != nil || err == nil {
			if ctx.Err() == nil {
				log.Info().Msg("scanner source ended")
			}
			if err != nil {
				log.Debug().Err(err).Msg("scanner stopped") // a failure racing shutdown
			}
			state(false, nil)
			return nil
		}
		if wasConnected || lastErr == nil {
			downSince = time.Now()
		}
		if wasConnected {
			lastErr = nil
			if time.Since(time.Unix(0, connectedAt.Load())) >= opt.Healthy {
				delay = opt.MinBackoff
			}
		}
		state(false, err)
		repeat := sameFailure(err, lastErr) && time.Since(lastLoud) < RemindEvery
		if !repeat {
			lastLoud = time.Now()
		}
		flog := log
		if down := time.Since(downSince); down >= time.Second {
			flog = log.With().Str("down_for", down.Round(time.Second).String()).Logger()
		}
		logFailure(flog, err, wasConnected, repeat, delay)
		lastErr = err

		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(2*delay, opt.MaxBackoff)
	}
	return nil
}

// sameFailure reports whether err repeats prev: the same message, or the
// device still gone (an unplug is followed by failed opens of a missing
// path; one warning is enough).
func sameFailure(err, prev error) bool {
	if prev == nil {
		return false
	}
	return err.Error() == prev.Error() || errors.Is(err, ErrDeviceGone) && errors.Is(prev, ErrDeviceGone)
}

// logFailure logs why a source stopped, at a level that matches how much a
// person needs to act.
func logFailure(log zerolog.Logger, err error, wasConnected, repeat bool, retry time.Duration) {
	var ev *zerolog.Event
	msg := ""
	switch gone := errors.Is(err, ErrDeviceGone); {
	case repeat:
		ev, msg = log.Debug(), "scanner still unavailable"
	case gone && wasConnected:
		ev, msg = log.Warn(), "scanner unplugged, waiting for it to come back"
	case gone:
		ev, msg = log.Warn(), "scanner not connected, waiting for it to appear"
	default:
		ev, msg = log.Error(), "scanner failed; fix the cause shown, tillscan keeps retrying"
	}
	ev.Err(err).Str("retry_in", retry.String()).Msg(msg)
}
