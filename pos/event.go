package pos

import "time"

// EventKind says what happened to a scan or a job.
type EventKind string

// The event kinds. Saved, not_saved, repeat, not_card and mode come from
// the Till as a scan is handled (and refused, for a scan it refuses at
// once); the rest from the Worker as the job meets the API.
const (
	EventSaved    EventKind = "saved"     // the job is on disk; the cashier may move on
	EventNotSaved EventKind = "not_saved" // the scan was NOT saved: scan again
	EventRepeat   EventKind = "repeat"    // same card again inside the dedupe window: ignored
	EventNotCard  EventKind = "not_card"  // no loyalty card in the scan (pass it on to the POS)
	EventMode     EventKind = "mode"      // a command barcode set (or cancelled) the next scan's mode or sum
	EventApplied  EventKind = "applied"   // the API applied the action; Balance has the new balance
	// EventRefused is a definite no: from the API's business rules, or from
	// the till's own checks (a sum that is not an amount, a command barcode
	// this till does not know, a card that needs a sum). Message says why
	// and what to do. It never holds the card's later scans.
	EventRefused      EventKind = "refused"
	EventWaiting      EventKind = "waiting"      // the API cannot be reached: jobs wait on disk
	EventUnauthorized EventKind = "unauthorized" // the API key was refused: sending stopped
	EventReconciling  EventKind = "reconciling"  // the outcome is unknown: checking GET /operations before any re-send
	EventDead         EventKind = "dead"         // the till cannot decide by itself: parked for an operator
	EventDuplicate    EventKind = "duplicate"    // the job's marker was found twice: the card got the action twice; parked for an operator
	EventUndone       EventKind = "undone"       // UNDO cancelled a scan before it was sent
)

// Event is one thing that happened, for cashier feedback, logs, the status
// page and POS software.
type Event struct {
	Seq     uint64    // increasing per Feed, starting at 1
	At      time.Time // when it happened
	Kind    EventKind
	Scanner string // scanner name, if the event comes from a scan
	Card    string // card number, if known
	JobID   string // queue job id, if a job exists
	Mode    string // the scan's mode, "" for the default
	Raw     string // the scanned text (not_card, mode and the till's refused events)
	Message string // one friendly line for the cashier
	Action  string // the action sent (applied and refused events), e.g. "add-stamp 1"
	Balance string // the card's balance after an applied action, e.g. "stamp 8/10"
	Err     string // the error behind a not_saved, refused, waiting or dead event
}

// GoodRead reports whether the scanner that read the scan should give
// its good-read beep: the scan was saved (or was a repeat of a saved one),
// or a command barcode was understood. "Saved", not "applied": the cashier
// can let the customer go. Everything else, a refused sum or command
// included, is a bad read. (Scans that are not cards are the POS's
// business: a caller passing them on decides about those itself.)
func (e Event) GoodRead() bool {
	switch e.Kind {
	case EventSaved, EventRepeat, EventUndone:
		return true
	case EventMode:
		return e.Err == ""
	}
	return false
}
