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

// SharedLimiter keeps one schedule of request starts for a key, across
// every Client of that key. The Client books one start at a time, after
// its own limiter has granted it.
//
// A booking, not a yes or no: told "not now, ask again in d", every till
// waiting for the key came back at the same instant and the slot went to
// whichever question reached the coordinator first, a lottery that a
// busy machine skews (ten daemons through Redis: one till got 65 % of
// its share in a minute). Booked in the order they ask, tills with a
// backlog take their turns round the fleet.
type SharedLimiter interface {
	// Reserve books the next free start of the key identified by keyID.
	// It returns how long from the call until the booked start (0: now)
	// and true; or, if the schedule is booked too far ahead, how long to
	// wait before asking again and false (nothing booked). An error means
	// the limiter could not decide: the Client then paces by itself.
	Reserve(ctx context.Context, keyID string) (wait time.Duration, booked bool, err error)
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

// askShared books a start with the shared limiter and returns how long
// until it (booked), or until asking again (not booked). Without a
// shared limiter, or while it has failed, every start is booked now. A
// failure switches the Client to its own pacing for sharedRetry and is
// logged once per change of state.
func (c *Client) askShared(ctx context.Context) (time.Duration, bool) {
	if c.shared == nil {
		return 0, true
	}
	c.mu.Lock()
	id, skip := c.keyID, time.Now().Before(c.sharedRetryAt)
	c.mu.Unlock()
	if skip {
		return 0, true
	}
	actx, cancel := context.WithTimeout(ctx, sharedTimeout)
	d, booked, err := c.shared.Reserve(actx, id)
	cancel()
	if err != nil && ctx.Err() != nil {
		return 0, true // the caller gave up; the limiter is not to blame
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil:
		c.sharedRetryAt = time.Now().Add(sharedRetry)
		c.sharedErr = err
		if c.sharedState != SharedUnreachable {
			c.sharedState = SharedUnreachable
			c.repaceLocked(time.Now())
			c.log.Warn().Err(err).Msg("shared rate limiter unreachable: this till paces its requests by itself (adaptive rate) until it answers again")
		}
		return 0, true
	case c.sharedState != SharedOK:
		if c.sharedState == SharedUnreachable {
			c.log.Info().Msg("shared rate limiter reachable again: requests are paced across the tills again")
		}
		c.sharedState, c.sharedErr = SharedOK, nil
		c.repaceLocked(time.Now())
	}
	return d, booked
}
