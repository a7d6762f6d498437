package pos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// Loyalty is the part of the API client the Worker needs;
// *apiclient.Client satisfies it.
type Loyalty interface {
	GetCard(ctx context.Context, number string) (*apiclient.Card, error)
	Apply(ctx context.Context, a apiclient.Action) (*apiclient.Card, error)
	ListOperations(ctx context.Context, q apiclient.OperationsQuery) ([]apiclient.Operation, apiclient.Meta, error)
}

// JobQueue is the part of the queue the Worker needs; *queue.Queue
// satisfies it.
type JobQueue interface {
	Next(now time.Time) (queue.Job, error)
	NextDue() (at time.Time, ok bool, err error)
	Sending(id string, action string, now time.Time) error
	Done(id string, a queue.Attempt, result string) error
	Retry(id string, a queue.Attempt, next time.Time) error
	Ambiguous(id string, a queue.Attempt, recheck time.Time, misses int) error
	Dead(id string, a queue.Attempt, reason string) error
	Drop(id, reason string, now time.Time) error
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
	// Idle is the longest the worker sleeps when nothing is due; 0 means 30s.
	Idle time.Duration
	// Currency prefixes money in balances and messages, e.g. "£".
	Currency string
	// PageSize is the itemsPerPage of GET /operations; 0 means 100.
	PageSize int
	// DropRejected drops (tombstones) a job the API refused for good,
	// right after parking it, instead of leaving it dead. A dead job holds
	// every later scan of its card until an operator acts, which is safe
	// but means a "visit already registered today" refusal holds that
	// member's visit tomorrow too. Uncertain jobs are never dropped.
	DropRejected bool
	// StartupCheck makes Run read one operation (GET /operations, today,
	// one item) before anything else, so a refused key pauses sending and
	// is logged loudly at start, and Status knows whether the API answers
	// before the first scan. It costs one request per start.
	StartupCheck bool
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
	return c
}

// WorkerStatus is what the status page shows of the Worker.
type WorkerStatus struct {
	APIReachable bool      // the last request got an HTTP answer; false until the first one
	LastSuccess  time.Time // last applied action or successful read
	LastError    time.Time
	LastErr      string
	Paused       bool // sending stopped: the API key was refused
	PauseReason  string
	RetryAt      time.Time // while the API cannot be reached: when the next try is due
}

// Worker is the back half of tillscan: it applies due jobs one at a time.
// Create one with NewWorker and call Run once; Wake, Resume and Status are
// safe to call from any goroutine.
type Worker struct {
	cfg    WorkerConfig
	q      JobQueue
	api    Loyalty
	cache  *Cache
	rules  func() Rules
	feed   *Feed
	log    zerolog.Logger
	now    func() time.Time // time.Now; tests replace it
	wake   chan struct{}    // 1 slot: a job was saved
	resume chan struct{}    // 1 slot: Resume was called

	mu     sync.Mutex // guards everything below
	status WorkerStatus
	streak int       // failures in a row to reach the API
	hold   time.Time // send nothing before this (backoff while unreachable)
}

// NewWorker returns a Worker. cache nil means an in-memory cache; rules nil
// means DefaultRules. rules is called once per job, so a reload takes
// effect at the next job.
func NewWorker(cfg WorkerConfig, q JobQueue, api Loyalty, cache *Cache, rules func() Rules, feed *Feed, log zerolog.Logger) *Worker {
	if cache == nil {
		cache, _ = OpenCache("", log) // in memory: cannot fail
	}
	if rules == nil {
		rules = DefaultRules
	}
	return &Worker{cfg: cfg.withDefaults(), q: q, api: api, cache: cache, rules: rules, feed: feed, log: log,
		now: time.Now, wake: make(chan struct{}, 1), resume: make(chan struct{}, 1)}
}

// Wake tells the worker a job was saved. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Resume ends a pause caused by a refused API key; call it after giving the
// client a new key. Jobs that were waiting are sent again.
func (w *Worker) Resume() {
	w.mu.Lock()
	was := w.status.Paused
	w.status.Paused, w.status.PauseReason = false, ""
	w.mu.Unlock()
	if was {
		w.log.Info().Msg("sending resumed")
	}
	select {
	case w.resume <- struct{}{}:
	default:
	}
}

