package apiclient

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// near compares rates; the fake clock has nanosecond steps.
func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// The curve's arithmetic, step by step on a fake clock.
func TestCubic(t *testing.T) {
	k := math.Cbrt(9.6 * 0.3 / cubicC) // seconds back to 9.6 after a cut from 9.6
	type step struct {
		at       float64 // seconds after t0
		throttle bool
		sent     float64 // for a throttle
		want     float64
	}
	tests := []struct {
		name    string
		ceiling float64
		steps   []step
	}{
		{"stays at the ceiling until a 429", 9.6, []step{{0, false, 0, 9.6}, {100, false, 0, 9.6}}},
		{"cut from the rate in use, then the curve", 20, []step{
			{1, true, 9.6, 9.6 * 0.7}, // sending 9.6/s: cut from 9.6, not from the ceiling
			{1, false, 0, 9.6 * 0.7},  // an answer at the cut: still β·W
			{1 + k/2, false, 0, 9.6 - cubicC*math.Pow(k/2, 3)},
			{1 + k, false, 0, 9.6},                 // back at W after K
			{1 + k + 1, false, 0, 9.6 + cubicC},    // probing above W
			{1 + k + 2, false, 0, 9.6 + cubicC*8},  // faster and faster
			{1 + k + 30, false, 0, 20},             // up to the ceiling, never beyond
			{1 + k + 40, true, 0, 20 * 0.7},        // sent rate unknown, few answers lately: cut from the rate
			{1 + k + 40, true, 25, 20 * 0.7 * 0.7}, // a sent rate above the rate does not raise W
		}},
		// Tills sharing a token bucket all send fast while most of their
		// requests are refused: W is what the server took, not what was sent.
		{"cut from the accepted rate", 20, []step{
			{0, false, 0, 20}, {0.5, false, 0, 20}, {1, false, 0, 20}, {1.5, false, 0, 20}, // 2/s taken
			{2, true, 9.6, 1.5 * 0.7}, // the last 2 s hold 3 answers (the one at 0 is older): 1.5/s
		}},
		{"never below the floor", 9.6, []step{
			{0, true, 0, 9.6 * 0.7}, {0, true, 0, 9.6 * 0.49}, {0, true, 0.6, 0.5}, {0, true, 0, 0.5}, {0.1, false, 0, 0.5},
		}},
		{"a ceiling under the floor", 0.2, []step{{0, true, 0, 0.2}, {50, false, 0, 0.2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCubic(tt.ceiling)
			for i, s := range tt.steps {
				var got float64
				if s.throttle {
					got = c.throttled(at(s.at), s.sent)
				} else {
					got = c.answered(at(s.at))
				}
				if !near(got, s.want) || !near(c.rate, got) {
					t.Fatalf("step %d (%+v): rate = %v; want %v", i, s, got, s.want)
				}
			}
		})
	}
}

// After a cut the rate never falls while answers come in, and it reaches
// the ceiling within a bounded time.
func TestCubic_Monotone(t *testing.T) {
	c := newCubic(9.6)
	c.throttled(t0, 0)
	prev := c.rate
	for ms := 0; ms <= 10_000; ms += 10 {
		r := c.answered(at(float64(ms) / 1000))
		if r < prev-1e-12 {
			t.Fatalf("rate fell from %v to %v at %dms", prev, r, ms)
		}
		prev = r
	}
	if prev != 9.6 {
		t.Errorf("rate after 10s = %v; want back at the ceiling 9.6", prev)
	}
}

func TestWindowRate(t *testing.T) {
	tests := []struct {
		name   string
		starts []float64 // seconds after t0
		now    float64
		want   float64
	}{
		{"none", nil, 0, 0},
		{"one start", []float64{0.5}, 0.6, 1 / 1.25},
		{"steady 10/s", []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}, 0.95, 10},
		{"a burst after an idle while", []float64{0, 0.1, 0.2, 600, 600.1, 600.2}, 600.25, 10},
		{"all at once", []float64{3, 3, 3}, 3, 3 / 1.25},
		{"all too old", []float64{0, 0.1}, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(8, 6.4) // 8 starts per 1.25 s
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
// congestion event, shifts a Retry-After pause, grows back with answers;
// without it, the rate and the pauses are as before.
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
	var seq uint64
	for i := range 10 { // sending at 5/s
		seq = c.starts.add(at(float64(i) * 0.2))
	}
	now := at(1.85)
	d, _ := c.rateLimited(ra, now, seq)
	if r := c.Status().Rate; !near(r, 3.5) {
		t.Errorf("rate after a 429 while sending 5/s = %v; want 3.5", r)
	}
	if want := 2*time.Second + time.Duration(0.5/c.Status().Rate*float64(time.Second)); d != want {
		t.Errorf("pause = %v; want Retry-After plus half an interval, %v", d, want)
	}
	c.rateLimited(ra, now, seq-3) // in flight with it: the same event
	if r := c.Status().Rate; !near(r, 3.5) {
		t.Errorf("rate after a second 429 of the same event = %v; want still 3.5", r)
	}
	k := math.Cbrt(5 * 0.3 / cubicC)
	c.answered(now.Add(time.Duration(k * float64(time.Second))))
	if r := c.Status().Rate; !near(r, 5) {
		t.Errorf("rate K after the cut = %v; want back at 5", r)
	}
	seq = c.starts.add(at(20))
	c.rateLimited(http.Header{"Retry-After": {"3600"}}, at(20), seq) // a new event, Retry-After over the cap
	if d, _ := c.rateLimited(http.Header{"Retry-After": {"60"}}, at(20), seq); d != c.retryAfterCap {
		t.Errorf("pause = %v; want the jitter kept within the cap %v", d, c.retryAfterCap)
	}
	c.answered(at(100))
	if r := c.Status().Rate; r != 10 {
		t.Errorf("rate long after = %v; want the ceiling 10", r)
	}
}
