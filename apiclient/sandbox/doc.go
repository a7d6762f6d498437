// Package sandbox is an in-process fake of the Highlight Cards API v2 that
// the client tests, the pos tests, the benchmarks and `tillscan demo` run
// against, because the real API cannot be reached from here.
//
// It owns: an http.Handler (*API) serving the paths and JSON shapes of
// docs/api.md under /api/v2; the state of cards of all 8 types,
// customers, templates, pushes and the operations log, guarded by one mutex;
// the per-key rate limit (429); fault knobs (latency, 5xx, "applied then the
// connection dropped", outages, slow bodies, a key revoked and restored, a
// 429 storm for a while); and seed data (a built-in demo
// set, or a strict YAML/JSON file). It does not own the client (package
// apiclient) and never talks to the real API.
//
// It keeps its own wire types and deliberately does not import package
// apiclient, so a mistake shared by the client and the fake cannot make the
// tests pass. An *API and a *Server are safe for concurrent use.
//
// # Choices where the real API is unknown
//
// docs/api.md leaves these open; the sandbox picks one, and a comment at each
// spot says so:
//   - eventId codes: 1 add-stamp, 2 subtract-stamp, 4 add-purchase,
//     14 subtract-purchase, 5 add-point, 15 subtract-point,
//     6 add-transaction-amount, 16 subtract-transaction-amount, 7 add-visit,
//     17 subtract-visit, 8 add-reward, 42 subtract-reward, 9 add-scores,
//     19 subtract-scores, 44 receive-reward, 43 redeem-coupon (following
//     one integrator's labels where it has one). set-expiration-date and set-membership-tier are not
//     logged.
//   - amount is negative for subtractions, receive-reward (minus the tier's
//     threshold) and redeem-coupon (-1); balance is the balance the action
//     changed, after it.
//   - lists are 1-based pages of 30 by default, itemsPerPage clamped to
//     1000; /operations is oldest first; date filters are UTC days.
//   - quantities must be positive and at most 1e9 (else 422).
//   - the rate limit is a sliding window of admitted requests per key
//     (ratelimit.go); no Retry-After unless Faults.RetryAfter or
//     RateLimitStorm asks for one.
//   - visit limits count UTC days, ISO weeks, months and years.
//   - a Membership tier with limits takes subtract-visit (and refuses
//     add-visit), one without limits takes add-visit, as docs/api.md
//     lists; balance.currentNumberOfUses is the visits left.
//   - 502/503/504 faults answer an HTML body, as a load balancer would.
package sandbox