// Status returns a snapshot of the worker's health.
func (w *Worker) Status() WorkerStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Run applies due jobs until ctx is done. It returns nil on cancellation
// and an error only if the queue itself fails.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.StartupCheck {
		w.check(ctx)
	}
	for ctx.Err() == nil {
		now := w.now()
		w.mu.Lock()
		paused, hold := w.status.Paused, w.hold
		w.mu.Unlock()
		switch {
		case paused:
			select {
			case <-ctx.Done():
			case <-w.resume:
			}
			continue
		case now.Before(hold):
			w.sleep(ctx, hold.Sub(now), false) // a new scan does not end the backoff
			continue
		}
		job, err := w.q.Next(now)
		if errors.Is(err, queue.ErrEmpty) {
			w.idle(ctx, now)
			continue
		} else if err != nil {
			return fmt.Errorf("pos: worker: %w", err)
		}
		err = w.step(ctx, job, now)
		switch {
		case err == nil:
		case errors.Is(err, queue.ErrState) || errors.Is(err, queue.ErrNotFound):
			// An operator changed the job under us (dropped, resolved): its
			// new state stands. Pause a little so a surprise cannot spin.
			w.log.Warn().Err(err).Str("job", job.ID).Msg("job changed while being worked on; moving on")
			w.sleep(ctx, w.cfg.RetryBase, false)
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("pos: worker: job %s: %w", job.ID, err)
		}
	}
	return nil
}

// check asks the API for one operation of today: it answers (reachable),
// refuses the key (pause), or cannot be reached (logged; jobs back off as
// usual when they fail).
func (w *Worker) check(ctx context.Context) {
	now := w.now()
	_, _, err := w.api.ListOperations(ctx, apiclient.OperationsQuery{StartDate: day(now), EndDate: day(now), Page: 1, ItemsPerPage: 1})
	now = w.now()
	switch {
	case err == nil:
		w.succeeded(now)
		w.log.Info().Msg("the API answers and accepts the key")
	case errors.Is(err, apiclient.ErrUnauthorized):
		w.pause(now, err)
	case errors.Is(err, apiclient.ErrRejected):
		w.answered(now, nil)
	case ctx.Err() != nil:
	default:
		w.mu.Lock()
		w.status.APIReachable = statusOf(err) != 0
		w.status.LastError, w.status.LastErr = now, err.Error()
		w.mu.Unlock()
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
	case <-w.resume:
	}
}

// step works on one job handed out by Next.
func (w *Worker) step(ctx context.Context, job queue.Job, now time.Time) error {
	if job.State != queue.Pending { // ambiguous (sending cannot be handed out; treat it alike)
		return w.reconcile(ctx, job, now)
	}
	return w.send(ctx, job, now)
}

func (w *Worker) marker(job queue.Job) string {
	till := job.TillID
	if till == "" {
		till = w.cfg.TillID
	}
	return Marker(till, job.ID)
}

func (w *Worker) comment(job queue.Job, r Rules) string {
	if r.Comment == "" {
		return w.marker(job)
	}
	return w.marker(job) + " " + r.Comment
}

// send decides the job's action and applies it. It probes the mechanics of
// a Stamp, Reward or Membership template the API says the guess was wrong
// for: each probe is a fresh send of the same job with the same marker,
// which is safe because a rejected request was not applied.
func (w *Worker) send(ctx context.Context, job queue.Job, now time.Time) error {
	r := w.rules()
	card, err := w.lookup(ctx, job, r)
	if err != nil {
		return w.lookupFailed(ctx, job, err, now)
	}
	mech, declared := r.Mechanics[card.TemplateID]
	if !declared {
		mech, _ = w.cache.Mechanics(card.TemplateID)
	}
	var tried []Mechanics
	for {
		a, err := r.Decide(*card, mech, job.Mode, job.PurchaseSum)
		if err != nil {
			if errors.Is(err, ErrNeedPurchaseSum) && len(tried) > 0 && mech == MechSpend {
				w.learn(card.TemplateID, mech, "every other accrual was refused") // by elimination
			}
			return w.refuse(job, now, "", err, refusalText(err))
		}
		a.Card, a.Comment = job.Card, w.comment(job, r)
		if err := w.q.Sending(job.ID, describe(a), now); err != nil {
			return err // from here on, a crash leaves the job to be reconciled
		}
		res, err := w.api.Apply(ctx, a)
		now = w.now()
		used, accrual := mechanicsOf(card.Type, a.Method)
		if accrual && !declared && (err == nil || errors.Is(err, apiclient.ErrRejected) && !wrongMechanics(err)) {
			// Accepted, or refused for another reason (a daily visit
			// limit): either way the accrual type fits the template.
			w.learn(card.TemplateID, used, "the API accepted the accrual type of "+string(a.Method))
		}
		if errors.Is(err, apiclient.ErrRejected) && wrongMechanics(err) && accrual && !declared {
			tried = append(tried, used)
			if next, ok := nextCandidate(card.Type, tried); ok {
				w.log.Info().Str("job", job.ID).Int("template", card.TemplateID).Str("refused", string(used)).
					Str("trying", string(next)).Msg("API says the accrual type is wrong for this template; trying the next")
				if err := w.q.Retry(job.ID, attempt("send", now, err), now); err != nil {
					return err
				}
				mech = next
				continue
			}
		}
		return w.outcome(ctx, job, card, a, res, err, now, declared)
	}
}

