package apiclient

// The spread: intervals between paced starts drawn around the pace, so
// that tills sharing a key do not keep one phase against each other.

import (
	"time"

	"golang.org/x/time/rate"
)

// spreadJitter is how far one interval between paced starts may stray
// from the pace, as a part of it: each is drawn from 1 ± spreadJitter/2
// times the paced interval, so the rate stays the pace on average.
//
// Tills paced at steady rates keep a steady phase against each other, and
// the server's refusals then fall on whichever till's starts come just
// after another's, again and again. Five Clients paced at 2.05/s through
// the model of nginx limit_req (10/s, burst 10) for ten minutes: all 173
// refusals fell on one till, the others heard none; with the spread each
// had 21–46 over eleven runs (TestSpread_SharesTheRefusals; goroutines on
// the fake clock interleave differently from run to run). Adaptive tills
// share a key on the premise that the key refuses each in proportion to
// what it sends (see adaptive.go); a phase-locked key cut one till again
// and again and told the others nothing. Measured with real daemons through nginx (go
// run ./tools/bench -only fleet -drivers daemon-adaptive -tills 2 -bursts
// 10 -window 60s -repeat 4), the worse of two tills: 95, 98, 99 and 98 %
// of its share, against 73, 43 and 96 % in the -full bench at 057c825
// (93, 96 and 93 % in the one at b706863, with the spread). In the
// fleet simulation (32 runs) the five lowest of two tills rose from 36,
// 43, 43, 44 and 55 % to 37, 54, 55, 55 and 70 %; five and ten tills,
// whose scatter comes from their first cut (see share), stayed as they
// were.
//
// Near the ceiling there is no room: a lone till draining a backlog keeps
// its pace exactly (see spreadLocked).
const spreadJitter = 0.3

// paceLocked is the rate starts are paced at, on average: the adaptive
// rate, or the configured pace; the configured pace while the shared
// limiter paces the starts, whose schedule then sets the till's share (the
// adaptive rate is the fallback's). c.mu must be held.
func (c *Client) paceLocked() float64 {
	if c.adapt != nil && !c.sharedPacesLocked() {
		return c.adapt.rate
	}
	return c.paced
}

// sharedPacesLocked reports whether the shared limiter paces the starts:
// configured and answering. c.mu must be held.
func (c *Client) sharedPacesLocked() bool { return c.shared != nil && c.sharedState == SharedOK }

// repaceLocked sets the limiter to the pace, keeping the current
// interval's spread: after the adaptive rate changed. c.mu must be held.
func (c *Client) repaceLocked(now time.Time) {
	c.lim.SetLimitAt(now, rate.Limit(c.paceLocked()/c.spread))
}

// spreadLocked draws the length of the interval after a start at now (see
// spreadJitter). c.mu must be held.
func (c *Client) spreadLocked(now time.Time) {
	// The shortest interval drawn leaves gapMargin over the gap for a
	// late write, or the gap would move the start and slow the pace.
	shortest := c.starts.interval().Seconds() * (1 + gapMargin)
	pace := c.paceLocked()
	j := clamp(2*(1-pace*shortest), 0, spreadJitter)
	if j == 0 && c.spread == 1 {
		return
	}
	c.spread = 1 - j/2 + j*c.jitter()
	c.lim.SetLimitAt(now, rate.Limit(pace/c.spread))
}
