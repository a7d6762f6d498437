package apiclient

// Pacing: when a request may start. One rate limiter per key, a window of
// recent starts, and the pause a 429 (or a 503 with Retry-After) imposes
// on every request of the Client.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"time"
)

// pauseFor stops every request of the Client from starting for d, counted
// from now, because of an answer with the given status; an existing longer
// pause stays.
func (c *Client) pauseFor(now time.Time, d time.Duration, status int) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := now.Add(d); until.After(c.pausedUntil) {
		c.pausedUntil, c.pausedBy = until, status
	}
	return c.pausedUntil
}

// rateLimited records a 429 to the request that started as seq and pauses
// the whole Client: for Retry-After (capped) if the server sent one, else
// for a full-jitter backoff that grows with the number of 429s in a row
// (across all goroutines, since they share the key). With Config.Adaptive
// it also cuts the send rate, shifts a Retry-After pause by a random part
// of one request interval, and without Retry-After pauses for that random
// part alone until adaptiveStreak 429s came in a row. It returns the pause
// and whether Retry-After exceeded the cap.
func (c *Client) rateLimited(h http.Header, now time.Time, seq uint64) (d time.Duration, overCap bool) {
	ra, ok := parseRetryAfter(h, now)
	c.mu.Lock()
	n := c.streak
	c.streak++
	r := c.adaptThrottledLocked(now, seq)
	c.mu.Unlock()
	j := time.Duration(min(c.jitter()/r, c.retryAfterCap.Seconds()) * float64(time.Second))
	switch {
	case ok && ra > c.retryAfterCap:
		d, overCap = c.retryAfterCap, true
	case ok && c.adapt != nil:
		// Tills refused in the same second would all resume at the same
		// instant and collide again.
		d = ra + min(j, c.retryAfterCap-ra)
	case ok:
		d = ra
	case c.adapt != nil && n < adaptiveStreak:
		// The cut already answers a 429 that a fleet's sum caused; a
		// backoff of up to seconds on top stopped this till while the
		// others went on, and cost it its share.
		d = j
	default:
		d = backoff(n, c.backoffBase, c.backoffCap, rand.Float64())
	}
	until := c.pauseFor(now, d, http.StatusTooManyRequests)
	c.log.Warn().Dur("pause", d).Time("until", until).Bool("retry_after", ok).
		Msg("rate limited (429): pausing all requests")
	return d, overCap
}

// gapMargin is the part of the server's interval added to the least time
// between two starts (see window): room for the network and the server's
// own clock, which a strict limiter reads in whole milliseconds.
const gapMargin = 0.015

// adaptiveStreak is how many 429s in a row an adaptive Client answers with
// its cut and a short pause alone; from then on it backs off as a fixed
// rate does: the key may be over a quota, not just shared.
const adaptiveStreak = 3

// answered resets the 429 streak, and lets an adaptive rate grow: the
// server took a request.
func (c *Client) answered(now time.Time) {
	c.mu.Lock()
	c.streak = 0
	c.adaptAnsweredLocked(now)
	c.mu.Unlock()
}