// outcome maps the client's outcome class to a queue verb (STYLE R11).
func (w *Worker) outcome(ctx context.Context, job queue.Job, card *apiclient.Card, a apiclient.Action, res *apiclient.Card, err error, now time.Time, declared bool) error {
	at := attempt("send", now, err)
	switch {
	case err == nil:
		w.succeeded(now)
		balance := ""
		if res != nil {
			res.Type = card.Type // the answer's type string says the same; keep the cached one if it is missing
			balance = BalanceText(*res, w.cfg.Currency)
		}
		if err := w.q.Done(job.ID, at, balance); err != nil {
			return err
		}
		ev := w.event(job, EventApplied, now)
		ev.Balance, ev.Message, ev.Action = balance, cashierLine(a, res, w.cfg.Currency), describe(a)
		w.feed.publish(ev)
		w.log.Info().Str("job", job.ID).Str("card", job.Card).Str("action", describe(a)).Str("balance", balance).Msg("applied")
		return nil
	case errors.Is(err, apiclient.ErrAmbiguous):
		w.answered(now, err)
		if err := w.q.Ambiguous(job.ID, at, now.Add(w.cfg.Settle), 0); err != nil {
			return err
		}
		w.log.Warn().Err(err).Str("job", job.ID).Str("card", job.Card).Msg("outcome unknown; will look for the marker before any re-send")
		ev := w.event(job, EventReconciling, now)
		ev.Err = err.Error()
		ev.Message = job.Card + ": answer lost — checking with the API before sending again (it is saved)"
		w.feed.publish(ev)
		return nil
	case errors.Is(err, apiclient.ErrRejected):
		w.answered(now, nil)
		if wrongMechanics(err) && declared {
			return w.refuse(job, now, "sent:"+describe(a), err, fmt.Sprintf("the API refused %s for this card's template (%d): check its mechanics in the config", a.Method, card.TemplateID))
		}
		if statusOf(err) == 404 {
			if ferr := w.cache.Forget(job.Card); ferr != nil {
				w.log.Warn().Err(ferr).Msg("cannot update the card cache")
			}
		}
		return w.refuse(job, now, "sent:"+describe(a), err, refusalText(err))
	case errors.Is(err, apiclient.ErrUnauthorized):
		w.pause(now, err)
		return w.q.Retry(job.ID, at, now) // sent again as soon as a new key resumes sending
	default: // not sent, or 429: certainly not applied
		if ctx.Err() != nil {
			return w.q.Retry(job.ID, at, now) // shutting down: not a network problem
		}
		next := w.failed(now, err, job)
		return w.q.Retry(job.ID, at, next)
	}
}

// lookup returns the card: from the cache (no request) unless the rule
// needs its current balance (receive-reward picking a tier), else GET.
func (w *Worker) lookup(ctx context.Context, job queue.Job, r Rules) (*apiclient.Card, error) {
	if info, ok := w.cache.Get(job.Card); ok && !r.needsBalance(info.Type, info.TemplateID, job.Mode) {
		return &apiclient.Card{ID: job.Card, Type: info.Type, TemplateID: info.TemplateID,
			AvailableRewardTiers: info.RewardTiers}, nil
	}
	c, err := w.api.GetCard(ctx, job.Card)
	if err != nil {
		return nil, err
	}
	w.succeeded(w.now())
	c.ID = job.Card
	if err := w.cache.Put(job.Card, CardInfo{Type: c.Type, TemplateID: c.TemplateID,
		RewardTiers: c.AvailableRewardTiers, UpdatedAt: w.now()}); err != nil {
		w.log.Warn().Err(err).Msg("cannot update the card cache (the next scan of this card costs a GET again)")
	}
	return c, nil
}

