package pos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// maxReconcilePages bounds one reconciliation read; beyond it the read
// counts as failed (never as "absent").
const maxReconcilePages = 200

// errTooManyOps is returned when the operations of the window do not fit in
// maxReconcilePages pages.
var errTooManyOps = errors.New("pos: too many operations to look through")

// reconcile settles a job whose send may have been applied: it reads
// GET /operations for the job's marker. Found once: done. Found more than
// once: dead, for an operator to correct the card. Missing on Looks
// delayed reads in a row: surely absent, so the job goes back to pending
// and is sent again with the same marker. A failed read changes nothing
// but the time of the next look. It never re-sends blind.
func (w *Worker) reconcile(ctx context.Context, job queue.Job, now time.Time) error {
	marker := w.marker(job)
	found, err := w.findMarker(ctx, job, marker, now)
	now = w.now()
	at := queue.Attempt{At: now, Kind: "reconcile", HTTPStatus: statusOf(err)}
	if err != nil {
		at.Outcome, at.Error = outcomeOf(err), err.Error()
		switch {
		case errors.Is(err, apiclient.ErrUnauthorized):
			w.keyRefused(now, err)
			return w.q.Ambiguous(job.ID, at, now, job.Misses)
		case errors.Is(err, apiclient.ErrRejected):
			// The API refuses the read itself: the job cannot be settled
			// automatically, and re-sending could apply it twice.
			w.answered(now, nil)
			return w.refuse(job, now, refusal{phase: phaseReconcile, err: err,
				why: "cannot check whether it was applied: " + refusalText(err) + "; look at the card's operations and resolve the job"})
		case ctx.Err() != nil:
			return w.q.Ambiguous(job.ID, at, now, job.Misses)
		case errors.Is(err, errTooManyOps):
			w.log.Error().Err(err).Str("job", job.ID).Msg("cannot look through every operation; trying again later")
			return w.q.Ambiguous(job.ID, at, now.Add(w.cfg.Settle), job.Misses)
		default: // not sent, 429, 5xx, timeout: look again later, same count
			next := w.failed(now, err, job)
			if s := now.Add(w.cfg.Settle); s.After(next) {
				next = s
			}
			return w.q.Ambiguous(job.ID, at, next, job.Misses)
		}
	}
	w.succeeded(now)
	if len(found) == 0 {
		misses := job.Misses + 1
		at.Outcome = "absent"
		if misses < w.cfg.Looks {
			w.log.Info().Str("job", job.ID).Int("misses", misses).Msg("marker not found yet; looking again after the settle delay")
			return w.q.Ambiguous(job.ID, at, now.Add(w.cfg.Settle), misses)
		}
		w.log.Warn().Str("job", job.ID).Str("card", job.Card).Int("looks", misses).
			Msg("marker absent on every delayed read: sending again with the same marker")
		return w.q.Retry(job.ID, at, now)
	}
	if len(found) > 1 {
		// Applied more than once: the card must be corrected by hand, which
		// the till cannot do. Parked (it was sent: an operator may resolve
		// it as applied once the card is right).
		ids := make([]int64, len(found))
		for i, o := range found {
			ids[i] = o.ID
		}
		at.Outcome = "duplicate"
		ev := duplicateEvent(job, now, marker, ids)
		if err := w.q.Dead(job.ID, at, ev.Message); err != nil {
			return err
		}
		w.feed.publish(ev)
		return nil
	}
	at.Outcome = "found"
	balance := w.freshBalance(ctx, job)
	if err := w.q.Done(job.ID, at, balance); err != nil {
		return err
	}
	w.log.Debug().Str("job", job.ID).Int64("operation", found[0].ID).Msg("marker found")
	w.feed.publish(confirmedEvent(job, now, balance))
	return nil
}

// findMarker returns the operations whose comment carries marker as a
// whole word, from the day before the job's first send to tomorrow (the
// API filters by day, in a time zone it does not state). The card filter
// is reported to come back empty for some accounts, so when it returns
// nothing at all the template's operations are read too (docs/api.md,
// "Exactly once: the comment marker and GET /operations"). The marker is
// unique, so matches are not filtered by card.
func (w *Worker) findMarker(ctx context.Context, job queue.Job, marker string, now time.Time) ([]apiclient.Operation, error) {
	since := job.SentAt
	if since.IsZero() {
		since = job.CreatedAt
	}
	q := apiclient.OperationsQuery{
		CardID:       job.Card,
		StartDate:    day(since).AddDate(0, 0, -1),
		EndDate:      day(now).AddDate(0, 0, 1),
		ItemsPerPage: w.cfg.PageSize,
	}
	found, total, err := w.scanOperations(ctx, q, marker)
	if err != nil || total > 0 {
		return found, err
	}
	tid, err := w.templateOf(ctx, job)
	if err != nil {
		return nil, err
	}
	q.CardID, q.TemplateID = "", tid
	found, _, err = w.scanOperations(ctx, q, marker)
	return found, err
}

// scanOperations pages through q and returns the operations carrying
// marker (each operation once, even if paging shifts) and how many
// operations it saw in all.
func (w *Worker) scanOperations(ctx context.Context, q apiclient.OperationsQuery, marker string) ([]apiclient.Operation, int, error) {
	var found []apiclient.Operation
	seen := map[int64]bool{}
	total := 0
	for page := 1; ; page++ {
		if page > maxReconcilePages {
			return nil, total, fmt.Errorf("pos: GET /operations: more than %d pages: %w", maxReconcilePages, errTooManyOps)
		}
		q.Page = page
		ops, meta, err := w.api.ListOperations(ctx, q)
		if err != nil {
			return nil, total, err
		}
		total += len(ops)
		for _, op := range ops {
			if op.Comment == nil || seen[op.ID] || CountMarker(*op.Comment, marker) == 0 {
				continue
			}
			seen[op.ID] = true
			found = append(found, op)
		}
		// Stop at an empty page or once every item was seen; a short page
		// alone proves nothing (the server may cap itemsPerPage).
		if len(ops) == 0 || meta.TotalItems > 0 && total >= meta.TotalItems {
			return found, total, nil
		}
	}
}

// templateOf returns the job's card template, from the cache or the API.
func (w *Worker) templateOf(ctx context.Context, job queue.Job) (int, error) {
	if info, ok := w.cache.Get(job.Card); ok {
		return info.TemplateID, nil
	}
	c, err := w.lookup(ctx, job, Rules{})
	if err != nil {
		return 0, err
	}
	return c.TemplateID, nil
}

// freshBalance reads the card's balance after a reconciled job; "" if the
// read fails (the job is done either way).
func (w *Worker) freshBalance(ctx context.Context, job queue.Job) string {
	c, err := w.api.GetCard(ctx, job.Card)
	if err != nil {
		w.log.Debug().Err(err).Str("card", job.Card).Msg("cannot read the balance after reconciling")
		return ""
	}
	return BalanceText(*c, w.cfg.Currency)
}

// day is the start of t's day in UTC.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