// wait blocks until the Client is not paused, the limiter grants a token,
// the start window has room and the shared limiter (if any) agrees, and
// returns the start's seq in the window. It
// returns ctx's error, or the limiter's when
// ctx's deadline is too near to wait for a token.
func (c *Client) wait(ctx context.Context) (uint64, error) {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
	defer func() { <-c.turn }()
	token, jittered := false, false
	var paced time.Duration    // how long this start waited for the window and the limiter
	granted := c.shared == nil // by the shared limiter, for the token held
	for {
		var d time.Duration
		c.mu.Lock()
		now := time.Now()
		switch {
		case now.Before(c.pausedUntil):
			// A 429 pauses every start, also the one whose token is
			// granted: it keeps the token (only this goroutine holds
			// one, see turn) but asks the shared limiter again.
			granted = c.shared == nil
			d = c.pausedUntil.Sub(now)
			if dl, ok := ctx.Deadline(); ok && dl.Before(c.pausedUntil) {
				until := c.pausedUntil
				c.mu.Unlock()
				// Like rate.Limiter.Wait: fail now rather than sleep into
				// a deadline that ends before the pause does.
				return 0, fmt.Errorf("paused by a 429 until %s, after the context deadline: %w",
					until.Format(time.RFC3339), context.DeadlineExceeded)
			}
		case !token && c.starts.delay(now) > 0:
			// The window is full (or the last start too recent): wait
			// before taking a token, so the limiter's pace counts from
			// when a start may go, not from a grant that sat idle.
			d = c.starts.delay(now)
			paced += d
		case token && c.starts.unwritten != nil:
			// The last start has not reached the wire yet (its goroutine
			// ran late, or it is dialling): the gap counts from its write.
			ch := c.starts.unwritten
			c.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return 0, context.Cause(ctx)
			}
			continue
		case token && !granted && c.starts.delay(now) == 0:
			// Asked last: the shared schedule counts only starts this
			// till is about to make. The token is kept while the booked
			// start comes (or until asking again).
			c.mu.Unlock()
			asked := time.Now()
			d, granted = c.askShared(ctx)
			// The wait counts from when the question left, as the
			// limiter decided then: counted from its answer, each start
			// came an answer's time after its slot, and a till told to
			// ask again came back late against one whose own limiter's
			// turn came at the slot (measured with 10 daemons through
			// Redis: 45 % of slots went to the till of the slot before;
			// counted from the question, 9.5 %).
			if d -= time.Since(asked); d > 0 {
				if err := sleep(ctx, d); err != nil {
					return 0, err
				}
			}
			continue
		case token && !jittered && c.softLocked() && paced >= softWait(c.paceLocked()):
			// The soft start: a random part of one paced interval more, so
			// that tills started together do not keep one rhythm (see
			// softStarts).
			jittered = true
			d = time.Duration(c.jitter() * softJitter * float64(time.Second) / c.paceLocked())
			c.mu.Unlock()
			// Slept even if 0: below is the limiter, and this start
			// holds its token.
			if err := sleep(ctx, d); err != nil {
				return 0, err
			}
			continue
		case token:
			if d = c.starts.delay(now); d == 0 {
				seq := c.starts.add(now)
				if c.adapt != nil {
					c.adapt.start()
				}
				c.spreadLocked(now)
				c.mu.Unlock()
				return seq, nil
			}
		}
		c.mu.Unlock()
		if d > 0 {
			if err := sleep(ctx, d); err != nil {
				return 0, err
			}
			continue
		}
		asked := time.Now()
		if err := c.lim.Wait(ctx); err != nil {
			return 0, err
		}
		paced += time.Since(asked)
		token = true
	}
}

// softLocked reports whether the next start gets the adaptive rate's soft
// start jitter; not while the shared limiter paces the starts. c.mu must
// be held.
func (c *Client) softLocked() bool {
	return c.adapt != nil && !c.sharedPacesLocked() && c.adapt.soft()
}

// window remembers the last n request starts and admits a start only if
// one of them is at least span old: the server's own rule for "n per
// second", with span stretched by gapMargin (by the headroom, if less).
//
// The limiter alone paces tokens on a fixed grid, but a goroutine can run
// late (a busy CPU): then its request goes out late while the next ones keep
// to the grid, and the server sees n+1 arrivals in one second. Measured on
// a loaded 2-core machine at 9.7/s: 3 such windows and 3 429s in 300
// requests, all caused by late client starts. The window re-spaces the starts
// that follow a late one instead. A start is moved to the time its request
// was actually written (Client.wrote), the closest the client gets to the
// server's arrival time.
//
// With a burst of 1 it also keeps consecutive starts gap apart: against a
// strict limiter (nginx limit_req without burst, which refuses a request
// less than 1/rate after the last one it took) a start that follows a
// late one by less than the interval is refused, even though the window
// has room. Measured through nginx at 0 ms answer time: 3 429s in 34
// requests without the gap, the late start's follower 72-91 ms behind it.
// With several requests in flight the next start may come before the last
// one was written at all, so it waits for that write (or its failure) and
// counts the gap from there: measured through nginx at 1 s answer time
// with 16 in flight, 2 429s in 303 requests without this wait.
//
// Span and gap are the server's own (one second, 1/RateLimit) and
// gapMargin more, not the paced ones: they count from writes, which come a
// little after their starts, and at the paced span and interval each start
// added that lateness to the pace: 2000 queued scans through nginx at
// burst 0 went out at 9.64 and 9.65/s (0 and 1 s answer time) against the
// 9.7/s paced, now at 9.69/s. The limiter keeps the pace; the window and
// the gap only keep starts that follow a late one from reaching the server
// too close together. The smaller margin costs a rare 429 at burst 0: 4 in
// the 8008 requests of a -full bench's four drains, none in 4002 before
// it.
type window struct {
	span time.Duration
	gap  time.Duration // the least time between two starts; 0: none
	at   []time.Time   // the last n starts, in no particular order
	seq  []uint64      // seq[i] identifies at[i]
	last uint64        // the latest seq handed out
	// wrote[i] is set once start seq[i] was written (at[i] is then its
	// write), or if it is assumed (see fill): what a Handover passes on.
	wrote []bool
	// unwritten is closed when start last is written or given up; nil
	// when it was (or without a gap: then starts do not wait for it).
	unwritten chan struct{}
}