// lookupFailed handles a failed GET /cards: a read, so nothing was applied
// and every failure but "unknown card" is simply tried again later. The
// job stays pending; only the worker's backoff changes.
func (w *Worker) lookupFailed(ctx context.Context, job queue.Job, err error, now time.Time) error {
	switch {
	case errors.Is(err, apiclient.ErrRejected):
		w.answered(now, nil)
		return w.refuse(job, now, "lookup", err, refusalText(err))
	case errors.Is(err, apiclient.ErrUnauthorized):
		w.pause(now, err)
	case ctx.Err() != nil:
	default:
		w.failed(now, err, job)
	}
	return nil
}

// refuse parks a job that cannot be applied as it is. phase "" or
// "lookup" means nothing was sent for it in this step; "sent:<action>"
// that the API refused the action; "reconcile" that its outcome cannot be
// checked (a "dead" event rather than "rejected").
func (w *Worker) refuse(job queue.Job, now time.Time, phase string, err error, why string) error {
	if (phase == "" || phase == "lookup") && job.State == queue.Pending {
		// The queue parks only jobs being sent or reconciled; record the
		// (empty) send first. A crash in between is reconciled: nothing
		// is found, and the same refusal follows.
		if err := w.q.Sending(job.ID, "none: "+why, now); err != nil {
			return err
		}
	}
	kind, ev := "send", w.event(job, EventRejected, now)
	switch phase {
	case "":
		kind = "decide"
	case "reconcile":
		kind, ev.Kind, ev.Action = "reconcile", EventDead, job.Action
	default:
		_, ev.Action, _ = strings.Cut(phase, ":")
	}
	if err := w.q.Dead(job.ID, attempt(kind, now, err), why); err != nil {
		return err
	}
	ev.Err = err.Error()
	ev.Message = job.Card + ": NOT applied — " + why
	if w.cfg.DropRejected && phase != "reconcile" {
		if err := w.q.Drop(job.ID, "refused by the API, dropped (worker.on_rejected: drop): "+why, now); err != nil {
			return err
		}
		w.log.Warn().Err(err).Str("job", job.ID).Str("card", job.Card).Str("reason", why).Msg("job refused; dropped so later scans of the card go ahead")
		w.feed.publish(ev)
		return nil
	}
	w.log.Warn().Err(err).Str("job", job.ID).Str("card", job.Card).Str("reason", why).Msg("job refused; parked for an operator (later scans of this card wait)")
	w.feed.publish(ev)
	return nil
}

