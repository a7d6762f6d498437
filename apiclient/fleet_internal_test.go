package apiclient

// A fleet of adaptive Clients on one key, on synctest's clock, through a
// model of nginx's limit_req: a minute of a fleet in a fraction of a
// second, for the adaptive rate's design (adaptive.go) and as its guard.
// tools/bench measures the same against real daemons and a real nginx.

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

var (
	fleetWindow  = flag.Duration("fleet.window", time.Minute, "how long (fake time) each simulated fleet runs")
	fleetSeeds   = flag.Int("fleet.seeds", 4, "simulated runs per fleet size, each with other random draws")
	fleetTrace   = flag.Bool("fleet.trace", false, "log each second of each simulated fleet: requests taken and refused, and every till's rate")
	fleetStagger = flag.Duration("fleet.stagger", 0, "start the tills after a clean stop (a Handover with no requests), up to this long one after another")
)

// limitReq is nginx's limit_req for one key as its source computes it: a
// leaky bucket counted in whole milliseconds, excess draining at rate; a
// request that would lift the excess above burst is refused with 429 and
// changes nothing. burst 0 is strict spacing.
type limitReq struct {
	rate, burst float64
	start       time.Time

	mu      sync.Mutex
	excess  float64
	last    time.Time
	taken   []int    // per till
	refused []int    // per till
	perSec  [][2]int // taken and refused in each second since start
	tillSec [][]int  // taken per till in each second since start
}

func newLimitReq(rate, burst float64, tills int) *limitReq {
	return &limitReq{rate: rate, burst: burst, start: time.Now(), taken: make([]int, tills), refused: make([]int, tills)}
}

// admit decides a request from till at now and counts it.
func (l *limitReq) admit(till int, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := float64(now.Sub(l.last).Milliseconds())
	if l.last.IsZero() {
		ms = 60_000
	}
	excess := max(l.excess-l.rate*ms/1000+1, 0)
	ok := excess <= l.burst
	if ok {
		l.excess = excess
		if ms > 0 {
			l.last = now
		}
	}
	sec := int(now.Sub(l.start) / time.Second)
	for len(l.perSec) <= sec {
		l.perSec = append(l.perSec, [2]int{})
		l.tillSec = append(l.tillSec, make([]int, len(l.taken)))
	}
	if ok {
		l.taken[till]++
		l.perSec[sec][0]++
		l.tillSec[sec][till]++
	} else {
		l.refused[till]++
		l.perSec[sec][1]++
	}
	return ok
}

// tillTransport is one till's way to the limiter and the sandbox behind
// it, in memory so that the whole fleet runs on the fake clock.
type tillTransport struct {
	l      *limitReq
	api    http.Handler
	till   int
	jitter func() float64 // the network's: up to a millisecond on the way
}

