package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/queue"
)

// queueOperator exposes a queue through control.Operator, for `tillscan
// queue` commands while the daemon holds the file.
type queueOperator struct {
	q    *queue.Queue
	wake func() // tells the worker a job became due; nil when offline
}

func (o queueOperator) woke(err error) error {
	if err == nil && o.wake != nil {
		o.wake()
	}
	return opErr(err)
}

func (o queueOperator) QueueStats(context.Context) (any, error) { return o.q.Stats(time.Now()) }

func (o queueOperator) ListJobs(_ context.Context, state string, limit int, after string) (any, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	jobs, err := o.q.List(queue.State(state), limit, after)
	return jobs, opErr(err)
}

func (o queueOperator) GetJob(_ context.Context, id string) (any, error) {
	j, err := o.q.Get(id)
	return j, opErr(err)
}

func (o queueOperator) RetryJob(_ context.Context, id string) error {
	j, err := o.q.Get(id)
	if err != nil {
		return opErr(err)
	}
	if j.State == queue.Ambiguous {
		// A blind re-send could apply it twice: the worker is already
		// checking it against the API, and a person can settle it.
		return fmt.Errorf("%w: job %s may already be applied and is being checked with the API; after checking the loyalty dashboard use: tillscan queue resolve %s --applied (or --not-applied)", control.ErrConflict, id, id)
	}
	return o.woke(o.q.OperatorRetry(id, time.Now()))
}

func (o queueOperator) DropJob(_ context.Context, id, reason string) error {
	return o.woke(o.q.Drop(id, reason, time.Now())) // may release the card's next job
}

func (o queueOperator) ResolveJob(_ context.Context, id string, applied bool, note string) error {
	return o.woke(o.q.Resolve(id, applied, note, time.Now()))
}

func (o queueOperator) ExportJobs(_ context.Context, w io.Writer) error { return o.q.Export(w) }

func (o queueOperator) CheckQueue(context.Context) error { return o.q.Check() }

// opErr maps the queue's errors to the control API's.
func opErr(err error) error {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return fmt.Errorf("%w: %w", control.ErrNotFound, err)
	case errors.Is(err, queue.ErrState):
		return fmt.Errorf("%w: %w", control.ErrConflict, err)
	}
	return err
}