func newWindow(limit, paced float64) *window {
	// n is bounded so an absurd RateLimit cannot allocate a huge ring; the
	// rule keeps the same average rate with a shorter span.
	n := int(min(max(math.Ceil(limit), 1), 1000))
	span := min(float64(n)/paced, float64(n)/limit*(1+gapMargin)) * float64(time.Second)
	span = min(span, 1<<62) // a tiny rate must not overflow
	return &window{span: time.Duration(span), at: make([]time.Time, 0, n), seq: make([]uint64, 0, n), wrote: make([]bool, 0, n)}
}

// interval is span over n: the server's interval and gapMargin (the paced
// interval, if shorter), the least time between two starts with a burst of
// 1. The pace itself is the limiter's.
func (w *window) interval() time.Duration { return w.span / time.Duration(cap(w.at)) }

// oldest is the index of the earliest start; the window must be full.
func (w *window) oldest() int { return w.first(time.Time.Before) }

// newest is the index of the latest start; the window must not be empty.
func (w *window) newest() int { return w.first(time.Time.After) }

// first is the index of the start that comes first in the order of
// before.
func (w *window) first(before func(a, b time.Time) bool) int {
	i := 0
	for j := range w.at {
		if before(w.at[j], w.at[i]) {
			i = j
		}
	}
	return i
}

// delay is how long a start at now must wait.
func (w *window) delay(now time.Time) time.Duration {
	var d time.Duration
	if w.gap > 0 && len(w.at) > 0 {
		d = w.at[w.newest()].Add(w.gap).Sub(now)
	}
	if len(w.at) == cap(w.at) {
		d = max(d, w.at[w.oldest()].Add(w.span).Sub(now))
	}
	return max(d, 0)
}

// add records a start at now, replacing the oldest, and returns its seq.
func (w *window) add(now time.Time) uint64 {
	w.addAt(now, false)
	return w.last
}

// assume records a start at t that was written, by a previous process
// (see fill and handOver): nothing waits for its write.
func (w *window) assume(t time.Time) {
	w.addAt(t, true)
	w.settle(w.last)
}

func (w *window) addAt(t time.Time, wrote bool) {
	w.settle(w.last)
	w.last++
	if w.gap > 0 {
		w.unwritten = make(chan struct{})
	}
	if len(w.at) < cap(w.at) {
		w.at, w.seq, w.wrote = append(w.at, t), append(w.seq, w.last), append(w.wrote, wrote)
	} else {
		i := w.oldest()
		w.at[i], w.seq[i], w.wrote[i] = t, w.last, wrote
	}
}

// move records that start seq was written at t, if it is still
// remembered: the start moves to t if t is later.
func (w *window) move(seq uint64, t time.Time) {
	for i := range w.seq {
		if w.seq[i] != seq {
			continue
		}
		if t.After(w.at[i]) {
			w.at[i] = t
		}
		w.wrote[i] = true
	}
	w.settle(seq)
}

// settle ends the wait for start seq's write, if it is the last start.
func (w *window) settle(seq uint64) {
	if seq == w.last && w.unwritten != nil {
		close(w.unwritten)
		w.unwritten = nil
	}
}

// wrote moves start seq to t, when its request was written.
func (c *Client) wrote(seq uint64, t time.Time) {
	c.mu.Lock()
	c.starts.move(seq, t)
	c.mu.Unlock()
}

// sent ends start seq: its request was written (wrote came first) or
// never will be (it failed before, or was not made), so the next start
// need not wait for it.
func (c *Client) sent(seq uint64) {
	c.mu.Lock()
	c.starts.settle(seq)
	c.mu.Unlock()
}

// sleep waits for d or until ctx is done, like rate's own wait.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