func (tt tillTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if tr := httptrace.ContextClientTrace(req.Context()); tr != nil && tr.WroteRequest != nil {
		tr.WroteRequest(httptrace.WroteRequestInfo{})
	}
	if err := sleep(req.Context(), time.Duration(tt.jitter()*float64(time.Millisecond))); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	if !tt.l.admit(tt.till, time.Now()) {
		rec.WriteHeader(http.StatusTooManyRequests)
		return rec.Result(), nil
	}
	tt.api.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// tillClient is till's Client on the key behind l, with cfg's settings
// and random draws (its network's and its own jitter) from seed.
func tillClient(t *testing.T, l *limitReq, api http.Handler, till int, seed uint64, cfg Config) *Client {
	t.Helper()
	tr := tillTransport{l: l, api: api, till: till, jitter: rand.New(rand.NewPCG(seed, uint64(till))).Float64}
	cfg.BaseURL = "http://till" + strconv.Itoa(till) + ".invalid/api/v2"
	cfg.APIKey = sandbox.DemoAPIKey
	cfg.HTTPClient = &http.Client{Transport: tr}
	c, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	c.jitter = rand.New(rand.NewPCG(seed, uint64(till)+1000)).Float64
	return c
}

// backlog asks for cards without pause until ctx ends, as a worker with a
// backlog does.
func backlog(ctx context.Context, c *Client) {
	for ctx.Err() == nil {
		if _, err := c.GetCard(ctx, sandbox.DemoStampCard); err != nil {
			// A call may fail at once (a pause past the deadline): the
			// fake clock must move on.
			sleep(ctx, 10*time.Millisecond)
		}
	}
}

// fleetFigures are the bench's figures for one simulated fleet.
type fleetFigures struct {
	together float64 // requests taken per second over the limit
	worst    float64 // the lowest till's taken rate over its fair share (limit / tills)
	refused  float64 // 429s over all requests
	taken    []int
	minutes  []float64 // worst, in each whole minute of the window
}

// simulateFleet runs tills adaptive Clients (the daemon's default) on one
// 10/s key through limitReq with the given burst for window of fake time.
// Each has inFlight goroutines asking for cards without pause, as a worker
// with a backlog does. They start as after a power cut: with no handover
// each waits a second from the fleet's start, so the goroutines' offsets
// (up to 300 ms) vanish and the tills meet the limit together. With
// stagger (the tests' -fleet.stagger) they start after a clean stop instead, each sending as
// soon as its offset (up to that span) has passed, as the daemons of
// tools/bench's daemon-adaptive-clean fleet do: at 550 ms the worst of ten
// tills gets about half its share, as the real ones did.
func simulateFleet(t *testing.T, seed uint64, tills, inFlight int, burst float64, window, stagger time.Duration) fleetFigures {
	t.Helper()
	var l *limitReq
	synctest.Test(t, func(t *testing.T) {
		api, err := sandbox.New(sandbox.Options{RateLimit: -1})
		if err != nil {
			t.Fatal(err)
		}
		l = newLimitReq(10, burst, tills)
		rng := rand.New(rand.NewPCG(seed, uint64(tills)))
		clients := make([]*Client, tills)
		spread := 300 * time.Millisecond
		var handover *Handover
		if stagger > 0 {
			spread, handover = stagger, &Handover{}
		}
		for i := range clients {
			clients[i] = tillClient(t, l, api, i, seed, Config{Adaptive: true, Handover: handover})
		}
		ctx, cancel := context.WithTimeout(t.Context(), window)
		defer cancel()
		var wg sync.WaitGroup
		for _, c := range clients {
			offset := time.Duration(rng.Float64() * float64(spread))
			for range inFlight {
				wg.Go(func() {
					sleep(ctx, offset)
					backlog(ctx, c)
				})
			}
		}
		if *fleetTrace {
			wg.Go(func() { traceFleet(ctx, t, l, clients) })
		}
		wg.Wait()
	})
	f := fleetFigures{worst: 1, taken: l.taken}
	fair := window.Seconds() * l.rate / float64(tills)
	var taken, refused int
	for i := range l.taken {
		taken += l.taken[i]
		refused += l.refused[i]
		f.worst = min(f.worst, float64(l.taken[i])/fair)
	}
	f.together = float64(taken) / (window.Seconds() * l.rate)
	f.minutes = l.worstPerMinute(int(window / time.Minute))
	f.refused = float64(refused) / float64(max(taken+refused, 1))
	return f
}

// worstPerMinute is, for each of the first n minutes, the lowest till's
// taken rate over its fair share in that minute.
func (l *limitReq) worstPerMinute(n int) []float64 {
	fair := 60 * l.rate / float64(len(l.taken))
	worst := make([]float64, n)
	for m := range worst {
		per := make([]int, len(l.taken))
		for sec := m * 60; sec < min(len(l.tillSec), m*60+60); sec++ {
			for i, k := range l.tillSec[sec] {
				per[i] += k
			}
		}
		worst[m] = float64(slices.Min(per)) / fair
	}
	return worst
}

// traceFleet logs, each second, what the limiter took and refused in the
// last one and every till's rate ("p": paused).
func traceFleet(ctx context.Context, t *testing.T, l *limitReq, clients []*Client) {
	for sleep(ctx, time.Second) == nil {
		var b strings.Builder
		l.mu.Lock()
		if n := len(l.perSec); n > 1 {
			fmt.Fprintf(&b, "%3ds taken %2d refused %2d:", n-1, l.perSec[n-2][0], l.perSec[n-2][1])
		}
		l.mu.Unlock()
		for _, c := range clients {
			st := c.Status()
			p := " "
			if st.Paused(time.Now()) {
				p = "p"
			}
			fmt.Fprintf(&b, " %5.2f%s", st.Rate, p)
		}
		t.Log(b.String())
	}
}

// Adaptive tills share a key behind a token bucket (nginx burst=10
// nodelay): few 429s, the limit used, every till a fair part of it. The
// bounds are what the design reaches in this model, averaged over
// -fleet.seeds runs, with a margin; issue 11's targets (≤ 5 % 429s, every
// till ≥ 70 % of its share) are measured by tools/bench with real
// daemons. Before this design (a cubic curve and client-side throttling)
// the same model gave about 3 / 10 / 18 % 429s for 2 / 5 / 10 tills and a
// worst till of about 78 / 54 / 43 %; over 40 runs it now gives 0.8 / 1.9
// / 4.8 % and 91 / 72 / 76 %. Over the default 4 runs ten tills' 429s
// come to 4.3–5.1 % from run to run (goroutines on the fake clock still
// interleave differently), hence their bound of 5.5 %; the real daemons
// meet 4–5 % or more, which tools/bench measures against the target. For
// the same reason the worst of five tills comes to 59–69 %, hence its
// bound of 55 %. The worst of ten comes to 77 % over 4 runs (68 % with
// the close cuts of 1 − w/c that came before closeCut), hence 72 %.
func TestFleet_SharesOneKey(t *testing.T) {
	tests := []struct {
		tills        int
		minTogether  float64
		maxRefused   float64
		minWorstMean float64
	}{
		{1, 0.93, 0, 0.93},
		{2, 0.90, 0.02, 0.70},
		{5, 0.95, 0.04, 0.55},
		{10, 0.95, 0.055, 0.72},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d tills", tt.tills), func(t *testing.T) {
			var together, refused, worst float64
			n := float64(*fleetSeeds)
			for seed := range uint64(*fleetSeeds) {
				f := simulateFleet(t, seed, tt.tills, 4, 10, *fleetWindow, *fleetStagger)
				t.Logf("seed %d: together %.1f %%, worst till %.0f %% (per minute %.2f), 429s %.1f %%, taken %v",
					seed, 100*f.together, 100*f.worst, f.minutes, 100*f.refused, f.taken)
				together += f.together / n
				refused += f.refused / n
				worst += f.worst / n
			}
			t.Logf("mean: together %.1f %%, worst till %.0f %%, 429s %.1f %%", 100*together, 100*worst, 100*refused)
			if together < tt.minTogether || refused > tt.maxRefused || worst < tt.minWorstMean {
				t.Errorf("together %.3f, 429s %.3f, worst till %.3f; want ≥ %v, ≤ %v, ≥ %v",
					together, refused, worst, tt.minTogether, tt.maxRefused, tt.minWorstMean)
			}
		})
	}
}

