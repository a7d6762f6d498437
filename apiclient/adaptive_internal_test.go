package apiclient

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// near compares rates; the fake clock has nanosecond steps.
func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// The adaptive rate's arithmetic, step by step on a fake clock.
func TestAIMD(t *testing.T) {
	type step struct {
		at       float64 // seconds after t0
		throttle bool
		sent     float64 // for a throttle
		want     float64
	}
	answers := func(from, to, every float64, want func(s float64) float64) []step {
		var st []step
		for s := from; s <= to+1e-9; s += every {
			st = append(st, step{s, false, 0, want(s)})
		}
		return st
	}
	tests := []struct {
		name    string
		ceiling float64
		steps   []step
	}{
		{"stays at the ceiling until a 429", 9.6, []step{{0, false, 0, 9.6}, {100, false, 0, 9.6}}},
		// share(k) = c·k/(k + c): 10 answers at 9.6 is the share of 2 tills.
		{"a first 429 after few answers: straight to the share", 9.6, append(
			answers(0, 0.9, 0.1, func(float64) float64 { return 9.6 }),
			step{1, true, 9.6, 9.6 * 10 / 19.6},
			step{3, false, 0, 9.6*10/19.6 + 2*aimdIncrease}, // then the slow climb
		)},
		{"no answer before it: the floor", 9.6, []step{{0, true, 9.6, minAdaptiveRate}}},
		// closeAnswers (10) answers between the cuts, so none is close.
		{"later 429s cut by β, from what was sent", 20, slices.Concat(
			answers(0, 2.9, 0.1, func(float64) float64 { return 20 }), // 30 answers: share 20·30/50
			[]step{{3, true, 0, 12}},
			answers(3.1, 4, 0.1, func(s float64) float64 { return 12 + (s-3)*aimdIncrease }), // a pair's share: aimdIncrease
			[]step{{4, true, 0, (12 + aimdIncrease) * aimdBeta}},
			answers(4.1, 5, 0.1, func(s float64) float64 { return (12+aimdIncrease)*aimdBeta + (s-4)*aimdIncrease }),
			[]step{
				{5, true, 5, 5 * aimdBeta}, // sending 5/s: cut from that
				{8, false, 0, 5*aimdBeta + 3*aimdIncrease},
			},
		)},
		// 7 answers, then a 429: share 10·10·7/(10·7 + 10·10) = 70/17.
		// 429s right after it are close: a till sending the part x of
		// the key keeps 1 − 5x², at least 40 %.
		{"close 429s: the till sending most gives back most", 10, slices.Concat(
			answers(0, 0.6, 0.1, func(float64) float64 { return 10 }),
			[]step{
				{0.7, true, 10, 70.0 / 17},
				{0.8, true, 0, 70.0 / 17 * closeKeep}, // 41 % of the key: 1 − 5x² is under closeKeep
				{0.9, true, 1, 1 * 0.95},              // sending 1/s, a tenth: keeps 95 %
				{1.0, true, 0.4, minAdaptiveRate},     // never below the floor
			},
		)},
		// 10 answers, then a 429: share 5, half the key, over closeShare:
		// a close 429 cuts by β.
		{"close 429s at half the key: β", 10, slices.Concat(
			answers(0, 0.9, 0.1, func(float64) float64 { return 10 }),
			[]step{{1, true, 10, 5}, {1.1, true, 0, 5 * aimdBeta}},
		)},
		// A pair's till stays one of a pair for the episode: the β cuts
		// that take it under closeShare do not make its close 429s cut
		// by closeCut·x² (with cuts by x, measured with real daemons:
		// 4.72 → 4.25 → 2.39 → … → 1.09/s within three seconds while the
		// other till, never refused, kept 8/s).
		{"close 429s after a pair's first cut: β", 10, slices.Concat(
			answers(0, 0.9, 0.1, func(float64) float64 { return 10 }),
			[]step{
				{1, true, 10, 5},
				{1.1, true, 0, 5 * aimdBeta},
				{1.2, true, 0, 5 * aimdBeta * aimdBeta}, // 4.05/s: under closeShare now
			},
		)},
		// A till alone at full speed for a while: a stray 429, the usual
		// cut and a fast climb back (recoverIncrease), then the slow one.
		{"a stray 429 alone", 9.6, append(append(
			answers(0, 60, 0.1, func(float64) float64 { return 9.6 }),
			step{60, true, 9.6, 9.6 * aimdBeta}),
			step{62, false, 0, 9.6*aimdBeta + 2*recoverIncrease},
			step{80, false, 0, 9.6},
		)},
		{"a second 429 within quietSpan is not a first", 9.6, append(
			answers(0, 60, 0.1, func(float64) float64 { return 9.6 }),
			step{60, true, 9.6, 9.6 * aimdBeta},
			step{61, true, 0, 9.6 * aimdBeta * aimdBeta}, // no fast climb after it
			step{71, false, 0, 9.6*aimdBeta*aimdBeta + 10*aimdIncrease},
		)},
		{"a ceiling under the floor", 0.2, []step{{0, true, 0, 0.2}, {50, false, 0, 0.2}}},
		// k = 10 answers while sending 5/s (the soft start, or slow
		// answers): share = L·r·k/(L·k + r·B) with L = 10, B = 10.
		{"the share from the rate sent", 10, append(
			answers(0, 1.8, 0.2, func(float64) float64 { return 10 }),
			step{2, true, 5, 10.0 * 5 * 10 / (10*10 + 5*10)},
		)},
		// One answer, then a 429: the share of about ten tills, 0.91/s,
		// grows by fleetIncrease until quietSpan has passed without a
		// 429, then by aimdIncrease.
		{"growth: a fleet's till", 10, []step{
			{0, false, 0, 10},
			{0.1, true, 10, 10.0 / 11},
			{10.1, false, 0, 10.0/11 + 10*fleetIncrease},
			{60, false, 0, 10.0/11 + 59.9*fleetIncrease},
			{70.1, false, 0, 10.0/11 + 59.9*fleetIncrease + 10.1*aimdIncrease},
		}},
		// Ten answers, then a 429: a pair's share, 5/s, more than
		// closeShare of the key: aimdIncrease. Two to four answers
		// (1.67 to 2.86/s, more than midShare): midIncrease, also after
		// a later cut of the episode took it below midShare.
		{"growth: a pair's till", 10, slices.Concat(
			answers(0, 0.9, 0.1, func(float64) float64 { return 10 }),
			[]step{{1, true, 10, 5}, {11, false, 0, 5 + 10*aimdIncrease}},
		)},
		{"growth: a till of three to five", 10, slices.Concat(
			answers(0, 0.3, 0.1, func(float64) float64 { return 10 }),
			[]step{{0.4, true, 10, 40.0 / 14}, {10.4, false, 0, 40.0/14 + 10*midIncrease}},
		)},
		// A till of a few grows by midIncrease for the first minute of
		// its episode, then by fleetIncrease as a fleet's till does.
		{"growth: a till of a few after the episode's first minute", 10, slices.Concat(
			[]step{{0, false, 0, 10}, {0.1, false, 0, 10}, {0.2, true, 10, 20.0 / 12}},
			answers(1.2, 29.2, 1, func(s float64) float64 { return 20.0/12 + (s-0.2)*midIncrease }),
			[]step{{30.2, true, 0, (20.0/12 + 29*midIncrease) * aimdBeta}},
			answers(31.2, 59.2, 1, func(s float64) float64 { return (20.0/12+29*midIncrease)*aimdBeta + (s-30.2)*midIncrease }),
			[]step{{70.2, false, 0, (20.0/12+29*midIncrease)*aimdBeta + 29*midIncrease + 11*fleetIncrease}},
		)},
		{"growth: two answers, then cut close", 10, []step{
			{0, false, 0, 10},
			{0.1, false, 0, 10},
			{0.2, true, 10, 20.0 / 12},
			{0.3, true, 0, 20.0 / 12 * (1 - closeCut/36.0)}, // a sixth of the key
			{10.3, false, 0, 20.0/12*(1-closeCut/36.0) + 10*midIncrease},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAIMD(tt.ceiling)
			for i, s := range tt.steps {
				var got float64
				if s.throttle {
					got = a.throttled(at(s.at), s.sent)
				} else {
					got = a.answered(at(s.at))
				}
				if !near(got, s.want) || !near(a.rate, got) {
					t.Fatalf("step %d (%+v): rate = %v; want %v", i, s, got, s.want)
				}
			}
		})
	}
}

