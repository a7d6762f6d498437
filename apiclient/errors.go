package apiclient

import (
	"errors"
	"fmt"
	"time"
)

// The outcome classes of a failed request. Each error returned by a Client
// method matches exactly one of them under errors.Is.
var (
	// ErrNotSent is returned when the request was certainly never applied by
	// the server: it was not written (DNS, dial or TLS failure, the context
	// ended while waiting for the rate limiter) or it was refused before
	// being read. It is safe to send again.
	ErrNotSent = errors.New("apiclient: not sent")

	// ErrRateLimited is returned when the server answered 429 Too Many
	// Requests and the client's own retries were used up. The request was
	// not applied; it is safe to send again after StatusError.RetryAfter.
	ErrRateLimited = errors.New("apiclient: rate limited")

	// ErrRejected is returned when the server refused the request for good
	// (400, 404, 409, 422: unknown card, wrong accrual type, coupon already
	// redeemed, balance too low), or when the client refused it before
	// sending (an implausible card number or quantity). Sending it again
	// gives the same answer.
	ErrRejected = errors.New("apiclient: rejected")

	// ErrUnauthorized is returned when the server refused the API key (401
	// or 403) or the key is unusable (see CheckKey). Once seen, the Client
	// sends nothing more and fails every call with ErrUnauthorized until
	// SetAPIKey is called (with the same key or another).
	ErrUnauthorized = errors.New("apiclient: unauthorized")

	// ErrAmbiguous is returned when the request may or may not have been
	// applied: a timeout or reset after the request was written, or a 500,
	// 502, 503 or 504. Never re-send such a request blindly: look for its
	// comment marker in GET /operations first.
	ErrAmbiguous = errors.New("apiclient: outcome unknown")

	// ErrBadResponse marks a 2xx answer whose body could not be read or
	// decoded (too large, malformed, cut off): the server DID accept the
	// request, so an action was applied. It is not an outcome class of its
	// own: such an error also matches ErrAmbiguous, so a caller that does not
	// know ErrBadResponse reconciles against GET /operations (and finds the
	// action there) instead of re-sending it. A caller that checks
	// ErrBadResponse first may treat the action as applied without a card.
	ErrBadResponse = errors.New("apiclient: unreadable answer")
)

// StatusError is the detail of a request that got an HTTP answer other than
// 2xx. It unwraps to its outcome class.
type StatusError struct {
	Op         string        // e.g. "add-stamp 544256-439-856"
	Status     int           // HTTP status code
	Message    string        // the API's message, if any, cleaned (no piece of the key, one line); wording is not guaranteed
	RetryAfter time.Duration // from Retry-After, capped; 0 if absent
	Class      error         // one of the Err* outcome classes

	overCap bool // Retry-After exceeded Config.RetryAfterCap: no in-client retry
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("apiclient: %s: HTTP %d", e.Op, e.Status)
	}
	return fmt.Sprintf("apiclient: %s: HTTP %d: %s", e.Op, e.Status, e.Message)
}

// Unwrap returns the outcome class, so errors.Is(err, ErrRejected) works.
func (e *StatusError) Unwrap() error { return e.Class }
