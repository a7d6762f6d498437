package apiclient

import "time"

// Status is what a Client reports about its ability to send, for the
// worker and a health page. The Client alone owns these states; callers
// derive theirs from it.
type Status struct {
	// Refused is non-nil while sending is stopped because the key was
	// refused (401/403) or is unusable (see CheckKey); it matches
	// ErrUnauthorized, and its text, safe to show, says why (the API's
	// message with the key removed). Only SetAPIKey ends it.
	Refused error
	// RefusedSince is when sending stopped; zero when Refused is nil.
	RefusedSince time.Time
	// PausedUntil is when requests may start again after a 429 (or a 503
	// with Retry-After); zero or past if not paused. The pause ends by
	// itself.
	PausedUntil time.Time
	// PausedBy is the HTTP status that set PausedUntil (429 or 503); 0 if
	// never paused.
	PausedBy int
	// Rate is the pace requests may start at now, per second: the
	// configured pace (RateLimit less the headroom), or less while an
	// adaptive rate (Config.Adaptive) recovers from a 429.
	Rate float64
	// RateLimit is the ceiling: Config.RateLimit, or its default.
	RateLimit float64
	// Shared is how the shared limiter (Config.Shared) is doing: SharedOff
	// without one, SharedUnreachable while the Client paces by itself
	// because it failed (SharedErr says why).
	Shared    SharedState
	SharedErr error
}

// Paused reports whether no request may start at now because of a 429 or
// 503 pause.
func (s Status) Paused(now time.Time) bool { return now.Before(s.PausedUntil) }

// Status reports whether sending is stopped or paused, and how requests
// are paced now.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{Refused: c.refused, RefusedSince: c.refusedAt, PausedUntil: c.pausedUntil, PausedBy: c.pausedBy,
		Rate: c.paceLocked(), RateLimit: c.rateLimit, Shared: c.sharedState, SharedErr: c.sharedErr}
}
