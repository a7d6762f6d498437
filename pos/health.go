package pos

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// WorkerStatus is what the status page shows of the Worker.
type WorkerStatus struct {
	APIReachable bool      // the last request got an HTTP answer; false until the first one
	LastSuccess  time.Time // last applied action or successful read
	LastError    time.Time
	LastErr      string
	Paused       bool      // sending stopped: the API client refuses to send with a refused key
	PauseReason  string    // why, safe to show
	PausedSince  time.Time // when sending stopped; zero while not paused
	RetryAt      time.Time // while the API cannot be reached: when the next try is due
}

// Status returns a snapshot of the worker's health. Paused comes from the
// API client, which owns the key-refused pause.
func (w *Worker) Status() WorkerStatus {
	w.mu.Lock()
	st := w.status
	w.mu.Unlock()
	if cs := w.api.Status(); cs.Refused != nil {
		st.Paused, st.PauseReason, st.PausedSince = true, "the API refused the key: "+cs.Refused.Error(), cs.RefusedSince
	}
	return st
}

// holdUntil is when the backoff while the API is unreachable ends.
func (w *Worker) holdUntil() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hold
}

// succeeded records an answered, successful request.
func (w *Worker) succeeded(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status.APIReachable, w.status.LastSuccess, w.status.RetryAt = true, now, time.Time{}
	w.streak, w.hold = 0, time.Time{}
}

// answered records a request that got an answer (err nil) or an ambiguous
// failure (err set, reachable if an HTTP status came back).
func (w *Worker) answered(now time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		w.status.APIReachable, w.streak, w.hold, w.status.RetryAt = true, 0, time.Time{}, time.Time{}
		return
	}
	w.status.APIReachable = statusOf(err) != 0
	w.status.LastError, w.status.LastErr = now, err.Error()
}

// unreachable records a failure to reach the API without starting a
// backoff (the start-up check: no job is waiting on it).
func (w *Worker) unreachable(now time.Time, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.status.APIReachable = statusOf(err) != 0
	w.status.LastError, w.status.LastErr = now, err.Error()
}

// failed records a failure to reach the API, starts or extends the backoff
// (no job is sent before it ends) and returns when to try again. The first
// failure of a streak publishes one "waiting" event, not one per job.
//
// A failure that comes while a backoff is already running belongs to a
// request sent before it (several are in flight): it says nothing new about
// the API, so it does not lengthen the streak; otherwise one outage would
// reach RetryCap at once. It may still lengthen the hold to a Retry-After.
func (w *Worker) failed(now time.Time, err error, job queue.Job) time.Time {
	w.mu.Lock()
	var retryAfter time.Duration
	if se, ok := errors.AsType[*apiclient.StatusError](err); ok {
		retryAfter = se.RetryAfter
	}
	counted := !now.Before(w.hold)
	if counted {
		w.streak++
		w.hold = now.Add(max(backoff(w.streak, w.cfg.RetryBase, w.cfg.RetryCap, rand.Float64()), retryAfter))
	} else if ra := now.Add(retryAfter); ra.After(w.hold) {
		w.hold = ra
	}
	first, streak, hold := counted && w.streak == 1, w.streak, w.hold
	w.status.APIReachable = statusOf(err) != 0
	w.status.LastError, w.status.LastErr, w.status.RetryAt = now, err.Error(), hold
	w.mu.Unlock()
	if first {
		w.feed.publish(waitingEvent(job, now, err))
	} else if counted {
		w.log.Debug().Err(err).Int("failures", streak).Dur("retry_in", hold.Sub(now)).Msg("API still unreachable")
	}
	return hold
}

// keyRefused records a 401/403 and, the first time in a pause, tells the
// cashier. Nothing is announced if the client does not refuse the key
// (any more): a key changed while the refused request was in flight.
func (w *Worker) keyRefused(now time.Time, err error) {
	refused := w.api.Status().Refused
	w.mu.Lock()
	w.status.APIReachable, w.status.LastError, w.status.LastErr = true, now, err.Error()
	first := refused != nil && !w.announced
	if first {
		w.announced = true
	}
	w.mu.Unlock()
	if first {
		w.feed.publish(unauthorizedEvent(now, refused))
	}
}

// keyAccepted notes that the client sends again; the end of a pause that
// was announced is logged once.
func (w *Worker) keyAccepted() {
	w.mu.Lock()
	was := w.announced
	w.announced = false
	w.mu.Unlock()
	if was {
		w.log.Info().Msg("sending resumed: the API client accepts the key again")
	}
}

// backoff is the wait after the n-th failure in a row (n ≥ 1): base·2ⁿ⁻¹
// capped at ceiling, with equal jitter (r in [0,1) picks a point in the
// upper half), so tills that lost the network together do not return in
// step.
func backoff(n int, base, ceiling time.Duration, r float64) time.Duration {
	d := ceiling
	if n < 1 {
		n = 1
	}
	if n-1 < 32 {
		if x := base << (n - 1); x > 0 && x < ceiling {
			d = x
		}
	}
	return d/2 + time.Duration(r*float64(d/2))
}
