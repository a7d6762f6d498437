package pos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// DefaultInFlight is WorkerConfig.InFlight's default: enough requests in
// flight to keep 10 requests a second going when each answer takes a
// second, with room for the fsync before each send and the look-up of a
// new card.
const DefaultInFlight = 16

// MaxInFlight bounds WorkerConfig.InFlight: past it more requests in flight
// only wait for the limiter, and each is one more job left uncertain by a
// kill -9.
const MaxInFlight = 64

// flights is the set of jobs the worker has in flight, by card: at most
// one per card, so a card's jobs are applied in the order they were
// scanned, as with one job at a time.
type flights struct {
	mu    sync.Mutex
	cards map[string]time.Time // card → when its job was taken
	err   error                // the first queue failure of a job: it ends Run
	wg    sync.WaitGroup
}

func newFlights() *flights { return &flights{cards: map[string]time.Time{}} }

// take marks card's job as in flight since now.
func (f *flights) take(card string, now time.Time) {
	f.mu.Lock()
	f.cards[card] = now
	f.mu.Unlock()
}

// release marks card's job as done with.
func (f *flights) release(card string) {
	f.mu.Lock()
	delete(f.cards, card)
	f.mu.Unlock()
}

// busy reports whether a job of card is in flight; it is Queue.NextFree's
// filter.
func (f *flights) busy(card string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.cards[card]
	return ok
}

func (f *flights) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cards)
}

// oldest returns when the longest-running job in flight was taken; zero
// if none is.
func (f *flights) oldest() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var o time.Time
	for _, at := range f.cards {
		if o.IsZero() || at.Before(o) {
			o = at
		}
	}
	return o
}

// fail records a failure of the queue itself; the first one is what Run
// returns.
func (f *flights) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *flights) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Run applies due jobs until ctx is done: up to InFlight at once, each for
// a different card, a card's jobs one after the other in scan order. Every
// request start is still paced by the API client's limiter. It returns nil
// on cancellation, after every job in flight has recorded its outcome, and
// an error only if the queue itself fails.
func (w *Worker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	f := w.flights
	if w.cfg.StartupCheck {
		// Beside the first jobs, not before them: a backlog after an
		// outage should not wait one answer time more.
		f.wg.Go(func() { w.check(ctx) })
	}
	w.dispatch(ctx, f, cancel)
	cancel()
	f.wg.Wait()
	return f.failure()
}

// dispatch takes due jobs and starts each on its own goroutine while there
// is room, until ctx is done or a job's queue failure cancels it.
func (w *Worker) dispatch(ctx context.Context, f *flights, cancel context.CancelFunc) {
	for ctx.Err() == nil {
		w.beat(0)
		if w.waitWhilePaused(ctx) {
			continue
		}
		now := w.now()
		if hold := w.holdUntil(); now.Before(hold) {
			w.sleep(ctx, hold.Sub(now), false) // a new scan does not end the backoff
			continue
		}
		if f.len() >= w.room() {
			w.waitForRoom(ctx)
			continue
		}
		job, err := w.q.NextFree(now, f.busy)
		if errors.Is(err, queue.ErrEmpty) {
			w.idle(ctx, now)
			continue
		} else if err != nil {
			f.fail(fmt.Errorf("pos: worker: %w", err))
			return
		}
		f.take(job.Card, now)
		f.wg.Go(func() {
			if err := w.work(ctx, job); err != nil {
				f.fail(err)
				cancel()
			}
			f.release(job.Card)
			w.Wake() // the card's next job may be due, and there is room
		})
	}
}

// room is how many jobs may be in flight now: InFlight, or one while the
// API cannot be reached, so an outage is probed by one request at a time
// rather than by a full set of timeouts.
func (w *Worker) room() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.streak > 0 {
		return 1
	}
	return w.cfg.InFlight
}

// waitForRoom waits for a job in flight to finish (it wakes the worker),
// or ctx. It does not beat: while every slot is taken the loop makes
// progress only when a job does, and a job that never returns must show
// as stuck (InFlightSince).
func (w *Worker) waitForRoom(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-w.wake:
	}
}

// work processes one job and sorts its error: nil, or a failure of the
// queue that must end Run.
func (w *Worker) work(ctx context.Context, job queue.Job) error {
	err := w.process(ctx, job)
	switch {
	case err == nil:
	case errors.Is(err, queue.ErrState) || errors.Is(err, queue.ErrNotFound):
		// An operator changed the job under us (dropped, resolved): its
		// new state stands. The card stays taken a little so a surprise
		// cannot spin.
		w.log.Warn().Err(err).Str("job", job.ID).Msg("job changed while being worked on; moving on")
		w.sleep(ctx, w.cfg.RetryBase, false)
	case ctx.Err() != nil:
	default:
		return fmt.Errorf("pos: worker: job %s: %w", job.ID, err)
	}
	return nil
}

// InFlightSince returns when the longest-running job in flight was taken,
// zero if none is. A supervisor reads it beside the Heartbeat: a loop that
// turns while one job never returns is stuck too.
func (w *Worker) InFlightSince() time.Time { return w.flights.oldest() }

// InFlight returns how many jobs are in flight now, for the status page.
func (w *Worker) InFlight() int { return w.flights.len() }