// learn remembers a template's mechanics.
func (w *Worker) learn(templateID int, m Mechanics, why string) {
	if old, ok := w.cache.Mechanics(templateID); ok && old == m {
		return
	}
	w.log.Info().Int("template", templateID).Str("mechanics", string(m)).Str("because", why).Msg("learned template mechanics")
	if err := w.cache.LearnMechanics(templateID, m); err != nil {
		w.log.Warn().Err(err).Msg("cannot save learned mechanics")
	}
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

// failed records a failure to reach the API, starts or extends the backoff
// (no job is sent before it ends) and returns when to try again. The first
// failure of a streak publishes one "waiting" event, not one per job.
func (w *Worker) failed(now time.Time, err error, job queue.Job) time.Time {
	w.mu.Lock()
	w.streak++
	d := backoff(w.streak, w.cfg.RetryBase, w.cfg.RetryCap, rand.Float64())
	if se, ok := errors.AsType[*apiclient.StatusError](err); ok && se.RetryAfter > d {
		d = se.RetryAfter
	}
	first := w.streak == 1
	w.hold = now.Add(d)
	w.status.APIReachable = statusOf(err) != 0
	w.status.LastError, w.status.LastErr, w.status.RetryAt = now, err.Error(), w.hold
	w.mu.Unlock()
	if first {
		w.log.Warn().Err(err).Dur("retry_in", d).Msg("cannot reach the API; scans stay saved and will be sent later")
		ev := w.event(job, EventWaiting, now)
		ev.Err = err.Error()
		ev.Message = "no connection to the loyalty API — scans are saved and will be sent later"
		if errors.Is(err, apiclient.ErrRateLimited) {
			ev.Message = "the loyalty API asks to slow down — scans are saved and will be sent shortly"
		}
		w.feed.publish(ev)
	} else {
		w.log.Debug().Err(err).Int("failures", w.streak).Dur("retry_in", d).Msg("API still unreachable")
	}
	return now.Add(d)
}

// pause stops all sending until Resume.
func (w *Worker) pause(now time.Time, err error) {
	w.mu.Lock()
	was := w.status.Paused
	w.status.Paused, w.status.PauseReason = true, "the API refused the key: "+err.Error()
	w.status.APIReachable, w.status.LastError, w.status.LastErr = true, now, err.Error()
	w.mu.Unlock()
	if was {
		return
	}
	w.log.Error().Err(err).Msg("THE API REFUSED THE API KEY: sending stopped; scans are still saved. Fix the key and reload tillscan")
	w.feed.publish(Event{At: now, Kind: EventUnauthorized, Err: err.Error(),
		Message: "loyalty API key refused — sending stopped, scans are saved; fix the key and reload"})
}

func (w *Worker) event(job queue.Job, kind EventKind, now time.Time) Event {
	return Event{At: now, Kind: kind, Scanner: job.Scanner, Card: job.Card, JobID: job.ID, Mode: job.Mode}
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

// nextCandidate returns the first mechanics of t not yet tried.
func nextCandidate(t apiclient.CardType, tried []Mechanics) (Mechanics, bool) {
	for _, m := range MechanicsCandidates(t) {
		if !slices.Contains(tried, m) {
			return m, true
		}
	}
	return "", false
}

// wrongMechanics reports whether a rejection is the API's "Irrelevant
// accrual type". The API gives no code for it, only this message, so this
// is the one place tillscan reads the wording (the issue asks to learn from
// it); every other branch uses the outcome class.
func wrongMechanics(err error) bool {
	se, ok := errors.AsType[*apiclient.StatusError](err)
	return ok && strings.Contains(strings.ToLower(se.Message), "irrelevant accrual")
}

func statusOf(err error) int {
	if se, ok := errors.AsType[*apiclient.StatusError](err); ok {
		return se.Status
	}
	return 0
}

// refusalText says why a job was refused, for the cashier. The API's
// wording is not guaranteed: it only picks friendlier words, and the
// server's own message is kept.
func refusalText(err error) string {
	switch {
	case errors.Is(err, ErrNeedPurchaseSum):
		return "this card needs the purchase sum: scan the sum barcode, then the card"
	case errors.Is(err, ErrWholeAmount):
		return "this card can only pay whole amounts: enter a whole sum"
	case errors.Is(err, ErrNoReward):
		return "not enough points for a reward"
	case errors.Is(err, ErrUnknownMode):
		return "unknown mode: " + err.Error()
	case errors.Is(err, ErrNoRule):
		return "no rule for this kind of card in the config"
	}
	se, ok := errors.AsType[*apiclient.StatusError](err)
	if !ok {
		return err.Error()
	}
	msg := strings.ToLower(se.Message)
	switch {
	case se.Status == 404:
		return "unknown card (" + se.Message + ")"
	case strings.Contains(msg, "not enough") || strings.Contains(msg, "insufficient"):
		return "not enough balance (" + se.Message + ")"
	case strings.Contains(msg, "already"):
		return "already done (" + se.Message + ")"
	case se.Message != "":
		return "refused: " + se.Message
	}
	return fmt.Sprintf("refused with HTTP %d", se.Status)
}

// attempt records one try and its outcome class.
func attempt(kind string, now time.Time, err error) queue.Attempt {
	a := queue.Attempt{At: now, Kind: kind, Outcome: outcomeOf(err), HTTPStatus: statusOf(err)}
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "applied"
	case errors.Is(err, apiclient.ErrAmbiguous):
		return "ambiguous"
	case errors.Is(err, apiclient.ErrRejected):
		return "rejected"
	case errors.Is(err, apiclient.ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, apiclient.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, apiclient.ErrNotSent):
		return "not_sent"
	}
	return "refused"
}

// describe writes an action for the job's audit trail: "add-stamp 1".
func describe(a apiclient.Action) string {
	if a.Method.Field() == "" {
		return string(a.Method)
	}
	return string(a.Method) + " " + fmtNum(a.Quantity)
}
