package control

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The request and response bodies of the control API, shared by the
// server and Client. Names are snake_case in JSON.

// Status is the daemon's state as GET /api/v1/status reports it.
type Status struct {
	Version   string         `json:"version"`
	TillID    string         `json:"till_id"`
	Started   time.Time      `json:"started"`
	Accepting bool           `json:"accepting_scans"`
	Queue     QueueStatus    `json:"queue"`
	API       APIStatus      `json:"api"`
	Scanners  []ScannerState `json:"scanners"`
	Problems  []string       `json:"problems"`      // things the owner or installer must fix, in plain words
	Recent    []Event        `json:"recent_events"` // newest first
}

// Event is one thing that happened to a scan or a job: an item of the
// event stream and of the status's recent list.
type Event struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"` // saved, applied, refused, repeat, not_card, …
	Scanner string    `json:"scanner,omitempty"`
	Card    string    `json:"card,omitempty"`
	Job     string    `json:"job,omitempty"`
	Mode    string    `json:"mode,omitempty"`
	Message string    `json:"message"` // the line the cashier saw
	Action  string    `json:"action,omitempty"`
	Balance string    `json:"balance,omitempty"`
}

// QueueStatus is the queue's depth per state.
type QueueStatus struct {
	Depth            map[string]int `json:"depth"` // pending, sending, ambiguous, done, refused, dead, dropped
	OldestPendingAge float64        `json:"oldest_pending_age_seconds"`
	FileBytes        int64          `json:"file_bytes"`
	Error            string         `json:"error,omitempty"`
}

