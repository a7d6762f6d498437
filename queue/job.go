package queue

import (
	"slices"
	"time"
)

// State is where a job is in its life.
type State string

// The states of a job.
//
//	EnqueueRefused ─────────────────────────────────────────▶ refused
//	                                                             ▲
//	pending ──Sending──▶ sending ──Done──▶ done                  │
//	   │ ▲                  │ └──Refuse──────────────────────────┤
//	   │ └──────Retry───────┤──Ambiguous──▶ ambiguous ──Done / Retry / Dead
//	   │                    └──Dead──▶ dead                      │
//	   └──Refuse─────────────────────────────────────────────────┘
//
// Ambiguous also goes back to sending (Sending: the re-send once
// reconciliation proved the first send absent) and to ambiguous (another
// miss). A job found in sending when the queue opens is moved to ambiguous:
// the request may have reached the server. An operator may retry a pending,
// ambiguous or dead job (→ pending), resolve an uncertain one (ambiguous, or
// dead while its outcome is unknown: → done; any ambiguous or dead one
// → pending), or drop a pending, ambiguous or dead one (→ dropped, a
// tombstone kept for audit). Done, refused and dropped are final.
//
// Only an open job holds its card's later jobs: sending, ambiguous and dead
// ones do (order matters while an outcome is unknown or an operator must
// decide); a refused job never does.
const (
	Pending   State = "pending"   // waiting to be sent at NextAttempt
	Sending   State = "sending"   // written to disk before each HTTP attempt
	Ambiguous State = "ambiguous" // uncertain: may have been applied; reconcile at NextAttempt
	Done      State = "done"      // applied; kept for Retention, then pruned
	Refused   State = "refused"   // a definite no (the API's business rules or the till's checks); kept like done
	Dead      State = "dead"      // needs an operator: what the till cannot decide by itself
	Dropped   State = "dropped"   // tombstone: an operator dropped it
)

// Scan is what the till knew when the job was made; the queue stores it and
// never interprets it.
type Scan struct {
	Card        string    `json:"card"`    // card number, e.g. "544256-439-856"
	TillID      string    `json:"till_id"` // goes into the comment marker
	Scanner     string    `json:"scanner"` // configured scanner name
	Raw         string    `json:"raw"`     // the scanned text, as read
	ScannedAt   time.Time `json:"scanned_at"`
	Mode        string    `json:"mode,omitempty"`         // cashier-selected mode, e.g. "redeem"; "" is the default
	PurchaseSum *float64  `json:"purchase_sum,omitempty"` // entered before the scan, if any
	Undoes      string    `json:"undoes,omitempty"`       // the id of the job this one takes back (UNDO), if any
}

// Attempt records one try at a job: a send or a reconciliation read.
type Attempt struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`    // "send", "reconcile", "operator", "recover", "till" (refused at the till)
	Outcome    string    `json:"outcome"` // e.g. "applied", "not_sent", "rate_limited", "rejected", "refused", "unauthorized", "ambiguous", "found", "absent"
	Error      string    `json:"error,omitempty"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Note       string    `json:"note,omitempty"` // operator's note (Resolve, Drop) or recovery detail
}

// Job is one acknowledged scan on its way to the API.
type Job struct {
	ID          string    `json:"id"` // sortable and unique across queue files (a ULID); goes into the marker
	Scan                  // what was scanned
	State       State     `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	NextAttempt time.Time `json:"next_attempt"` // when a pending or ambiguous job is due
	Attempts    []Attempt `json:"attempts"`
	Misses      int       `json:"misses"`               // consecutive reconciliation reads that did not find the marker
	SentAt      time.Time `json:"sent_at"`              // start of the first send, for reconciliation windows
	Result      string    `json:"result,omitempty"`     // e.g. the card's new balance, "stamp 8/10"
	Reason      string    `json:"reason,omitempty"`     // why it is refused, dead or dropped
	Action      string    `json:"action,omitempty"`     // what the worker decided to send, e.g. "add-stamp 1", for audit
	FinishedAt  time.Time `json:"finished_at,omitzero"` // when it became done, refused or dropped; Retention counts from here

	// Uncertain is set while a send's outcome is unknown: the job is
	// ambiguous, or went dead from ambiguous (e.g. its marker was found
	// twice). Only an uncertain job may be resolved as applied.
	Uncertain bool `json:"uncertain,omitempty"`

	// AttemptsOmitted counts attempts dropped from the middle of Attempts:
	// the history keeps the first and the most recent ones, so a job retried
	// for a week does not grow without bound (every change rewrites it).
	AttemptsOmitted int `json:"attempts_omitted,omitempty"`
}

// Finished reports whether s is a final state (done, refused or dropped):
// the job no longer holds its card and only waits to be pruned.
func (s State) Finished() bool { return s == Done || s == Refused || s == Dropped }

func (s State) valid() bool { return slices.Contains(states[:], s) }

// states lists every State, in the order status pages show them.
var states = [...]State{Pending, Sending, Ambiguous, Dead, Done, Refused, Dropped}

// States returns every State, in the order status pages show them.
func States() []State { return slices.Clone(states[:]) }
