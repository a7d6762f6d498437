package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"
)

// The default bounds after which a part of the daemon that reported no
// progress counts as stuck. They are generous: a stuck daemon is restarted
// a few minutes late, a slow one is never killed.
const (
	// workerStuckAfter bounds one job in flight, and the time between two
	// turns of the worker's loop: every try of a request (timeout, 429
	// pause up to the client's Retry-After cap, 4 tries) and a
	// reconciliation's paged reads. Waits the worker announces (backoff,
	// an outage, a refused key) are added to the loop's bound.
	workerStuckAfter = 10 * time.Minute
	// scanStuckAfter bounds handling one scan: the till's decision and one
	// fsync'd queue write.
	scanStuckAfter = time.Minute
	// queueStuckAfter bounds one read of the queue's counters.
	queueStuckAfter = time.Minute
)

// watchdog tells systemd the daemon is alive (WATCHDOG=1) only while the
// scan path, the worker's loop and the queue are: each reports progress
// (a scan handled, a beat of the worker's loop) or answers a probe (a read
// of the queue) within its bound. A part that is merely waiting (the
// worker out of a Retry-After, an idle scanner) is alive; a deadlocked one
// stops the pings and systemd restarts the service after WatchdogSec. It
// is also the one owner of "the worker is running" for /readyz.
type watchdog struct {
	workerBound, scanBound, queueBound time.Duration
	probe                              func() error // reads the queue's counters
	// inFlightSince, if set, is when the worker's longest-running job in
	// flight was taken (pos.Worker.InFlightSince): with several jobs in
	// flight the loop turns while one of them may never return.
	inFlightSince func() time.Time
	log           zerolog.Logger

	mu          sync.Mutex // guards what follows
	beatAt      time.Time  // the worker's last beat
	beatSleep   time.Duration
	stopped     bool                 // the worker's Run returned (it is restarted after a pause); cleared by its next beat
	scans       map[uint64]time.Time // scans being handled, by ticket, with their start
	ticket      uint64
	probeAt     time.Time // start of the queue read in flight; zero when none
	lastVerdict string    // what was logged last, so each change is logged once
}

// newWatchdog returns a watchdog with the default bounds. probe reads the
// queue.
func newWatchdog(probe func() error, log zerolog.Logger) *watchdog {
	return &watchdog{
		workerBound: workerStuckAfter, scanBound: scanStuckAfter, queueBound: queueStuckAfter,
		probe: probe, log: log, beatAt: time.Now(), scans: map[uint64]time.Time{},
	}
}

// workerBeat is pos.WorkerConfig.Heartbeat.
func (w *watchdog) workerBeat(sleep time.Duration) {
	w.mu.Lock()
	w.beatAt, w.beatSleep, w.stopped = time.Now(), sleep, false
	w.mu.Unlock()
}

// workerStopped records that the worker's Run returned. The daemon
// restarts it after a pause: that is not stuck (the pings go on), but
// the worker is not running until it beats again.
func (w *watchdog) workerStopped() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// scanStarted marks a scan being handled; call the returned func when done.
func (w *watchdog) scanStarted() (done func()) {
	w.mu.Lock()
	w.ticket++
	t := w.ticket
	w.scans[t] = time.Now()
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.scans, t)
		w.mu.Unlock()
	}
}

// stuck returns what is stuck at now (empty: everything is alive), and
// starts a queue read if none is in flight.
func (w *watchdog) stuck(now time.Time) []string {
	job := w.jobSince()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	if why := w.workerStuckLocked(now, job); why != "" {
		out = append(out, why)
	}
	for _, at := range w.scans {
		if now.Sub(at) > w.scanBound {
			out = append(out, fmt.Sprintf("a scan has been handled since %s", at.Format(time.RFC3339)))
			break
		}
	}
	switch {
	case !w.probeAt.IsZero() && now.Sub(w.probeAt) > w.queueBound:
		out = append(out, fmt.Sprintf("a read of the queue has not returned since %s", w.probeAt.Format(time.RFC3339)))
	case w.probeAt.IsZero():
		w.probeAt = now
		go w.readQueue()
	}
	return out
}

// readQueue runs one probe and records that it returned. An error is an
// answer: the queue is alive (readiness reports the error).
func (w *watchdog) readQueue() {
	w.probe()
	w.mu.Lock()
	w.probeAt = time.Time{}
	w.mu.Unlock()
}

// workerRunning reports whether the worker's loop is alive at now (for
// /readyz).
func (w *watchdog) workerRunning(now time.Time) bool {
	job := w.jobSince()
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.stopped && w.workerStuckLocked(now, job) == ""
}

// jobSince is when the worker's oldest job in flight was taken; zero if
// none is or it is not known. It is read outside w.mu: it takes the
// worker's own locks.
func (w *watchdog) jobSince() time.Time {
	if w.inFlightSince == nil {
		return time.Time{}
	}
	return w.inFlightSince()
}

// workerStuckLocked says why the worker is stuck at now, "" if it is not:
// its loop made no progress within the bound (beyond a wait it announced),
// or one job has been in flight longer than the bound.
func (w *watchdog) workerStuckLocked(now, job time.Time) string {
	if due := w.beatAt.Add(w.beatSleep); now.Sub(due) > w.workerBound {
		return fmt.Sprintf("the worker's loop made no progress since %s", w.beatAt.Format(time.RFC3339))
	}
	if !job.IsZero() && now.Sub(job) > w.workerBound {
		return fmt.Sprintf("a job has been in flight since %s", job.Format(time.RFC3339))
	}
	return ""
}

// run pings systemd's watchdog at half its interval while nothing is
// stuck, until ctx ends. Without WATCHDOG_USEC (no WatchdogSec=, or not
// under systemd) it returns at once.
func (w *watchdog) run(ctx context.Context) error {
	interval, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		w.log.Warn().Err(err).Msg("systemd watchdog: WATCHDOG_USEC is not usable; not pinging")
		return nil
	}
	if interval == 0 {
		return nil
	}
	w.log.Info().Dur("interval", interval).Msg("systemd watchdog on: pinging while the scan path, the worker and the queue make progress")
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		w.check(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// check pings if nothing is stuck; a change of verdict is logged once.
func (w *watchdog) check(now time.Time) {
	stuck := w.stuck(now)
	verdict := strings.Join(stuck, "; ")
	if len(stuck) == 0 {
		sddaemon.SdNotify(false, sddaemon.SdNotifyWatchdog)
	}
	w.mu.Lock()
	changed := verdict != w.lastVerdict
	w.lastVerdict = verdict
	w.mu.Unlock()
	switch {
	case !changed:
	case verdict != "":
		w.log.Error().Str("stuck", verdict).Msg("systemd watchdog: not pinging, systemd will restart tillscan (scans already saved are kept)")
	default:
		w.log.Info().Msg("systemd watchdog: progress again; pinging")
	}
}
