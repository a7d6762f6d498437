package pos

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// Loyalty is the part of the API client the Worker needs;
// *apiclient.Client satisfies it. Status is the client's own view of the
// key: the client alone decides when sending is paused because the key was
// refused, and when it ends (SetAPIKey).
type Loyalty interface {
	GetCard(ctx context.Context, number string) (*apiclient.Card, error)
	Apply(ctx context.Context, a apiclient.Action) (*apiclient.Card, error)
	ListOperations(ctx context.Context, q apiclient.OperationsQuery) ([]apiclient.Operation, apiclient.Meta, error)
	Status() apiclient.Status
}

// JobQueue is the part of the queue the Worker needs; *queue.Queue
// satisfies it.
type JobQueue interface {
	NextFree(now time.Time, busy func(card string) bool) (queue.Job, error)
	NextDue() (at time.Time, ok bool, err error)
	Sending(id string, action string, now time.Time) error
	Done(id string, a queue.Attempt, result string) error
	Retry(id string, a queue.Attempt, next time.Time) error
	Ambiguous(id string, a queue.Attempt, recheck time.Time, misses int) error
	Dead(id string, a queue.Attempt, reason string) error
	Refuse(id string, a queue.Attempt, reason string) error
	Get(id string) (queue.Job, error) // the job an undo takes back
}

// WorkerConfig configures a Worker. Zero fields mean the documented default.
type WorkerConfig struct {
	// TillID is used for the marker of a job that carries none (jobs carry
	// the till id they were scanned with, so a renamed till still finds the
	// markers of its old jobs).
	TillID string
	// Settle is the wait after an ambiguous send before looking for its
	// marker, and between looks; it must exceed the client's timeout, so a
	// request still in flight on the server can land. 0 means 30s.
	Settle time.Duration
	// Looks is how many delayed reads must all miss the marker before the
	// job is sent again; 0 means 3.
	Looks int
	// RetryBase and RetryCap shape the backoff while the API cannot be
	// reached (doubling, with jitter); 0 means 2s and 5m.
	RetryBase, RetryCap time.Duration
	// Idle is the longest the worker sleeps when nothing is due, and how
	// often it re-reads the client's key state while sending is paused; 0
	// means 30s.
	Idle time.Duration
	// Currency prefixes money in balances and messages, e.g. "£".
	Currency string
	// PageSize is the itemsPerPage of GET /operations; 0 means 100.
	PageSize int
	// ParkRefusals parks every refused job for an operator (dead, holding
	// its card's later scans until the operator acts) instead of ending it
	// as refused, for shops that want someone to look at each refusal.
	ParkRefusals bool
	// StartupCheck makes Run read one operation (GET /operations, today,
	// one item) as it starts, beside the first jobs, so a refused key
	// pauses sending and is reported at start, and Status knows whether
	// the API answers before the first scan. It costs one request per
	// start.
	StartupCheck bool
	// InFlight is how many jobs may be in flight at once, each for a
	// different card; 0 means DefaultInFlight, at most MaxInFlight. 1 applies one job at a time.
	// More in flight keeps the key's rate when each answer is slow; a
	// kill -9 leaves at most this many jobs uncertain, each reconciled.
	InFlight int
	// Heartbeat, if set, is called at each turn of Run's loop with 0, and
	// before each wait with the wait's length, so a watchdog can tell a
	// waiting worker from a stuck one. It must not block.
	Heartbeat func(sleep time.Duration)
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	or := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	or(&c.Settle, 30*time.Second)
	or(&c.RetryBase, 2*time.Second)
	or(&c.RetryCap, 5*time.Minute)
	or(&c.Idle, 30*time.Second)
	if c.Looks <= 0 {
		c.Looks = 3
	}
	if c.PageSize <= 0 {
		c.PageSize = 100
	}
	if c.InFlight <= 0 {
		c.InFlight = DefaultInFlight
	}
	c.InFlight = min(c.InFlight, MaxInFlight)
	return c
}

