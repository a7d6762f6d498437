package apiclient

// Internals that the external tests (package apiclient_test) need.

import "time"

// KeyID is keyID: the name of a key for a shared limiter.
var KeyID = keyID

// RetrySharedNow lets the Client ask its shared limiter again at once, as
// if the wait after a failure had passed.
func RetrySharedNow(c *Client) {
	c.mu.Lock()
	c.sharedRetryAt = time.Time{}
	c.mu.Unlock()
}

// Adaptive reports whether the Client runs an adaptive rate.
func Adaptive(c *Client) bool { return c.adapt != nil }