// APIStatus says whether the loyalty API is reachable and how the till
// paces its requests to it.
type APIStatus struct {
	Reachable   bool      `json:"reachable"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Paused is the stop for a refused key, which only a new key ends;
	// PausedUntil is the short pause a 429 (or a 503 with Retry-After)
	// asks for, which ends by itself.
	Paused      bool   `json:"paused"`
	PauseReason string `json:"pause_reason,omitempty"`
	// Rate is the pace requests may start at now, per second: the
	// configured pace, or less while the till slows down after a 429.
	Rate float64 `json:"rate"`
	// RateLimit is the configured ceiling (api.rate_limit).
	RateLimit   float64   `json:"rate_limit"`
	PausedUntil time.Time `json:"paused_until,omitzero"` // no request starts before this
	PausedBy    int       `json:"paused_by,omitempty"`   // the HTTP status that asked for the pause: 429 or 503
	// SharedLimiter is the shared rate limiter's state (api.shared_limiter).
	SharedLimiter      SharedLimiterState `json:"shared_limiter"`
	SharedLimiterError string             `json:"shared_limiter_error,omitempty"` // why it is unreachable
	InFlight           int                `json:"in_flight"`                      // jobs being sent now (at most worker.in_flight)
}

// Pacing is how requests are paced, in one short line for the status page
// and `tillscan status`, e.g. "9.7 req/s of 10 · 3 in flight · shared
// limiter ok". Times are in the local zone.
func (a APIStatus) Pacing() string {
	perSecond := func(r float64) string { return strconv.FormatFloat(math.Round(r*10)/10, 'f', -1, 64) }
	parts := []string{perSecond(a.Rate) + " req/s of " + perSecond(a.RateLimit), fmt.Sprintf("%d in flight", a.InFlight)}
	if !a.PausedUntil.IsZero() {
		parts = append(parts, fmt.Sprintf("waiting until %s (HTTP %d)", a.PausedUntil.Local().Format(time.TimeOnly), a.PausedBy))
	}
	if a.SharedLimiter != SharedLimiterOff && a.SharedLimiter != "" {
		parts = append(parts, "shared limiter "+string(a.SharedLimiter))
	}
	return strings.Join(parts, " · ")
}

// SharedLimiterState is how the shared rate limiter is doing.
type SharedLimiterState string

// The states of the shared rate limiter.
const (
	SharedLimiterOff         SharedLimiterState = "off"         // none configured
	SharedLimiterOK          SharedLimiterState = "ok"          // every request start is paced by it
	SharedLimiterUnreachable SharedLimiterState = "unreachable" // it failed: the till paces itself
)

// ScannerState is one configured scanner.
type ScannerState struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
}

// NextRequest is the body of POST /api/v1/next: the mode and purchase sum
// of the next card scan, of one scanner if Scanner names one, else of
// whichever scanner reads the next card. An empty mode and no sum clear it.
type NextRequest struct {
	Mode        string   `json:"mode"`
	PurchaseSum *float64 `json:"purchase_sum"`
	Scanner     string   `json:"scanner,omitempty"`
}

// NextResult is the answer to POST /api/v1/next: what the next card scan
// will take, and for whom.
type NextResult struct {
	For         string   `json:"for"`               // "till" (any scanner) or "scanner"
	Scanner     string   `json:"scanner,omitempty"` // set when For is "scanner"
	Mode        string   `json:"mode"`              // "" is the default rules
	PurchaseSum *float64 `json:"purchase_sum"`      // null: none
	Message     string   `json:"message"`           // what the cashier reads
}

// Who a NextResult is for.
const (
	NextForTill    = "till"
	NextForScanner = "scanner"
)

// ScanRequest is the body of POST /api/v1/scans: one scan as if a scanner
// had read Text. Scanner names a configured scanner (its pending mode or
// sum applies); empty means APIScanner.
type ScanRequest struct {
	Text    string `json:"text"`
	Scanner string `json:"scanner,omitempty"`
}

// UndoRequest is the body of POST /api/v1/undo: take back the last action
// this till took for the last card scanned, as the UNDO command barcode
// does. Scanner names who asks (APIScanner if empty); the answer is a
// ScanResult (outcome undone, saved for the reversing job, or refused with
// the reason).
type UndoRequest struct {
	Scanner string `json:"scanner,omitempty"`
}

// APIScanner is the scanner name of a scan posted without one.
const APIScanner = "pos-api"

// MaxScanText is the longest scan text POST /api/v1/scans takes, the same
// bound as a scanner's.
const MaxScanText = 4096

// ScanResult is the answer to POST /api/v1/scans: what became of the scan
// so far. Saved is the one field a POS must read: true means the scan is
// on disk and will be applied (or refused) later, reported on the event
// stream under the same Job.
type ScanResult struct {
	Seq     uint64 `json:"seq"`     // the event's number on GET /api/v1/events
	Outcome string `json:"outcome"` // saved, not_saved, repeat, not_card, mode, refused
	Saved   bool   `json:"saved"`
	Message string `json:"message"` // the line the cashier reads
	Scanner string `json:"scanner"`
	Card    string `json:"card,omitempty"`
	Job     string `json:"job,omitempty"`
	Mode    string `json:"mode,omitempty"`
}

// QueueStats is GET /api/v1/queue: jobs per state and the ages that matter
// during an outage.
type QueueStats struct {
	Depth           map[string]int `json:"depth"`
	OldestPending   time.Duration  `json:"oldest_pending_ns"`
	OldestAmbiguous time.Duration  `json:"oldest_ambiguous_ns"`
	LastDone        time.Time      `json:"last_done,omitzero"`
	FileSize        int64          `json:"file_size"`
	MovedAside      string         `json:"moved_aside,omitempty"`
	MovedAsideWhy   string         `json:"moved_aside_why,omitempty"`
}

// Job is one saved scan, as GET /api/v1/jobs lists it.
type Job struct {
	ID              string    `json:"id"`
	State           string    `json:"state"`
	Card            string    `json:"card"`
	Scanner         string    `json:"scanner,omitempty"`
	Raw             string    `json:"raw,omitempty"`
	Mode            string    `json:"mode,omitempty"`
	PurchaseSum     *float64  `json:"purchase_sum,omitempty"`
	ScannedAt       time.Time `json:"scanned_at"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	NextAttempt     time.Time `json:"next_attempt,omitzero"`
	Action          string    `json:"action,omitempty"`
	Result          string    `json:"result,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	Uncertain       bool      `json:"uncertain,omitempty"`
	Attempts        []Attempt `json:"attempts"`
	AttemptsOmitted int       `json:"attempts_omitted,omitempty"`
}

// Attempt is one try at a job: a send, a reconciliation read or an
// operator's decision.
type Attempt struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error,omitempty"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Note       string    `json:"note,omitempty"`
}

// CardTypes is GET /api/v1/cards/types: the type of every card the till
// has looked up (its card cache), by card number, e.g. "stamp", for the
// day's report. An answer holds at most MaxCardTypes cards, the first in
// number order; Omitted counts the others.
type CardTypes struct {
	Types   map[string]string `json:"types"`
	Omitted int               `json:"omitted,omitempty"`
}

// MaxCardTypes bounds a CardTypes answer (about 3 MB), well above the card
// cache's own bound of 50 000 cards.
const MaxCardTypes = 100_000

// bounded returns ct with at most limit cards, the first in number order.
func (ct CardTypes) bounded(limit int) CardTypes {
	if len(ct.Types) <= limit {
		return ct
	}
	cards := slices.Sorted(maps.Keys(ct.Types))
	out := CardTypes{Types: make(map[string]string, limit), Omitted: ct.Omitted + len(cards) - limit}
	for _, card := range cards[:limit] {
		out.Types[card] = ct.Types[card]
	}
	return out
}

// ListRequest selects jobs for GET /api/v1/jobs.
type ListRequest struct {
	State string // "" for every state
	Limit int    // 1 to MaxList; 0 means DefaultList
	After string // job id to start after (paging)
}

// Paging limits of ListJobs.
const (
	DefaultList = 100
	MaxList     = 1000
)

// DropRequest is the body of POST /api/v1/jobs/{id}/drop.
type DropRequest struct {
	Reason string `json:"reason"`
}

// ResolveRequest is the body of POST /api/v1/jobs/{id}/resolve.
type ResolveRequest struct {
	Applied *bool  `json:"applied"` // required
	Note    string `json:"note"`
}

// OK is the answer of a request that changed something.
type OK struct {
	OK string `json:"ok"`
}

// ErrorBody is the answer of a request that failed: Code is stable, for
// programs to branch on (see the Code constants); Error is for people.
type ErrorBody struct {
	Code  string `json:"code"`
	Error string `json:"error"`
}

// The codes of ErrorBody.
const (
	CodeBadRequest     = "bad_request"     // the body or a parameter is wrong; Error says how
	CodeUnauthorized   = "unauthorized"    // no or wrong bearer token
	CodeForbidden      = "forbidden"       // cross-origin, foreign Host, or writes not enabled
	CodeNotFound       = "not_found"       // no such job or path
	CodeConflict       = "conflict"        // not allowed in the job's state
	CodeUnknownScanner = "unknown_scanner" // no configured scanner has that name
	CodeUnknownMode    = "unknown_mode"    // no rules for that mode
	CodeBadSum         = "bad_sum"         // the purchase sum is not a positive amount
	CodeUnavailable    = "unavailable"     // the daemon cannot take it now (stopping, too many streams)
	CodeInternal       = "internal"        // tillscan's own failure; the log has the detail
	CodeStreamEnded    = "stream_ended"    // the final "end" event of an event stream
)

// Error is an answer the Backend or Operator chose: the HTTP status, a
// stable Code and a message for people. Errors of other types are answered
// 500 CodeInternal without their text, which is logged instead.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// The classes of errors the control API tells apart. An Operator returns
// them through NotFound and Conflict; Client returns errors that match
// them for 404, 409 and 503 answers.
var (
	ErrNotFound    = errors.New("no such job")
	ErrConflict    = errors.New("not allowed in the job's state")
	ErrUnavailable = errors.New("the daemon cannot take this request now")
)

// classified is an error that reads as err and matches kind too, so a
// chain says each thing once.
type classified struct{ kind, err error }

func (c classified) Error() string   { return c.err.Error() }
func (c classified) Unwrap() []error { return []error{c.kind, c.err} }

// NotFound marks err as ErrNotFound (the server answers 404) without
// adding to its text.
func NotFound(err error) error { return classified{ErrNotFound, err} }

// Conflict marks err as ErrConflict (the server answers 409) without
// adding to its text.
func Conflict(err error) error { return classified{ErrConflict, err} }
