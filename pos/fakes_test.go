package pos

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// recQueue is the real bbolt queue, recording each verb the worker uses
// (only those that succeed), so a test reads the worker's decisions in
// order. The state machine and per-card order are the queue's own.
type recQueue struct {
	*queue.Queue
	mu    sync.Mutex
	verbs []string
}

func openRecQueue(tb testing.TB) *recQueue {
	tb.Helper()
	q, err := queue.Open(filepath.Join(tb.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		tb.Fatalf("queue.Open: %v", err)
	}
	tb.Cleanup(func() { q.Close() })
	return &recQueue{Queue: q}
}

func (q *recQueue) record(err error, verb string) error {
	if err == nil {
		q.mu.Lock()
		q.verbs = append(q.verbs, verb)
		q.mu.Unlock()
	}
	return err
}

func (q *recQueue) log() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.verbs)
}

func (q *recQueue) forget() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.verbs = nil
}

func (q *recQueue) Sending(id, action string, now time.Time) error {
	return q.record(q.Queue.Sending(id, action, now), "sending "+action)
}

func (q *recQueue) Done(id string, a queue.Attempt, result string) error {
	return q.record(q.Queue.Done(id, a, result), "done "+result)
}

func (q *recQueue) Retry(id string, a queue.Attempt, next time.Time) error {
	return q.record(q.Queue.Retry(id, a, next), "retry "+a.Outcome)
}

func (q *recQueue) Ambiguous(id string, a queue.Attempt, recheck time.Time, misses int) error {
	return q.record(q.Queue.Ambiguous(id, a, recheck, misses), fmt.Sprintf("ambiguous %s misses=%d", a.Outcome, misses))
}

func (q *recQueue) Dead(id string, a queue.Attempt, reason string) error {
	return q.record(q.Queue.Dead(id, a, reason), "dead "+reason)
}

func (q *recQueue) Refuse(id string, a queue.Attempt, reason string) error {
	return q.record(q.Queue.Refuse(id, a, reason), "refused "+reason)
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
	noCard  bool                  // the cardId filter comes back empty (see docs/api.md)
	onGet   func()                // if set, runs at each GetCard (an operator acting meanwhile)

	refused error // set by a 401/403 answer, like the client's pause; cleared by acceptKey

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
	if f.onGet != nil {
		f.onGet()
	}
	if err != nil {
		return nil, f.saw(err)
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
		c, err := next(a)
		return c, f.saw(err)
	}
	return &c, nil
}

// saw records a refused key, as the client does, and returns err.
func (f *fakeAPI) saw(err error) error {
	if errors.Is(err, apiclient.ErrUnauthorized) {
		f.mu.Lock()
		f.refused = err
		f.mu.Unlock()
	}
	return err
}

// Status reports the key refused after a 401/403, like the client.
func (f *fakeAPI) Status() apiclient.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return apiclient.Status{Refused: f.refused}
}

// acceptKey ends the pause, as the client's SetAPIKey does.
func (f *fakeAPI) acceptKey() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = nil
}

func (f *fakeAPI) ListOperations(ctx context.Context, q apiclient.OperationsQuery) ([]apiclient.Operation, apiclient.Meta, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists = append(f.lists, q)
	if len(f.opsErrs) > 0 {
		err := f.opsErrs[0]
		f.opsErrs = f.opsErrs[1:]
		if errors.Is(err, apiclient.ErrUnauthorized) {
			f.refused = err
		}
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
