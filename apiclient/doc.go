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
// message, Retry-After) is on [*StatusError]. A 2xx answer whose body cannot
// be read is [ErrAmbiguous] and also [ErrBadResponse]: the request was
// applied, the card is unknown.
//
// One [Client] per API key: it is safe for concurrent use and all its
// requests share one golang.org/x/time/rate limiter (burst 1), paced a little
// under the key's limit ([Config.Headroom]); a 429 pauses all of them, for
// Retry-After if the server sends one (capped), else for a full-jitter
// backoff. With [Config.Adaptive] a 429 also lowers the Client's own rate,
// which then grows back slowly (additive increase, multiplicative decrease;
// see adaptive.go), for tills that share a key without seeing each other.
// Tills that can reach a common coordinator book every request start with a
// [SharedLimiter] ([Config.Shared]; package apiclient/redislimit keeps one
// GCRA schedule per key in Redis, named by a hash of the key, never the key):
// the Client's own limiter stays the ceiling, and the fallback, adaptive, for
// as long as the shared one cannot answer ([Status].Shared says which).
// Consecutive starts are kept one interval apart, so a strict limiter
// (one that refuses a request sooner than 1/rate after the last) is met
// even after a late start.
//
// The Client alone owns the "key refused" stop: after a 401 or 403 it sends
// nothing until [Client.SetAPIKey] is called, with any key (the same one
// again included), and [Client.Status] reports it. [CheckKey] is the one
// rule for a usable key. The key is never printed: [Config] and [Client]
// redact it under every fmt verb and in JSON, and text from the server (the
// API's messages, bytes quoted in decoding and transport errors) leaves the
// Client only after every run of 8 or more characters it shares with the
// key, in any case, has been removed.
//
// The API facts this package relies on, each marked confirmed or assumed,
// are in docs/api.md. Where the evidence allows more, the package is
// stricter, each time commented where it happens: redirects are never
// followed; an HTTP 2xx whose envelope code is 300–599 is treated as that
// status; PATCH /customers/{id} never sends a phone (the update schema has
// none); push ids are accepted as strings or numbers.
package apiclient
