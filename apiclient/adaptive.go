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
// What a till can learn is limited. A till paced at the ceiling leaves the
// server's bucket only the headroom's slack, so the others' requests are
// refused while its own pass, and after the others cut their rates it has
// the key to itself until they resume. The till refused last at a start
// together has therefore seen as many answers as a till of a two-till
// fleet, and estimates a share several times its fair one (measured with
// real daemons through nginx: answers before the first 429 of 1, 1, 1, 1,
// 1, 1, 1, 1, 2 and 11 in a fleet of ten; 10 and 12 in a fleet of two).
// Only further 429s, which cost requests, can tell it otherwise. Two
// rules soften this: a Client's first paced starts are jittered (soft
// start), so that no till holds the bucket's rhythm while the fleet meets
// the limit; and a 429 soon after a cut, while the fleet is still over
// the limit, cuts a till by the square of its part of the key, so that
// the ones that overestimated give back most (see closeAnswers). In the
// simulation (40 runs) the two, with a growth then scaled by the
// estimated share and close cuts by the part itself, took 10 tills from
// 6.9 % of requests 429 to 4.2 % and the worst of them from 59 % of its
// share to 70 %, the worst of 5 tills from 65 % to 70 %.
//
// What remains is slow: a fleet's shares converge over minutes (see
// fleetIncrease), and within one minute a till's share swings with its
// own cuts (see aimdBeta). Tills that must share a key evenly from the
// first second need a coordinator: Config.Shared.
//
// The numbers come from the fleet simulation (fleet_internal_test.go: a
// model of nginx limit_req and tills on synctest's clock) and were checked
// with real daemons through nginx (go run ./tools/bench -only fleet).

import "time"

