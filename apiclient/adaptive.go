package apiclient

// The adaptive send rate (Config.Adaptive): several tills sharing one key
// cannot see each other, so each lowers its own rate when the server says
// 429 and probes back up, as the AWS SDKs' "adaptive" retry mode does with
// TCP CUBIC's curve. RateLimit stays the ceiling.

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// The constants of the curve: β and the floor as in the AWS SDKs' adaptive
// mode; C a fortieth of theirs (0.4), so a till probes above its old rate
// slowly and each till meets a 429 less often. Measured through nginx
// limit_req burst=10 nodelay (go run ./tools/bench -only fleet -drivers
// adaptive), 5 tills on one 10/s key for 40 s: C 0.1 gave 22 % of requests
// 429, C 0.01 with the cut from the accepted rate 11 %, at 99 % of the
// limit; a till alone is back at its old rate about 7 s after a cut.
const (
	cubicBeta = 0.7  // the share of the send rate kept after a 429
	cubicC    = 0.01 // how fast the rate grows back, in (requests/s)/s³
	// minAdaptiveRate is the floor: a till never stops sending.
	minAdaptiveRate = 0.5
)

// cubic is the adaptive rate's arithmetic. After a 429 at time t₀ it cuts
// the rate to β·W, W being the rate in use then; from there the rate follows
// W(t) = C·(t − t₀ − K)³ + W, K = ∛(W·(1−β)/C): fast while far below W, flat
// near W, then probing above it, always within [floor, ceiling]. It holds
// no clock (time is passed in) and no lock: Client.mu guards it.
type cubic struct {
	ceiling, floor float64
	rate           float64     // the send rate now, requests/s
	lastMax        float64     // W: the rate in use at the last 429
	k              float64     // K, in seconds
	c              float64     // C, in (requests/s)/s³
	cutAt          time.Time   // t₀; zero before the first 429
	took           []time.Time // when the server took a request (any answer but 429), within acceptSpan
	since          time.Time   // the first answer or 429: how much history took covers
}

// acceptSpan is how far back the accepted rate looks.
const acceptSpan = 2 * time.Second

// acceptedRate is the rate the server took this client's requests at over
// the last acceptSpan (less, while the client is younger), 0 if unknown.
func (c *cubic) acceptedRate(now time.Time) float64 {
	c.forget(now)
	span := min(now.Sub(c.since), acceptSpan)
	if c.since.IsZero() || span < acceptSpan/4 {
		return 0
	}
	return float64(len(c.took)) / span.Seconds()
}

func (c *cubic) forget(now time.Time) {
	i := 0
	for i < len(c.took) && !c.took[i].After(now.Add(-acceptSpan)) {
		i++
	}
	c.took = append(c.took[:0], c.took[i:]...)
}

func newCubic(ceiling float64) *cubic {
	return &cubic{ceiling: ceiling, floor: min(minAdaptiveRate, ceiling), rate: ceiling}
}

// throttled cuts the rate for a 429 at now. sent is the rate the client was
// really sending at, 0 if unknown: a till sending below its allowance (slow
// answers, few scans) cuts from what it sent, or the cut would change
// nothing. W is also never above the rate the server took requests at
// lately: tills behind a token bucket all send fast while most of theirs
// are refused, and cutting from the sent rate took them 4 or 5 429s each
// to come down to their share. It returns the new rate.
func (c *cubic) throttled(now time.Time, sent float64) float64 {
	if c.since.IsZero() {
		c.since = now
	}
	w := c.rate
	if sent > 0 && sent < w {
		w = sent
	}
	if acc := c.acceptedRate(now); acc > 0 && acc < w {
		w = acc
	}
	c.lastMax, c.cutAt = w, now
	c.c = cubicC
	c.k = math.Cbrt(w * (1 - cubicBeta) / c.c)
	c.rate = clamp(w*cubicBeta, c.floor, c.ceiling)
	return c.rate
}

// answered moves the rate along the curve for an answer other than 429 at
// now, and returns it. Before the first 429 the rate stays at the ceiling.
func (c *cubic) answered(now time.Time) float64 {
	if c.since.IsZero() {
		c.since = now
	}
	c.forget(now)
	c.took = append(c.took, now)
	if c.cutAt.IsZero() {
		return c.rate
	}
	t := now.Sub(c.cutAt).Seconds()
	c.rate = clamp(c.c*math.Pow(t-c.k, 3)+c.lastMax, c.floor, c.ceiling)
	return c.rate
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

// adaptAnsweredLocked moves the send rate along its curve for an answer
// other than 429. c.mu must be held.
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