// Tills that start one after another (after a clean stop each, up to
// 550 ms apart, as ten daemons come up on a small machine) meet a key the
// first have taken: the late ones' first answers are 429s, their share
// estimates small, and they stay low for the minute (docs/api.md). This
// is the adaptive rate's known weakness, not a target: the bounds keep a
// change from making it worse. Over 16 runs the model gives ten tills'
// worst 45–55 % of its share (mean 50 %) and 5.1 % 429s.
func TestFleet_StaggeredStart(t *testing.T) {
	var refused, worst float64
	n := float64(*fleetSeeds)
	for seed := range uint64(*fleetSeeds) {
		f := simulateFleet(t, seed, 10, 4, 10, *fleetWindow, 550*time.Millisecond)
		t.Logf("seed %d: together %.1f %%, worst till %.0f %%, 429s %.1f %%, taken %v", seed, 100*f.together, 100*f.worst, 100*f.refused, f.taken)
		refused += f.refused / n
		worst += f.worst / n
	}
	t.Logf("mean: worst till %.0f %%, 429s %.1f %%", 100*worst, 100*refused)
	if worst < 0.45 || refused > 0.06 {
		t.Errorf("worst till %.3f, 429s %.3f; want ≥ 0.45, ≤ 0.06", worst, refused)
	}
}

// Past the start the shares settle, and a till's share in a minute swings
// only with its own cuts: ten tills at the limit for three minutes, the
// worst till's share in the second and third, averaged over eight runs.
// Four runs of the test gave 73–75 % (69–70 % with the close cuts of
// 1 − w/c that came before closeCut, which pushed the tills that had
// estimated their share well below it; with the earlier rules still, a
// growth scaled by each till's first estimate of its share and cuts to
// 80 %, see aimdBeta, 64–65 %).
func TestFleet_SettlesInTheLongRun(t *testing.T) {
	const runs = 8
	var worst float64
	for seed := range uint64(runs) {
		f := simulateFleet(t, seed, 10, 4, 10, 3*time.Minute, 0)
		t.Logf("seed %d: worst till per minute %.2f, 429s %.1f %%, taken %v", seed, f.minutes, 100*f.refused, f.taken)
		for _, w := range f.minutes[1:] {
			worst += w / float64(runs*len(f.minutes[1:]))
		}
	}
	t.Logf("mean worst till in minutes 2 and 3: %.0f %%", 100*worst)
	if worst < 0.71 {
		t.Errorf("worst till in minutes 2 and 3: %.3f of its share; want ≥ 0.71", worst)
	}
}
