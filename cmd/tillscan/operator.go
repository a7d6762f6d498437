package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// queueOperator exposes a queue through control.Operator: the daemon's
// control API serves it while the daemon holds the file, and `tillscan
// queue` uses it directly on the file when the daemon is stopped.
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

func (o queueOperator) QueueStats(context.Context) (control.QueueStats, error) {
	st, err := o.q.Stats(time.Now())
	if err != nil {
		return control.QueueStats{}, err
	}
	depth := make(map[string]int, len(st.Depth))
	for s, n := range st.Depth {
		depth[string(s)] = n
	}
	return control.QueueStats{
		Depth: depth, OldestPending: st.OldestPending, OldestAmbiguous: st.OldestAmbiguous, LastDone: st.LastDone,
		FileSize: st.FileSize, MovedAside: st.MovedAside, MovedAsideWhy: st.MovedAsideWhy,
	}, nil
}

func (o queueOperator) ListJobs(_ context.Context, req control.ListRequest) ([]control.Job, error) {
	limit := req.Limit
	if limit <= 0 || limit > control.MaxList {
		limit = control.DefaultList
	}
	jobs, err := o.q.List(queue.State(req.State), limit, req.After)
	if err != nil {
		return nil, opErr(err)
	}
	out := make([]control.Job, len(jobs))
	for i, j := range jobs {
		out[i] = jobDTO(j)
	}
	return out, nil
}

func (o queueOperator) GetJob(_ context.Context, id string) (control.Job, error) {
	j, err := o.q.Get(id)
	if err != nil {
		return control.Job{}, opErr(err)
	}
	return jobDTO(j), nil
}

func (o queueOperator) RetryJob(_ context.Context, id string) error {
	j, err := o.q.Get(id)
	if err != nil {
		return opErr(err)
	}
	if j.State == queue.Ambiguous {
		// A blind re-send could apply it twice: the worker is already
		// checking it against the API, and a person can settle it.
		return control.Conflict(fmt.Errorf("job %s may already be applied and is being checked with the API; after checking the loyalty dashboard use: tillscan queue resolve %s --applied (or --not-applied)", id, id))
	}
	return o.woke(o.q.OperatorRetry(id, time.Now()))
}

func (o queueOperator) DropJob(_ context.Context, id string, req control.DropRequest) error {
	return o.woke(o.q.Drop(id, req.Reason, time.Now())) // may release the card's next job
}

func (o queueOperator) ResolveJob(_ context.Context, id string, req control.ResolveRequest) error {
	if req.Applied == nil {
		return errors.New("say whether the job was applied")
	}
	return o.woke(o.q.Resolve(id, *req.Applied, req.Note, time.Now()))
}

func (o queueOperator) ExportJobs(_ context.Context, w io.Writer) error { return o.q.Export(w) }

func (o queueOperator) CheckQueue(context.Context) error { return o.q.Check() }

func (o queueOperator) CardTypes(context.Context) (control.CardTypes, error) {
	types, err := pos.CardTypes(o.q)
	if err != nil {
		return control.CardTypes{}, err
	}
	out := control.CardTypes{Types: make(map[string]string, len(types))}
	for card, t := range types {
		out.Types[card] = t.String()
	}
	return out, nil
}

// opErr marks the queue's errors with the control API's classes, keeping
// their text as it is.
func opErr(err error) error {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return control.NotFound(err)
	case errors.Is(err, queue.ErrState):
		return control.Conflict(err)
	}
	return err
}

// jobDTO is j as the control API shows it.
func jobDTO(j queue.Job) control.Job {
	out := control.Job{
		ID: j.ID, State: string(j.State), Card: j.Card, Scanner: j.Scanner, Raw: j.Raw, Mode: j.Mode,
		PurchaseSum: j.PurchaseSum, ScannedAt: j.ScannedAt, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		NextAttempt: j.NextAttempt, Action: j.Action, Result: j.Result, Reason: j.Reason, Uncertain: j.Uncertain,
		Attempts: make([]control.Attempt, len(j.Attempts)), AttemptsOmitted: j.AttemptsOmitted,
	}
	for i, a := range j.Attempts {
		out.Attempts[i] = control.Attempt{At: a.At, Kind: a.Kind, Outcome: a.Outcome, Error: a.Error, HTTPStatus: a.HTTPStatus, Note: a.Note}
	}
	return out
}
