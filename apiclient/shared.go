package apiclient

// The shared limiter (Config.Shared): one schedule for every till that
// uses the same key, kept by a coordinator the tills can all reach (e.g.
// Redis, package apiclient/redislimit). The Client's own limiter stays the
// ceiling and the fallback: a coordinator that cannot answer never stops
// a till from sending.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// SharedLimiter decides when a request of a key may start, across every
// Client of that key. The Client asks once per request start, after its
// own limiter has granted it.
type SharedLimiter interface {
	// Reserve asks to start one request of the key identified by keyID
	// now. It returns 0 if the request may start (the start is counted),
	// else how long to wait before asking again, counted from the call
	// (nothing counted). An error means the limiter could not decide: the
	// Client then paces by itself.
	Reserve(ctx context.Context, keyID string) (time.Duration, error)
}

// Bounds of the shared limiter's use. A decision must come quickly or it
// is not worth waiting for; a limiter that failed is left alone for a
// while, so that each request does not pay for a connection attempt.
const (
	sharedTimeout = 250 * time.Millisecond
	sharedRetry   = 5 * time.Second
)

// keyID names key for a shared limiter: a hash, so that the key itself
// never leaves the till, and a short one, enough to tell keys apart.
func keyID(key string) string {
	h := sha256.Sum256([]byte("tillscan shared limiter\x00" + key))
	return hex.EncodeToString(h[:16])
}

// SharedState is how the shared limiter is doing, in Status.
type SharedState string

// The states of the shared limiter.
const (
	SharedOff         SharedState = ""            // no shared limiter configured
	SharedOK          SharedState = "ok"          // every start is paced by the shared limiter
	SharedUnreachable SharedState = "unreachable" // it failed: the Client paces by itself (adaptively)
)

// askShared asks the shared limiter for a start now and returns how long
// to wait before asking again (0: go). A failure switches the Client to
// its own pacing for sharedRetry and is logged once per change of state.
func (c *Client) askShared(ctx context.Context) time.Duration {
	if c.shared == nil {
		return 0
	}
	c.mu.Lock()
	id, skip := c.keyID, time.Now().Before(c.sharedRetryAt)
	c.mu.Unlock()
	if skip {
		return 0
	}
	actx, cancel := context.WithTimeout(ctx, sharedTimeout)
	d, err := c.shared.Reserve(actx, id)
	cancel()
	if err != nil && ctx.Err() != nil {
		return 0 // the caller gave up; the limiter is not to blame
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.sharedRetryAt = time.Now().Add(sharedRetry)
		c.sharedErr = err
		if c.sharedState != SharedUnreachable {
			c.sharedState = SharedUnreachable
			c.log.Warn().Err(err).Msg("shared rate limiter unreachable: this till paces its requests by itself (adaptive rate) until it answers again")
		}
		return 0
	case c.sharedState != SharedOK:
		if c.sharedState == SharedUnreachable {
			c.log.Info().Msg("shared rate limiter reachable again: requests are paced across the tills again")
		}
		c.sharedState, c.sharedErr = SharedOK, nil
	}
	return d
}
