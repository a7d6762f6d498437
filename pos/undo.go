package pos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// This file holds UNDO: the command barcode that takes back the last
// action this till took for the last card scanned. A scan not sent yet is
// cancelled (dropped, never sent); one that was sent is reversed by a new
// job that sends the matching subtract (or add) action once the first is
// settled, with its own marker and a comment naming the job it undoes.

// TillJobs is what the till reads and changes of the jobs it saved, for
// caps and UNDO; *queue.Queue satisfies it.
type TillJobs interface {
	History
	// Drop cancels a job that was not sent (UNDO of a pending job).
	Drop(id, reason string, now time.Time) error
}

// UndoneReason is the reason a job cancelled by UNDO before it was sent
// is dropped with: the day's report tells it from an operator's drop.
const UndoneReason = "undone at the till before it was sent"

// undoWindow bounds how far back UNDO looks for the action to take back:
// an undo is meant for the customer still at the till.
const undoWindow = time.Hour

// Undo takes back the last action this till took for the last card
// scanned, as the UNDO command barcode does (for the control API and POS
// software); scanner names who asked.
func (t *Till) Undo(scanner string) Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.undoLocked(Event{At: time.Now(), Scanner: scanner, Raw: undoText})
}

// reversals maps each action method that can be taken back to the one
// that does it. redeem-coupon and receive-reward have none: the API has
// no way to un-redeem a coupon or take back a handed-out reward. Nor do
// the cashback transaction amounts: add-transaction-amount records a
// purchase (the card earns a percentage of it) while
// subtract-transaction-amount pays that amount out of the card's balance
// (tillscan's redeem mode), so one is not the other's reverse: "undoing"
// a £20 purchase would take £20 off the customer's cashback.
// subtract-purchase's meaning is not documented (docs/api.md, "Card
// actions"); it is taken as add-purchase's reverse, as the sandbox models.
var reversals = map[apiclient.Method]apiclient.Method{
	apiclient.AddStamp:         apiclient.SubtractStamp,
	apiclient.AddVisit:         apiclient.SubtractVisit,
	apiclient.AddPoint:         apiclient.SubtractPoint,
	apiclient.AddScores:        apiclient.SubtractScores,
	apiclient.AddPurchase:      apiclient.SubtractPurchase,
	apiclient.AddReward:        apiclient.SubtractReward,
	apiclient.SubtractStamp:    apiclient.AddStamp,
	apiclient.SubtractVisit:    apiclient.AddVisit,
	apiclient.SubtractPoint:    apiclient.AddPoint,
	apiclient.SubtractScores:   apiclient.AddScores,
	apiclient.SubtractPurchase: apiclient.AddPurchase,
	apiclient.SubtractReward:   apiclient.AddReward,
}

// ErrCannotUndo is wrapped by the error for an action the API cannot take
// back (redeem-coupon, receive-reward).
var ErrCannotUndo = errors.New("pos: this action cannot be undone")

// Reverse returns the action that takes back action, as a job records it
// ("add-stamp 1", see queue.Job.Action). Card and Comment are left for the
// caller.
func Reverse(action string) (apiclient.Action, error) {
	name, qty, _ := strings.Cut(strings.TrimSpace(action), " ")
	m, err := apiclient.ParseMethod(name)
	if err != nil {
		return apiclient.Action{}, fmt.Errorf("pos: undo %q: %w", action, err)
	}
	rev, ok := reversals[m]
	if !ok {
		return apiclient.Action{}, fmt.Errorf("pos: undo %s: %w", m, ErrCannotUndo)
	}
	a := apiclient.Action{Method: rev}
	if rev.Field() != "" {
		if a.Quantity, err = strconv.ParseFloat(qty, 64); err != nil {
			return apiclient.Action{}, fmt.Errorf("pos: undo %q: quantity: %w", action, err)
		}
	}
	return a, nil
}

