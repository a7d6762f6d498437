// Package apiclient is the only code in tillscan that talks to the Highlight
// Cards API v2 (https://api.highlightcards.co.uk/api/v2). It owns the wire
// format, authentication with the x-api-key header, the per-key rate limit
// (10 requests/second by default, shared by every request including
// retries and reconciliation reads) and the short in-process retries of
// requests that were certainly not applied.
//
// It does not decide which action a card gets (package pos does) and it does
// not retry anything that may have been applied: such failures come back as
// [ErrAmbiguous] and the caller reconciles them against GET /operations.
//
// Every failed call returns an error that matches exactly one of the outcome
// classes under errors.Is: [ErrNotSent], [ErrRateLimited], [ErrRejected],
// [ErrUnauthorized] or [ErrAmbiguous]. Detail (HTTP status, the API's
// message, Retry-After) is on [*StatusError].
package apiclient