const (
	// aimdBeta is the share of the send rate kept after a 429. A till's
	// 429s come at random times, in proportion to its rate, so its rate
	// is a saw about its share, and the depth of the cut sets how far
	// the saw swings: about √((1−β)/4) of the share, 22 % at 0.8 and
	// 16 % at 0.9, when the shares settle more slowly than a minute, as
	// they do (see fleetIncrease). Over a minute the worst of ten tills
	// is then about 1.5 swings under its share, 66 % at 0.8 and 75 % at
	// 0.9. In the fleet simulation (24 runs of three minutes, every till
	// growing by fleetIncrease) ten tills' worst in the second and third minutes got
	// 65 and 63 % of its share at 0.8, 73 and 72 % at 0.9 (in the first,
	// which the start decides, 70 % both), with 2.6 % of requests 429
	// against 3.3 %; the worse of two 78–82 % against 87–89 %. Measured
	// with real daemons through nginx (go run ./tools/bench -only fleet
	// -tills 2 -bursts 10), the worse of two tills over six 60 s runs
	// each: 55–96 % of its share at 0.8 (median 87), 85–100 % at 0.9
	// (median 98), 429s about 1 % both.
	aimdBeta = 0.9
	// fleetIncrease is how fast the rate grows back after a 429,
	// (requests/s) per second, for a till whose first cut left it at most
	// midShare of the ceiling: one of many. Under equal growth the till
	// that sends more, refused more often, gives back more, and the
	// shares converge (Chiu and Jain). A growth that differed from till
	// to till within a fleet would settle them unequally: scaled by each
	// till's first estimate of its share (see share), as it was, the
	// tills that estimated least grew least and stayed there for as long
	// as the fleet stayed at the limit (in the simulation the worst of
	// ten stayed at 58–67 % of its share minute after minute, for ten
	// minutes). Its size is the fleet's 429s against how fast shares
	// settle: N tills at w = L/N each are refused a part fleetIncrease /
	// ((1−β)·w²) of their requests at the balance (2 % for ten tills) and
	// a share's distance from the balance halves in about w /
	// (3·fleetIncrease) seconds (three minutes for ten tills): faster
	// costs 429s the ten cannot afford.
	fleetIncrease = 0.002
	// midIncrease is the growth of a till whose first cut left it more
	// than midShare of the ceiling and at most closeShare: one of a
	// few. Its first estimate comes from two to four answers (see share)
	// and is as coarse as they are: the tills of five started together
	// estimated 1.6, 2.2 and 2.8/s against a fair 1.9/s, and at
	// fleetIncrease the fleet, just under the limit after its cuts,
	// met too few 429s to even that out within a minute (the worst of
	// five real daemons through nginx got 49, 49, 50, 53, 59 and 81 % of
	// its share in six first minutes; with this class 48–82 %, median 71
	// %, in nine; at twice it, 59–78 %, median 66 %, in six, with 3 % of
	// requests 429 against 2 %: what holds a five-till start back is its
	// till that estimated half the key, see share). Ten tills afford no faster
	// growth (with every till at 0.004/s: 6–7 % of their requests 429),
	// but nearly all of them estimate from one answer. midShare lies
	// between the estimates of one answer (at most 9.4 % of the ceiling)
	// and of two (16 %). Only for the first minute of the episode (since
	// its first cut), then fleetIncrease: the start is what needs
	// evening out, and a ten-till fleet's tills that estimated from two
	// answers, grown faster for longer, stayed ahead (in the simulation
	// the worst of ten in minutes 2 and 3 got 73 % of its share without
	// this class, 67–69 % with it for the whole episode, 69–70 % with it
	// for the first minute).
	midIncrease = 0.004
	midShare    = 0.12
	// aimdIncrease is the growth of a till whose first cut of the episode
	// left it more than closeShare of the ceiling (alone, or one of two),
	// and of every till once quietSpan passed without a 429 (the fleet
	// has shrunk or gone quiet). A pair's shares move only at its few
	// 429s, and a pair split unequally at its start stays so without a
	// faster growth: at fleetIncrease the worse of two real daemons
	// through nginx got 29, 40, 51, 87, 93 and 97 % of its share over six
	// 60 s runs, at this growth 96, 96, 97, 97, 98 and 54 % (the last in
	// the -full bench at 394be41; the earlier rules gave 93–99 % in seven
	// runs, which grew a pair's tills at about this rate). Classes, not a
	// growth scaled by the estimate: within a fleet nearly every till
	// grows alike. The till of ten that estimated a pair's share (see
	// share) grows faster and settles at about twice the others', who
	// lose a tenth of theirs.
	aimdIncrease = 0.01
	// recoverIncrease is the faster growth after a 429 that met a till
	// sending alone at full speed (see throttled): back from the cut in
	// about 6 s. At 0.1/s (20 s) one such 429 cost a drain through a
	// strict limiter half a point of the limit.
	recoverIncrease = 0.3
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
	// softStarts is how many starts the soft start lasts, unless a 429
	// comes first: each of them that had to wait for the limiter waits a
	// random part, up to softJitter, of one interval more. The start of a
	// fleet is when its tills meet the limit together and estimate their
	// shares (see share); a till that keeps the exact rhythm of the
	// server's bucket is refused last and overestimates its share. Tills
	// started together meet nginx's burst of 10 within 20 starts. They
	// are counted as starts, not answers: the server sees starts, and at
	// 1 s answer time a count of answers jittered ten starts more (about
	// 0.3 s of a lone till's drain). Only a start that waited for the
	// limiter and the start window half an interval or more (softWait) is
	// jittered: a till at a cashier's pace finds its token ready and keeps
	// its answer time, and so does a new card's action right after its
	// look-up; but every start counts, or such a till's soft start would
	// last until 20 of its starts had waited, each paying the jitter. It
	// costs a till alone with a backlog about half a second of requests.
	softStarts = 20
	softJitter = 0.6
	// closeAnswers, closeShare, closeCut and closeKeep shape the cut for
	// a 429 that follows the till's last cut closely (fewer than
	// closeAnswers answers): the fleet is still over the limit, most
	// often because some tills' first cuts estimated too large a share
	// (see share). The key refuses every till's requests about equally
	// often then, so equal cuts would keep their lead and push the tills
	// that estimated their share well (a tenth of the key, in a fleet of
	// ten) below it with each 429. Instead a till sending the part x of
	// the ceiling gives back closeCut·x² of its rate, keeping at least
	// closeKeep: 95 % at a tenth of the key, 80 % at a fifth, 40 % from
	// 35 % up. Its 429s come in proportion to its rate, so its rate falls
	// with the cube of it, and the excess is taken from the tills furthest
	// above the rest. Not above closeShare of the ceiling: a till sending
	// half the key is in a fleet of two, where the till refused first
	// would be cut far below the other, and no later 429 would even them
	// out; nor for a till whose first cut of the episode left it more
	// than closeShare, whose cuts by aimdBeta take it under closeShare
	// within a few 429s (a real pair's till, refused again and again
	// while the other was not yet refused at all, went from 4.72/s to
	// 1.09/s within three seconds and kept 30 % of its share for the
	// minute). In the fleet simulation (40 runs) cuts to 1 − x, as
	// before, left the worst of 10 tills 69 % of its share, these 76 %
	// (73 % against 69 % in the second and third minutes), the worst of 5
	// 70 and 72 %, of 2 91 % both, with 429s within 0.1 point. Ten real
	// daemons through nginx (go run ./tools/bench -only fleet -tills 10
	// -bursts 10 -repeat 4): 63, 63, 64 and 72 % before, 73, 73, 80 and
	// 52 % with these cuts (in the last one a till estimated half the key,
	// see docs/api.md on the blind spot).
	closeAnswers = 10
	closeShare   = 0.45
	closeCut     = 5
	closeKeep    = 0.4
)

