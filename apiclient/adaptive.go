package apiclient

// The adaptive send rate (Config.Adaptive): several tills sharing one key
// cannot see each other, so each lowers its own rate when the server says
// 429 and raises it slowly while the server takes its requests: additive
// increase, multiplicative decrease (AIMD), the rule under which TCP flows
// that share a link converge to equal shares (Chiu and Jain, 1989): a till
// that sends more meets more of the 429s and gives back more at each,
// while every till gains the same. The ceiling stays RateLimit less
// Headroom.
//
// The numbers come from the fleet simulation (fleet_internal_test.go: a
// model of nginx limit_req and tills on synctest's clock) and were checked
// with real daemons through nginx (go run ./tools/bench -only fleet). The
// increase is small because every till adds it: ten tills at 0.01 add
// 0.1 requests/s each second, and a token bucket with a burst of 10 only
// answers 429 once the whole fleet has been over the limit by 10 requests,
// so a faster climb overshoots by more and costs more 429s per event.

import (
	"time"

	"golang.org/x/time/rate"
)

const (
	// aimdBeta is the share of the send rate kept after a 429.
	aimdBeta = 0.8
	// aimdIncrease is how fast the rate grows back, (requests/s) per second.
	aimdIncrease = 0.01
	// recoverIncrease is the faster growth after a 429 that met a till
	// sending alone at full speed (see throttled).
	recoverIncrease = 0.1
	// quietSpan is how long without a 429 makes the next one a first.
	quietSpan = time.Minute
	// minAdaptiveRate is the floor: a till never stops sending.
	minAdaptiveRate = 0.5
	// firstBurst is the burst the first cut assumes the server allows, in
	// seconds of the ceiling: nginx's burst=10 at 10 r/s is one. In the
	// fleet simulation (40 runs) 0.7 s left 8.8 % of 10 tills' requests
	// 429 (6.6 % at 1 s), and 1.5 s put the worse of 2 tills at 37 % of
	// its share (92 % at 1 s).
	firstBurst = time.Second
)

// aimd is the adaptive rate's arithmetic. It holds no clock (time is
// passed in) and no lock: Client.mu guards it.
type aimd struct {
	ceiling, floor float64
	rate           float64   // the send rate now, requests/s
	cut            time.Time // the last cut; zero before the first 429
	grown          time.Time // when the rate last grew
	taken          int       // answers other than 429 since the last cut (or the start)
	back           float64   // grow fast up to this rate (see throttled); 0: no
}

func newAIMD(ceiling float64) *aimd {
	return &aimd{ceiling: ceiling, floor: min(minAdaptiveRate, ceiling), rate: ceiling}
}

// share estimates this till's share of the key from a first 429 that came
// after taken answers: tills that start together at the ceiling c (after
// a power cut, say) fill a bucket of B requests in B/(N·c − L) seconds,
// each with c·B/(N·c − L) answers, so with L ≈ c and B = c·firstBurst the
// share L/N is about c·k/(k + B). A till alone for a while has a large k
// and a share near the ceiling. Measured in the fleet simulation (40 runs),
// 10 tills at burst 10: with cuts of β alone 14 % of requests 429 and the
// worst till at 48 % of its share; with this first cut 7 % and 61 %.
func (a *aimd) share(taken int) float64 {
	k := float64(taken)
	return a.ceiling * k / (k + a.ceiling*firstBurst.Seconds())
}

// throttled cuts the rate for a 429 at now and returns it. sent is the
// rate the client was really sending at, 0 if unknown: a till sending
// below its allowance (slow answers, few scans) cuts from what it sent,
// or the cut would change nothing.
//
// A first 429 (none for quietSpan) cuts to the till's estimated share if
// that is lower than the usual cut: a fleet started together comes down
// in one step instead of one 429 per 20 % (ten tills from 9.7/s to 1/s
// would take ten each). A first 429 to a till sending at full speed whose
// share is the whole key (it was alone) is a stray one: the usual cut,
// then a fast climb back to where it was.
func (a *aimd) throttled(now time.Time, sent float64) float64 {
	w := a.rate
	if sent > 0 && sent < w {
		w = sent
	}
	first := a.cut.IsZero() || now.Sub(a.cut) >= quietSpan
	a.rate, a.back = clamp(w*aimdBeta, a.floor, a.ceiling), 0
	if first {
		switch s := a.share(a.taken); {
		case s < a.rate:
			a.rate = clamp(s, a.floor, a.ceiling)
		case w >= 0.9*a.ceiling:
			a.back = w
		}
	}
	a.cut, a.grown, a.taken = now, now, 0
	return a.rate
}

// answered grows the rate for an answer other than 429 at now, and
// returns it. Before the first 429 the rate stays at the ceiling.
func (a *aimd) answered(now time.Time) float64 {
	a.taken++
	if a.cut.IsZero() {
		return a.rate
	}
	inc := aimdIncrease
	if a.rate < a.back {
		inc = recoverIncrease
	}
	a.rate = clamp(a.rate+inc*now.Sub(a.grown).Seconds(), a.floor, a.ceiling)
	if a.rate >= a.back {
		a.back = 0
	}
	a.grown = now
	return a.rate
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(v, hi)) }

// adaptThrottled cuts the send rate for a 429 to the request that started
// as seq. A 429 to a request sent before the last cut belongs to the same
// congestion event (requests in flight together) and cuts nothing more.
// It returns the rate in use. c.mu must be held.
func (c *Client) adaptThrottledLocked(now time.Time, seq uint64) float64 {
	if c.adapt == nil {
		return float64(c.lim.Limit())
	}
	if seq > c.cutSeq {
		r := c.adapt.throttled(now, c.starts.rate(now))
		c.cutSeq = c.starts.last
		c.lim.SetLimitAt(now, rate.Limit(r))
		c.log.Info().Float64("rate", r).Msg("rate limited (429): sending slower for a while")
	}
	return c.adapt.rate
}

// adaptAnsweredLocked grows the send rate for an answer other than 429.
// c.mu must be held.
func (c *Client) adaptAnsweredLocked(now time.Time) {
	if c.adapt == nil {
		return
	}
	if before := c.adapt.rate; c.adapt.answered(now) != before {
		c.lim.SetLimitAt(now, rate.Limit(c.adapt.rate))
	}
}

// rate is the rate the starts of the last span before now came at: (k−1)
// over the time from the first to the last of those k starts, or k/span if
// fewer than 2 or all at one instant. Older starts are left out, so an idle
// pause before a burst does not make the burst look slow.
func (w *window) rate(now time.Time) float64 {
	k := 0
	var first, last time.Time
	for _, t := range w.at {
		if t.Before(now.Add(-w.span)) {
			continue
		}
		if k == 0 || t.Before(first) {
			first = t
		}
		if k == 0 || t.After(last) {
			last = t
		}
		k++
	}
	if d := last.Sub(first).Seconds(); k >= 2 && d > 0 {
		return float64(k-1) / d
	}
	return float64(k) / w.span.Seconds()
}

// fill records a full window of starts at now: a Client that has just
// started assumes its previous process used the whole last window, so its
// first request cannot land in the same second as the last ones sent
// before the restart.
func (w *window) fill(now time.Time) {
	for len(w.at) < cap(w.at) {
		w.add(now)
	}
	w.settle(w.last) // assumed, not sent: nothing to wait for
}
