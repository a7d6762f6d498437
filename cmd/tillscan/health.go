package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// openQueue opens the queue and returns, besides it, the problems found
// in the file at open, each logged here once: a file moved aside, repairs
// made, records quarantined. They stay on the status page until restart.
func openQueue(path string, opts queue.Options, log zerolog.Logger) (*queue.Queue, []string, error) {
	q, err := queue.Open(path, opts)
	if err != nil {
		return nil, nil, err
	}
	var notes []string
	if moved, why := q.Recovered(); moved != "" {
		notes = append(notes, fmt.Sprintf("the queue file was not a valid queue (%v) and was moved aside to %s; a new one was started. Scans in the old file were not sent: keep it for support.", why, moved))
		log.Error().Err(why).Str("moved_to", moved).Str("path", path).Msg("queue file was not a valid queue: moved aside, started a new queue")
	}
	if rep := q.Repaired(); len(rep) > 0 {
		notes = append(notes, "the queue file was repaired at start: "+strings.Join(rep, "; "))
		log.Warn().Strs("repairs", rep).Str("path", path).Msg("queue file repaired at start")
	}
	if bad, err := q.Quarantined(); err != nil {
		log.Error().Err(err).Str("path", path).Msg("cannot list the queue's quarantined records")
	} else if len(bad) > 0 {
		reasons := make([]string, 0, min(len(bad), 5))
		for _, r := range bad[:min(len(bad), 5)] {
			reasons = append(reasons, r.Key+": "+r.Reason)
		}
		log.Error().Int("records", len(bad)).Strs("first", reasons).Str("path", path).
			Msg("damaged records in the queue file are set aside (quarantined): never sent, they hold no card")
	}
	return q, notes, nil
}

// saveHealth remembers whether the last scan could be saved: a disk that
// is full or failing shows on the status page until a scan is saved again.
type saveHealth struct {
	mu       sync.Mutex // guards what follows
	failedAt time.Time  // zero while scans are saved
	why      string
}

func (h *saveHealth) record(ev pos.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch ev.Kind {
	case pos.EventNotSaved:
		h.failedAt, h.why = ev.At, ev.Err
	case pos.EventSaved:
		h.failedAt, h.why = time.Time{}, ""
	}
}

func (h *saveHealth) problem() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("the last scan, at %s, was NOT saved (%s): the cashier was told to scan again; check the disk holding the state directory (full? failing?)",
		h.failedAt.Local().Format(time.TimeOnly), h.why)
}

// senderHealth remembers the last time the worker stopped with an error.
type senderHealth struct {
	mu       sync.Mutex // guards what follows
	failedAt time.Time
	err      error
}

func (h *senderHealth) failed(err error, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failedAt, h.err = at, err
}

// problem is the failure until the API has answered a request since.
func (h *senderHealth) problem(lastSuccess time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failedAt.IsZero() || lastSuccess.After(h.failedAt) {
		return ""
	}
	return fmt.Sprintf("sending stopped with an error at %s and was restarted (%v); scans are still saved", h.failedAt.Local().Format(time.TimeOnly), h.err)
}

// Bounds of the pause before a failed worker is started again.
const (
	workerRestartMin = time.Second
	workerRestartMax = time.Minute
)

// runWorker runs the worker until ctx ends. When it stops with an error
// (a queue it could not read or write), it is logged, shown as a problem
// and the worker starts again after a growing pause: the till keeps
// taking scans, so one bad record or a passing disk error must not end
// the daemon.
func (d *daemon) runWorker(ctx context.Context) error {
	pause := workerRestartMin
	for {
		err := d.worker.Run(ctx)
		d.watch.workerStopped() // not running until it beats again
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("the worker returned without an error")
		}
		d.sender.failed(err, time.Now())
		d.log.Error().Err(err).Dur("restart_in", pause).Msg("sending stopped with an error; restarting it (scans are still saved)")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		pause = min(2*pause, workerRestartMax)
	}
}