// The growth classes part a fleet by what its tills' first cuts left
// them: one answer before the 429 (a share of many), two to four, a pair's.
func TestGrowthClass(t *testing.T) {
	if !(fleetIncrease < midIncrease && midIncrease < aimdIncrease) {
		t.Fatalf("growths %v, %v, %v; want them rising", fleetIncrease, midIncrease, aimdIncrease)
	}
	a := newAIMD(9.7)
	tests := []struct {
		name  string
		taken int
		sent  float64
		want  float64
	}{
		{"one answer at the ceiling", 1, 9.7, fleetIncrease},
		{"one answer in the soft start", 1, 5, fleetIncrease},
		{"two answers at the ceiling", 2, 9.7, midIncrease},
		{"two answers at half the ceiling", 2, 4, midIncrease},
		{"four answers", 4, 9.7, midIncrease},
		{"a pair's ten answers", 10, 9.7, aimdIncrease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			part := a.share(tt.taken, tt.sent) / a.ceiling
			if got := growthClass(part); got != tt.want {
				t.Errorf("share %.1f %% of the ceiling: growth %v; want %v", 100*part, got, tt.want)
			}
		})
	}
}

// After a cut the rate never falls while answers come in, and it climbs
// up to the ceiling, never beyond: from the floor of 0.5 to 2 in 60 s at
// fleetIncrease and then at aimdIncrease.
func TestAIMD_Climbs(t *testing.T) {
	a := newAIMD(2)
	a.throttled(t0, 0)
	prev := a.rate
	end := quietSpan.Seconds() + 1.5/aimdIncrease
	for s := 0; s <= int(end); s++ {
		r := a.answered(at(float64(s)))
		if r < prev-1e-12 || r > 2 {
			t.Fatalf("rate went from %v to %v at %ds", prev, r, s)
		}
		prev = r
	}
	if prev != 2 {
		t.Errorf("rate after %vs = %v; want back at the ceiling 2", end, prev)
	}
}