// aimd is the adaptive rate's arithmetic. It holds no clock (time is
// passed in) and no lock: Client.mu guards it.
type aimd struct {
	ceiling, floor float64
	rate           float64   // the send rate now, requests/s
	cut            time.Time // the last cut; zero before the first 429
	grown          time.Time // when the rate last grew
	taken          int       // answers other than 429 since the last cut (or the start)
	started        int       // starts so far, counted up to softStarts
	back           float64   // grow fast up to this rate (see throttled); 0: no
	part           float64   // the part of the ceiling the first cut of this episode left; 0 before
	began          time.Time // the first cut of this episode
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
//
// r is the rate the till was sending at (below the ceiling during the soft
// start): with N tills at r the bucket empties after B/(N·r − L) seconds,
// k = r·B/(N·r − L), and L/N = L·r·k/(L·k + r·B).
func (a *aimd) share(taken int, r float64) float64 {
	k, l, b := float64(taken), a.ceiling, a.ceiling*firstBurst.Seconds()
	if r <= 0 || r > a.ceiling {
		r = a.ceiling
	}
	return l * r * k / (l*k + r*b)
}

// soft reports whether a paced start is in the soft start: before the
// first 429 and within the first softStarts starts.
func (a *aimd) soft() bool { return a.cut.IsZero() && a.started < softStarts }

// softWait is how long a start must have waited, at pace requests/s, to
// be jittered in the soft start: half an interval. A till with a backlog
// waits a whole one for each start; a new card's action, ready when the
// look-up's answer comes, waits only what is left of the interval (3 ms
// at 100 ms answer time), and jittered it waited 31 ms more on average
// (measured: a new card applied in 222.8 ms p50 at 100 ms answer time
// against the target's 210).
func softWait(pace float64) time.Duration {
	return time.Duration(float64(time.Second) / (2 * pace))
}

// start counts a start for the soft start.
func (a *aimd) start() { a.started = min(a.started+1, softStarts) }

// quiet reports whether no 429 came for quietSpan before now (or ever):
// the next 429 is a first, and the last episode is over.
func (a *aimd) quiet(now time.Time) bool { return a.cut.IsZero() || now.Sub(a.cut) >= quietSpan }

// growth is the increase per second at now: the class the first cut of
// the episode chose (see growthClass; midIncrease for the episode's first
// quietSpan only), or aimdIncrease once quietSpan has passed without a
// 429.
func (a *aimd) growth(now time.Time) float64 {
	if a.part == 0 || a.quiet(now) {
		return aimdIncrease
	}
	g := growthClass(a.part)
	if g == midIncrease && now.Sub(a.began) >= quietSpan {
		return fleetIncrease
	}
	return g
}

// growthClass is the growth for a till whose first cut of an episode
// left it part of the ceiling: aimdIncrease for a till alone or one of
// two, midIncrease for one of a few, fleetIncrease for one of many.
func growthClass(part float64) float64 {
	switch {
	case part > closeShare:
		return aimdIncrease
	case part > midShare:
		return midIncrease
	default:
		return fleetIncrease
	}
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
// then a fast climb back to where it was. A later 429 cuts by aimdBeta,
// or, close after the last cut, by closeCut times the square of the
// till's part of the ceiling if it sends at most closeShare of it and its
// first cut of the episode left it no more (see closeAnswers).
func (a *aimd) throttled(now time.Time, sent float64) float64 {
	w := a.rate
	if sent > 0 && sent < w {
		w = sent
	}
	first := a.quiet(now)
	keep := aimdBeta
	if !first && a.taken < closeAnswers && w <= closeShare*a.ceiling && a.part <= closeShare {
		x := w / a.ceiling
		keep = max(closeKeep, 1-closeCut*x*x)
	}
	a.rate, a.back = clamp(w*keep, a.floor, a.ceiling), 0
	if first {
		switch s := a.share(a.taken, sent); {
		case s < a.rate:
			a.rate = clamp(s, a.floor, a.ceiling)
		case w >= 0.9*a.ceiling:
			a.back = w
		}
		a.part, a.began = a.rate/a.ceiling, now
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
	inc := a.growth(now)
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
// While the shared limiter paces the starts it cuts nothing: the shared
// schedule, not this till's estimate, sets its share then, and the 429 is
// a collision the pause answers. A cut estimated then (from the answers
// before it, none for a till's first request) held a till under the rate
// the schedule gave it for minutes: five daemons on Redis behind nginx at
// burst 0, 60 s, gave one till 27 and 35 % of its share in two of five
// runs (95 % in the others); in the one kept for reading its first
// request had met a 429 and its rate was cut to 0.66/s. Nor does the
// adaptive rate pace the till then (see paceLocked), so the cuts of a
// spell without Redis do not hold it back once Redis answers again. It
// returns the rate in use. c.mu must be held.
func (c *Client) adaptThrottledLocked(now time.Time, seq uint64) float64 {
	if c.adapt == nil || c.sharedPacesLocked() {
		return c.paceLocked()
	}
	if seq > c.cutSeq {
		r := c.adapt.throttled(now, c.starts.rate(now))
		c.cutSeq = c.starts.last
		c.repaceLocked(now)
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
		c.repaceLocked(now)
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
