package apiclient

import (
	"math"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		accepted, refused int           // answers, spread over the 10 s before at
		at                time.Duration // when the probability is read, after t0
		want              float64
	}{
		{"no answers yet", 0, 0, 10 * time.Second, 0},
		{"a till alone, one 429 in a hundred", 99, 1, 10 * time.Second, 0},
		{"at K: 103 requests for 100 accepted", 100, 3, 10 * time.Second, 0},
		{"half refused", 50, 50, 10 * time.Second, (100 - throttleK*50) / 101},
		{"all refused", 0, 20, 10 * time.Second, 20.0 / 21},
		{"forgotten after the span", 0, 20, 10*time.Second + throttleSpan, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newThrottle()
			n := tt.accepted + tt.refused
			for i := range n {
				at := t0.Add(time.Duration(i) * 10 * time.Second / time.Duration(n))
				th.answered(at, i < tt.accepted)
			}
			if got := th.rejectProbability(t0.Add(tt.at)); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("rejectProbability = %v, want %v", got, tt.want)
			}
		})
	}
}

// Starts given up are not counted: a throttled till would otherwise keep
// raising its own probability while its share of 429s is what every till
// behind the same bucket meets.
func TestThrottle_SkipDoesNotCount(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	th := newThrottle()
	for range 50 {
		th.answered(t0, false)
	}
	for range 50 {
		th.answered(t0, true)
	}
	before := th.rejectProbability(t0)
	if !th.skip(t0, 0) {
		t.Fatalf("skip with r=0 at probability %v = false", before)
	}
	if after := th.rejectProbability(t0); after != before {
		t.Errorf("probability %v after a start given up, want it unchanged (%v)", after, before)
	}
	if th.skip(t0, 0.999) {
		t.Error("skip with r above the probability = true")
	}
}