// The soft start ends with softStarts starts or a 429; answers do not
// count (at a long answer time few have come).
func TestAIMD_Soft(t *testing.T) {
	a := newAIMD(10)
	if !a.soft() {
		t.Fatal("a new rate: want a soft start")
	}
	for range 2 * softStarts {
		a.answered(at(0))
	}
	for range softStarts - 1 {
		a.start()
	}
	if !a.soft() {
		t.Errorf("soft after %d starts = false; want true", softStarts-1)
	}
	if a.start(); a.soft() {
		t.Errorf("soft after %d starts = true; want false", softStarts)
	}
	b := newAIMD(10)
	b.throttled(at(0.5), 10)
	if b.soft() {
		t.Error("soft after a 429 = true; want the soft start over")
	}
}

func TestWindowRate(t *testing.T) {
	const span = 1 + gapMargin // 8 starts per 1.015 s: the server's second and the margin (under the 1.25 s paced)
	tests := []struct {
		name   string
		starts []float64 // seconds after t0
		now    float64
		want   float64
	}{
		{"none", nil, 0, 0},
		{"one start", []float64{0.5}, 0.6, 1 / span},
		{"steady 10/s", []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, 0.95, 10},
		{"a burst after an idle while", []float64{0, 0.1, 0.2, 600, 600.1, 600.2}, 600.25, 10},
		{"all at once", []float64{3, 3, 3}, 3, 3 / span},
		{"all too old", []float64{0, 0.1}, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(8, 6.4)
			for _, s := range tt.starts {
				w.add(at(s))
			}
			if got := w.rate(at(tt.now)); !near(got, tt.want) {
				t.Errorf("rate() = %v; want %v", got, tt.want)
			}
		})
	}
}