// undoLocked handles UNDO scanned on ev.Scanner: it finds the last action
// this till took for the last card scanned and cancels or reverses it.
func (t *Till) undoLocked(ev Event) Event {
	ev.Card = t.lastCard
	refuse := func(why, msg string) Event {
		ev.Kind, ev.Err, ev.Message = EventRefused, why, msg
		return t.feed.publish(ev)
	}
	notSaved := func(err error) Event {
		ev.Kind, ev.Err = EventNotSaved, err.Error()
		ev.Message = t.lastCard + ": undo NOT saved — scan UNDO again; if this repeats, see the tillscan log"
		return t.feed.publish(ev)
	}
	undone := func() {
		t.lastUndo = true
		delete(t.seen, t.lastCard) // the card may be scanned again at once, to do it right
	}
	switch {
	case t.cfg.Jobs == nil:
		return refuse("undo not configured", "UNDO is not available on this till — nothing changed")
	case t.lastCard == "":
		return refuse("nothing to undo", "nothing to undo: scan the card, then UNDO")
	case t.lastUndo && !t.cfg.UndoRepeat:
		return refuse("already undone", t.lastCard+": already undone — UNDO takes back one action; correct anything older in the loyalty dashboard")
	}
	target, ok, err := t.undoTarget(t.lastCard, ev.At)
	switch {
	case err != nil:
		return notSaved(err)
	case !ok:
		return refuse("nothing to undo", t.lastCard+": nothing to undo — no action of this till in the last "+roundAge(undoWindow))
	}
	if target.State == queue.Pending {
		err := t.cfg.Jobs.Drop(target.ID, UndoneReason, ev.At)
		if err == nil {
			undone()
			ev.Kind, ev.JobID = EventUndone, target.ID
			ev.Message = t.lastCard + ": undone — the scan was cancelled before it was sent"
			return t.feed.publish(ev)
		}
		if !errors.Is(err, queue.ErrState) {
			return notSaved(err)
		}
		// The worker took it meanwhile: reverse it once it is settled.
	}
	if target.Action != "" {
		if _, err := Reverse(target.Action); errors.Is(err, ErrCannotUndo) {
			return refuse(err.Error(), t.lastCard+": "+strings.Fields(target.Action)[0]+" cannot be undone — the loyalty API cannot take it back; correct it in the dashboard")
		}
	}
	sc := queue.Scan{Card: t.lastCard, TillID: t.cfg.TillID, Scanner: ev.Scanner, Raw: ev.Raw, ScannedAt: ev.At, Undoes: target.ID}
	job, err := t.q.Enqueue(sc, ev.At)
	if err != nil {
		return notSaved(err)
	}
	undone()
	ev.Kind, ev.JobID = EventSaved, job.ID
	ev.Message = t.lastCard + ": undo saved"
	if target.Action != "" {
		ev.Message += " (takes back " + target.Action + ")"
	}
	ev = t.feed.publish(ev)
	if t.wake != nil {
		t.wake()
	}
	return ev
}

// undoTarget returns the last job of this till for card inside the undo
// window that did or may do something and is not undone yet.
func (t *Till) undoTarget(card string, now time.Time) (queue.Job, bool, error) {
	jobs, err := t.cfg.Jobs.CardHistory(card, now.Add(-undoWindow))
	if err != nil {
		return queue.Job{}, false, fmt.Errorf("pos: undo: %w", err)
	}
	undone := map[string]bool{}
	for _, j := range jobs {
		if j.Undoes != "" && j.State != queue.Refused && j.State != queue.Dropped {
			undone[j.Undoes] = true
		}
	}
	for i := len(jobs) - 1; i >= 0; i-- {
		j := jobs[i]
		if j.TillID != t.cfg.TillID || j.Undoes != "" || undone[j.ID] || j.State == queue.Refused || j.State == queue.Dropped {
			continue
		}
		return j, true, nil
	}
	return queue.Job{}, false, nil
}

// undoAction decides the action of a job that undoes another: the reverse
// of what the other applied. The queue's per-card order has settled the
// other job by now (an uncertain one holds this one until its outcome is
// known), so it is done (reverse it) or ended without applying (nothing
// to undo).
func (w *Worker) undoAction(job queue.Job) (apiclient.Action, error) {
	target, err := w.q.Get(job.Undoes)
	if err != nil {
		return apiclient.Action{}, fmt.Errorf("%w: the scan to undo (%s) is no longer in the queue: %w", ErrNothingToUndo, job.Undoes, err)
	}
	if target.State != queue.Done {
		return apiclient.Action{}, fmt.Errorf("%w: the scan to undo was not applied (%s)", ErrNothingToUndo, target.State)
	}
	a, err := Reverse(target.Action)
	if err != nil {
		return apiclient.Action{}, err
	}
	return a, nil
}

// ErrNothingToUndo is wrapped by the refusal of an undo whose scan was
// never applied.
var ErrNothingToUndo = errors.New("pos: nothing to undo")
