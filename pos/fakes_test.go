package pos

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// fakeQueue is an in-memory JobQueue that enforces the real queue's
// transitions and records every verb.
type fakeQueue struct {
	mu    sync.Mutex
	jobs  map[string]*queue.Job
	order []string
	verbs []string
}

func newFakeQueue(jobs ...queue.Job) *fakeQueue {
	q := &fakeQueue{jobs: map[string]*queue.Job{}}
	for _, j := range jobs {
		q.add(j)
	}
	return q
}

func (q *fakeQueue) add(j queue.Job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.State == "" {
		j.State = queue.Pending
	}
	q.jobs[j.ID] = &j
	q.order = append(q.order, j.ID)
}

func (q *fakeQueue) get(id string) queue.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.jobs[id]
}

func (q *fakeQueue) log() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.verbs)
}

func (q *fakeQueue) Next(now time.Time) (queue.Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, id := range q.order {
		j := q.jobs[id]
		if (j.State == queue.Pending || j.State == queue.Ambiguous) && !j.NextAttempt.After(now) {
			return *j, nil
		}
	}
	return queue.Job{}, queue.ErrEmpty
}

func (q *fakeQueue) NextDue() (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var at time.Time
	ok := false
	for _, j := range q.jobs {
		if (j.State == queue.Pending || j.State == queue.Ambiguous) && (!ok || j.NextAttempt.Before(at)) {
			at, ok = j.NextAttempt, true
		}
	}
	return at, ok, nil
}

func (q *fakeQueue) change(verb, id string, from []queue.State, fn func(j *queue.Job)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	j, ok := q.jobs[id]
	if !ok {
		return fmt.Errorf("fake %s %s: %w", verb, id, queue.ErrNotFound)
	}
	if !slices.Contains(from, j.State) {
		return fmt.Errorf("fake %s %s: job is %s: %w", verb, id, j.State, queue.ErrState)
	}
	fn(j)
	return nil
}

var active = []queue.State{queue.Sending, queue.Ambiguous}

func (q *fakeQueue) Sending(id, action string, now time.Time) error {
	return q.change("sending", id, []queue.State{queue.Pending, queue.Ambiguous}, func(j *queue.Job) {
		j.State, j.Action = queue.Sending, action
		if j.SentAt.IsZero() {
			j.SentAt = now
		}
		q.verbs = append(q.verbs, "sending "+action)
	})
}

func (q *fakeQueue) Done(id string, a queue.Attempt, result string) error {
	return q.change("done", id, active, func(j *queue.Job) {
		j.State, j.Result = queue.Done, result
		j.Attempts = append(j.Attempts, a)
		q.verbs = append(q.verbs, "done "+result)
	})
}

func (q *fakeQueue) Retry(id string, a queue.Attempt, next time.Time) error {
	return q.change("retry", id, active, func(j *queue.Job) {
		j.State, j.NextAttempt = queue.Pending, next
		j.Attempts = append(j.Attempts, a)
		q.verbs = append(q.verbs, "retry "+a.Outcome)
	})
}

func (q *fakeQueue) Ambiguous(id string, a queue.Attempt, recheck time.Time, misses int) error {
	return q.change("ambiguous", id, active, func(j *queue.Job) {
		j.State, j.NextAttempt, j.Misses = queue.Ambiguous, recheck, misses
		j.Attempts = append(j.Attempts, a)
		q.verbs = append(q.verbs, fmt.Sprintf("ambiguous %s misses=%d", a.Outcome, misses))
	})
}

func (q *fakeQueue) Dead(id string, a queue.Attempt, reason string) error {
	return q.change("dead", id, active, func(j *queue.Job) {
		j.State, j.Reason = queue.Dead, reason
		j.Attempts = append(j.Attempts, a)
		q.verbs = append(q.verbs, "dead "+reason)
	})
}

func (q *fakeQueue) Drop(id, reason string, now time.Time) error {
	return q.change("drop", id, []queue.State{queue.Pending, queue.Ambiguous, queue.Dead}, func(j *queue.Job) {
		j.State, j.Reason = queue.Dropped, reason
		q.verbs = append(q.verbs, "drop")
	})
}

// fakeAPI is a scripted Loyalty. Each call takes the next scripted answer
// of its kind; when the script runs out, apply and get use their defaults.
type fakeAPI struct {
	mu      sync.Mutex
	cards   map[string]apiclient.Card // GetCard answers; missing = 404
	getErrs []error                   // errors for the next GetCard calls
	apply   []func(apiclient.Action) (*apiclient.Card, error)
	ops     []apiclient.Operation // what GET /operations holds
	opsErrs []error               // errors for the next ListOperations calls
	perPage int                   // the server's own page cap; 0: none
	noCard  bool                  // the cardId filter comes back empty (notes/api.md §4)

	gets    int
	applied []apiclient.Action
	lists   []apiclient.OperationsQuery
	calls   chan string // if set, every call is reported
}

func (f *fakeAPI) report(s string) {
	if f.calls != nil {
		f.calls <- s
	}
}

func (f *fakeAPI) GetCard(ctx context.Context, number string) (*apiclient.Card, error) {
	f.mu.Lock()
	f.gets++
	var err error
	if len(f.getErrs) > 0 {
		err, f.getErrs = f.getErrs[0], f.getErrs[1:]
	}
	c, ok := f.cards[number]
	f.mu.Unlock()
	f.report("get " + number)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &apiclient.StatusError{Op: "get " + number, Status: 404, Message: "Card not found", Class: apiclient.ErrRejected}
	}
	return &c, nil
}

func (f *fakeAPI) Apply(ctx context.Context, a apiclient.Action) (*apiclient.Card, error) {
	f.mu.Lock()
	f.applied = append(f.applied, a)
	var next func(apiclient.Action) (*apiclient.Card, error)
	if len(f.apply) > 0 {
		next, f.apply = f.apply[0], f.apply[1:]
	}
	c := f.cards[a.Card]
	f.mu.Unlock()
	f.report(string(a.Method))
	if next != nil {
		return next(a)
	}
	return &c, nil
}

func (f *fakeAPI) ListOperations(ctx context.Context, q apiclient.OperationsQuery) ([]apiclient.Operation, apiclient.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, q)
	if len(f.opsErrs) > 0 {
		err := f.opsErrs[0]
		f.opsErrs = f.opsErrs[1:]
		return nil, apiclient.Meta{}, err
	}
	var match []apiclient.Operation
	for _, op := range f.ops {
		switch {
		case q.CardID != "" && (f.noCard || op.CardID != q.CardID):
		case q.TemplateID != 0 && op.TemplateID != q.TemplateID:
		default:
			match = append(match, op)
		}
	}
	per := q.ItemsPerPage
	if f.perPage > 0 && f.perPage < per {
		per = f.perPage
	}
	from := min((q.Page-1)*per, len(match))
	to := min(from+per, len(match))
	return match[from:to], apiclient.Meta{CurrentPage: q.Page, ItemsPerPage: per, TotalItems: len(match)}, nil
}

// answers for fakeAPI.apply
func answer(c apiclient.Card) func(apiclient.Action) (*apiclient.Card, error) {
	return func(apiclient.Action) (*apiclient.Card, error) { return &c, nil }
}

func fail(err error) func(apiclient.Action) (*apiclient.Card, error) {
	return func(apiclient.Action) (*apiclient.Card, error) { return nil, err }
}

func statusErr(status int, msg string, class error) error {
	return fmt.Errorf("apiclient: add-stamp: %w", &apiclient.StatusError{Op: "add-stamp", Status: status, Message: msg, Class: class})
}

func (f *fakeAPI) nApplied() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}
