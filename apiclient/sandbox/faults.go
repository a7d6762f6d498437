package sandbox

import (
	"context"
	"net/http"
	"time"
)

// Faults are injected failures, all off by default. They can be changed
// while serving with SetFaults; a request uses the faults in force when it
// arrived.
type Faults struct {
	Latency time.Duration // added before answering each request (401s and 429s too); a client leaving during it does not stop the request
	// ErrorRate is the probability of a 500/502/503/504 answer WITHOUT
	// applying (0..1). 502–504 carry an HTML body, as from a load balancer.
	ErrorRate float64
	// ApplyThenDropRate is the probability that an applied card action is
	// followed by closing the connection with no answer: the ambiguous
	// "may have been applied" case.
	ApplyThenDropRate float64
	SlowBody          time.Duration // spread each response body over this long (a slow trickle)
	// RetryAfter, if set, is sent as the Retry-After header of every 429
	// ("2" or an HTTP-date) unless a RateLimitStorm sets its own. The real
	// API's behaviour is UNKNOWN (docs/api.md, "Rate limit"), so by default
	// no header is sent.
	RetryAfter string
}

// SetFaults replaces the fault settings.
func (a *API) SetFaults(f Faults) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults = f
}

// FailNext makes the next len(statuses) authenticated, admitted requests
// answer these codes without being applied; 0 drops the connection without
// applying (the client cannot tell it from the ambiguous case). A 429 counts
// in Stats.RateLimited and carries Faults.RetryAfter. Calls append to the
// queue.
func (a *API) FailNext(statuses ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failNext = append(a.failNext, statuses...)
}

// ApplyThenFail makes the next len(statuses) successfully applied card
// actions (those logged in the operations log: not GETs, not set-*) answer
// these codes instead of 200; 0 drops the connection with no answer. An
// action that is rejected (400, 404, …) does not consume an entry. Calls
// append to the queue.
func (a *API) ApplyThenFail(statuses ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.applyThenFail = append(a.applyThenFail, statuses...)
}

// RevokeKey makes the API answer 401 "Invalid API key" to every request
// carrying key, from now on, as the real API does once the vendor disables
// a key; requests already past the key check finish normally. RestoreKey
// accepts it again. It reports false, and does nothing, if key is not one
// of Options.APIKeys.
func (a *API) RevokeKey(key string) bool {
	if !a.keys[key] {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revoked[key] = true
	return true
}

// RestoreKey ends RevokeKey for key. It reports false if key was not
// revoked.
func (a *API) RestoreKey(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.revoked[key] {
		return false
	}
	delete(a.revoked, key)
	return true
}

// RateLimitStorm makes every request with a valid key answer 429 "Too many
// requests" for d from now (on Options.Now's clock), without applying
// anything: a key over its limit for a long time, or a server shedding load.
// With retryAfter, each 429 carries Retry-After: the whole seconds left in
// the storm, rounded up; without, Faults.RetryAfter if set, else nothing
// (the real API's header is unknown). A storm's 429s count in
// Stats.RateLimited and leave the rate windows alone. A new call replaces
// the storm; d <= 0 ends it.
func (a *API) RateLimitStorm(d time.Duration, retryAfter bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stormUntil, a.stormRetryAfter = time.Time{}, retryAfter
	if d > 0 {
		a.stormUntil = a.now().Add(d)
	}
}

// afterApplyLocked decides what an applied action answers: -1 for the
// normal 200, 0 to drop the connection, or a status code.
func (a *API) afterApplyLocked() int {
	if len(a.applyThenFail) > 0 {
		s := a.applyThenFail[0]
		a.applyThenFail = a.applyThenFail[1:]
		return s
	}
	if r := a.faults.ApplyThenDropRate; r > 0 && a.rng.Float64() < r {
		return 0
	}
	return -1
}

// drop closes the client's connection without an answer. It hijacks the raw
// connection where it can (HTTP/1); otherwise it aborts the handler, which
// makes net/http close the connection (or reset the HTTP/2 stream).
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// slowWriter trickles every Write in slices spread over total, flushing
// each, so clients see a slow body after a prompt header.
type slowWriter struct {
	http.ResponseWriter
	ctx   context.Context // the request's; a gone client stops the trickle
	total time.Duration
	sleep func(context.Context, time.Duration) error
}

const slowSlices = 8

func (s *slowWriter) Write(p []byte) (int, error) {
	rc := http.NewResponseController(s.ResponseWriter)
	n := 0
	for i := range slowSlices {
		// Wait before each slice, not after: the last byte leaves only
		// once the whole trickle time has passed, so a client that has the
		// body knows every wait is over.
		if err := s.sleep(s.ctx, s.total/slowSlices); err != nil {
			return n, err
		}
		m, err := s.ResponseWriter.Write(p[n : (i+1)*len(p)/slowSlices])
		n += m
		if err != nil {
			return n, err
		}
		_ = rc.Flush()
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the connection (Hijack, Flush).
func (s *slowWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