// Worker is the back half of tillscan: it applies due jobs, each end to
// end in process, several at once for different cards and in per-card
// order (the queue hands out only a card's oldest unfinished job, and
// never one of a card already in flight). Create one with NewWorker and call Run once;
// Wake and Status are safe to call from any goroutine.
type Worker struct {
	cfg     WorkerConfig
	q       JobQueue
	api     Loyalty
	cache   *Cache
	rules   func() Rules
	feed    *Feed
	log     zerolog.Logger
	now     func() time.Time // time.Now; tests replace it
	flights *flights         // the jobs in flight (Run); its own lock
	wake    chan struct{}    // 1 slot: a job was saved, or the key may work again

	mu     sync.Mutex // guards everything below
	status WorkerStatus
	streak int       // failures in a row to reach the API
	hold   time.Time // send nothing before this (backoff while unreachable)
	// announced is set once the current key-refused pause was published
	// on the feed, so each pause is reported once. The pause itself is the
	// client's (Loyalty.Status); this only remembers what was said.
	announced bool
}

// NewWorker returns a Worker. cache nil means an in-memory cache; rules nil
// means DefaultRules. rules is called once per job, so a reload takes
// effect at the next job.
func NewWorker(cfg WorkerConfig, q JobQueue, api Loyalty, cache *Cache, rules func() Rules, feed *Feed, log zerolog.Logger) *Worker {
	if cache == nil {
		cache, _ = NewCache(nil, log) // in memory: cannot fail
	}
	if rules == nil {
		rules = DefaultRules
	}
	return &Worker{cfg: cfg.withDefaults(), q: q, api: api, cache: cache, rules: rules, feed: feed, log: log,
		now: time.Now, wake: make(chan struct{}, 1), flights: newFlights()}
}

// Wake tells the worker a job was saved, or that the API key may work
// again (after the client's SetAPIKey). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// process works on one job handed out by NextFree, from the decision to
// the queue verb that records its outcome. It owns the job alone: nothing
// else changes it meanwhile but an operator (ErrState).
func (w *Worker) process(ctx context.Context, job queue.Job) error {
	if job.State != queue.Pending { // ambiguous (sending cannot be handed out; treat it alike)
		return w.reconcile(ctx, job, w.now())
	}
	return w.send(ctx, job, w.now())
}

// waitWhilePaused reports whether the client refuses to send because the
// key was refused; then it announces the pause (once) and waits for Wake,
// ctx or Idle before the caller looks again.
func (w *Worker) waitWhilePaused(ctx context.Context) bool {
	refused := w.api.Status().Refused
	if refused == nil {
		w.keyAccepted()
		return false
	}
	w.keyRefused(w.now(), refused)
	w.sleep(ctx, w.cfg.Idle, true)
	return true
}

// check asks the API for one operation of today: it answers (reachable),
// refuses the key (the client pauses), or cannot be reached (logged; jobs
// back off as usual when they fail).
func (w *Worker) check(ctx context.Context) {
	now := w.now()
	_, _, err := w.api.ListOperations(ctx, apiclient.OperationsQuery{StartDate: day(now), EndDate: day(now), Page: 1, ItemsPerPage: 1})
	now = w.now()
	switch {
	case err == nil:
		w.succeeded(now)
		w.log.Info().Msg("the API answers and accepts the key")
	case errors.Is(err, apiclient.ErrUnauthorized):
		w.keyRefused(now, err)
	case errors.Is(err, apiclient.ErrRejected):
		w.answered(now, nil)
	case ctx.Err() != nil:
	default:
		w.unreachable(now, err)
		w.log.Warn().Err(err).Msg("the API cannot be reached at start; scans are saved and sent when it can")
	}
}

// idle sleeps until the next job is due, a job is saved, or Idle passed.
func (w *Worker) idle(ctx context.Context, now time.Time) {
	d := w.cfg.Idle
	if at, ok, err := w.q.NextDue(); err != nil {
		w.log.Warn().Err(err).Msg("cannot read when the next job is due")
	} else if ok && at.Sub(now) > 0 && at.Sub(now) < d {
		d = at.Sub(now)
	}
	w.sleep(ctx, d, true)
}

// sleep waits d, or until ctx is done, or (if wakeable) until Wake.
func (w *Worker) sleep(ctx context.Context, d time.Duration, wakeable bool) {
	w.beat(d)
	t := time.NewTimer(d)
	defer t.Stop()
	wake := w.wake
	if !wakeable {
		wake = nil
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}
