package pos

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// This file holds what the Worker tells the cashier: the events it
// publishes and their one-line messages.

// jobEvent is an event about job.
func jobEvent(job queue.Job, kind EventKind, now time.Time) Event {
	return Event{At: now, Kind: kind, Scanner: job.Scanner, Card: job.Card, JobID: job.ID, Mode: job.Mode}
}

// waitingEvent says the API cannot be reached (or asks to slow down) and
// that scans are safe meanwhile.
func waitingEvent(job queue.Job, now time.Time, err error) Event {
	ev := jobEvent(job, EventWaiting, now)
	ev.Err = err.Error()
	ev.Message = "no connection to the loyalty API — scans are saved and will be sent later"
	if errors.Is(err, apiclient.ErrRateLimited) {
		ev.Message = "the loyalty API asks to slow down — scans are saved and will be sent shortly"
	}
	return ev
}

// unauthorizedEvent says sending stopped because the key was refused.
func unauthorizedEvent(now time.Time, err error) Event {
	return Event{At: now, Kind: EventUnauthorized, Err: err.Error(),
		Message: "loyalty API key refused — sending stopped, scans are saved; fix the key and reload"}
}

// reconcilingEvent says the answer to a send was lost.
func reconcilingEvent(job queue.Job, now time.Time, err error) Event {
	ev := jobEvent(job, EventReconciling, now)
	ev.Err = err.Error()
	ev.Message = job.Card + ": answer lost — checking with the API before sending again (it is saved)"
	return ev
}

// confirmedEvent says a job whose answer was lost was found applied.
func confirmedEvent(job queue.Job, now time.Time, balance string) Event {
	ev := jobEvent(job, EventApplied, now)
	ev.Balance, ev.Action = balance, job.Action
	ev.Message = job.Card + ": applied (confirmed with the API after a lost answer)"
	if balance != "" {
		ev.Message += " — " + balance
	}
	return ev
}

// duplicateEvent says the job's marker is on several operations.
func duplicateEvent(job queue.Job, now time.Time, marker string, ids []int64) Event {
	ev := jobEvent(job, EventDuplicate, now)
	ev.Message = fmt.Sprintf("%s: applied %d times by mistake — take the extra ones off in the dashboard, then resolve the job as applied",
		job.Card, len(ids))
	ev.Err = fmt.Sprintf("marker %s on operations %v", marker, ids)
	return ev
}

// refusalText says why a job was refused, for the cashier. The API's
// wording is not guaranteed: it only picks friendlier words, and the
// server's own message is kept.
func refusalText(err error) string {
	switch {
	case errors.Is(err, ErrNeedPurchaseSum):
		return "this card needs the purchase sum: scan the sum barcode, then the card"
	case errors.Is(err, ErrWholeAmount):
		return "this card takes whole amounts only: enter a whole sum"
	case errors.Is(err, ErrNoReward):
		return "not enough points for a reward"
	case errors.Is(err, ErrUnknownMode):
		return "unknown mode: " + err.Error()
	case errors.Is(err, ErrNoRule):
		return "no rule for this kind of card in the config"
	case errors.Is(err, ErrNothingToUndo):
		return "nothing to undo: " + strings.TrimPrefix(err.Error(), ErrNothingToUndo.Error()+": ")
	case errors.Is(err, ErrCannotUndo):
		return "this action cannot be undone: correct it in the loyalty dashboard"
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