// The Client with Config.Adaptive: waits a window at start, cuts once per
// congestion event, shifts a Retry-After pause, pauses one interval at
// most without it, grows back with answers; without it, the rate and the
// pauses are as before.
func TestClient_Adaptive(t *testing.T) {
	newC := func(adaptive bool) *Client {
		c, err := New(Config{BaseURL: "http://127.0.0.1:1/api/v2", APIKey: "k", RateLimit: 10, Headroom: -1, Adaptive: adaptive}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		c.jitter = func() float64 { return 0.5 }
		return c
	}
	ra := http.Header{"Retry-After": {"2"}}

	fixed := newC(false)
	if d := fixed.starts.delay(time.Now()); d != 0 {
		t.Errorf("fixed rate: first request waits %v; want 0", d)
	}
	if d, _ := fixed.rateLimited(ra, t0, 1); d != 2*time.Second || fixed.Status().Rate != 10 {
		t.Errorf("fixed rate: pause %v, rate %v after a 429; want 2s and 10", d, fixed.Status().Rate)
	}

	before := time.Now()
	c := newC(true)
	if d := c.starts.delay(before); d < time.Second {
		t.Errorf("adaptive: first request may start %v after New; want one window (1s) or more", d)
	}
	c.starts = newWindow(10, 10) // a clean history on the fake clock
	for range 100 {              // a while alone: its share is the whole key
		c.answered(at(0))
	}
	var seq uint64
	for i := range 10 { // sending at 4/s
		seq = c.starts.add(at(float64(i) * 0.25))
	}
	now := at(2.3)
	d, _ := c.rateLimited(ra, now, seq)
	if r := c.Status().Rate; !near(r, 4*aimdBeta) {
		t.Errorf("rate after a 429 while sending 4/s = %v; want %v", r, 4*aimdBeta)
	}
	if want := 2*time.Second + time.Duration(0.5/c.Status().Rate*float64(time.Second)); d != want {
		t.Errorf("pause = %v; want Retry-After plus half an interval, %v", d, want)
	}
	c.rateLimited(ra, now, seq-3) // in flight with it: the same event
	if r := c.Status().Rate; !near(r, 4*aimdBeta) {
		t.Errorf("rate after a second 429 of the same event = %v; want still %v", r, 4*aimdBeta)
	}
	c.answered(now.Add(10 * time.Second))
	// 3.6/s of 10, under closeShare of the key and over midShare: the
	// growth of a till of a few.
	if r, want := c.Status().Rate, 4*aimdBeta+10*midIncrease; !near(r, want) {
		t.Errorf("rate 10s after the cut = %v; want %v", r, want)
	}
	if d, _ := c.rateLimited(http.Header{}, at(20), c.starts.add(at(20))); !near(d.Seconds(), 0.5/c.Status().Rate) {
		t.Errorf("pause without Retry-After = %v; want half an interval at %v/s", d, c.Status().Rate)
	}
	seq = c.starts.add(at(21))
	if d, over := c.rateLimited(http.Header{"Retry-After": {"3600"}}, at(21), seq); !over || d != c.retryAfterCap {
		t.Errorf("Retry-After 3600: pause = %v, over the cap %v; want the cap %v, true", d, over, c.retryAfterCap)
	}
	if d, _ := c.rateLimited(http.Header{"Retry-After": {"60"}}, at(21), seq); d != c.retryAfterCap {
		t.Errorf("pause = %v; want the jitter kept within the cap %v", d, c.retryAfterCap)
	}
	c.answered(at(5000))
	if r := c.Status().Rate; r != 10 {
		t.Errorf("rate long after = %v; want the ceiling 10", r)
	}
}

// The soft start: an adaptive Client adds a random part of one paced
// interval (here half of softJitter) to each start that waited for the
// limiter, softStarts of them, then keeps the plain interval (no answer
// comes here: a slow API does not make the soft start longer);
// a start whose token was ready (a till at a cashier's pace) and a
// fixed-rate Client never wait more. With the default headroom the paced
// interval (103.1 ms) is longer than the least gap between two starts
// (101.5 ms): the jitter is a part of the pace's, and the start after a
// jittered one, whose token is due by then, follows it by the gap.
func TestWait_SoftStart(t *testing.T) {
	for _, adaptive := range []bool{true, false} {
		t.Run(fmt.Sprintf("adaptive %v", adaptive), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := testClient(t, Config{Adaptive: adaptive, Headroom: DefaultHeadroom})
				c.jitter = func() float64 { return 0.5 }
				paced := 10 * (1 - DefaultHeadroom)
				interval := time.Duration(float64(time.Second) / paced)
				soft := c.starts.gap + time.Duration(0.5*softJitter*float64(interval))
				prev := time.Time{}
				for i := range softStarts + 5 {
					if _, err := c.waitSent(t.Context()); err != nil {
						t.Fatal(err)
					}
					now := time.Now()
					want := interval
					switch {
					case adaptive && i < softStarts:
						want = soft
					case adaptive && i == softStarts: // after the last jittered one
						want = c.starts.gap
					}
					if got := now.Sub(prev); i > 0 && (got < want-time.Microsecond || got > want+time.Microsecond) { // the limiter rounds to the nanosecond
						t.Errorf("start %d came %v after the one before; want %v", i, got, want)
					}
					prev = now
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{Adaptive: true})
		c.jitter = func() float64 { return 0.5 }
		time.Sleep(2 * time.Second) // past the restart window: the token is ready
		before := time.Now()
		if _, err := c.waitSent(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(before); d != 0 {
			t.Errorf("an idle till's start waited %v; want no wait", d)
		}
		// A till at a cashier's pace: its starts end the soft start too,
		// though none waited; the next that waits is not jittered.
		for range softStarts - 1 {
			time.Sleep(time.Second)
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		before = time.Now()
		if _, err := c.waitSent(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(before); d != c.starts.gap {
			t.Errorf("a start right after the %dth waited %v; want the gap %v, no jitter", softStarts, d, c.starts.gap)
		}
	})
	// A new card: its action's turn comes 3 ms after the look-up's answer
	// (100 ms), and it waits those 3 ms, not a jitter more.
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{Adaptive: true, Headroom: DefaultHeadroom})
		c.jitter = func() float64 { return 0.5 }
		time.Sleep(2 * time.Second) // past the restart window: the token is ready
		if _, err := c.waitSent(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		before := time.Now()
		if _, err := c.waitSent(t.Context()); err != nil {
			t.Fatal(err)
		}
		paced := 10 * (1 - DefaultHeadroom)
		interval := time.Duration(float64(time.Second) / paced)
		if d, want := time.Since(before), interval-100*time.Millisecond; d < want-time.Microsecond || d > want+time.Microsecond {
			t.Errorf("a new card's action waited %v; want the rest of the interval, %v", d, want)
		}
	})
}
