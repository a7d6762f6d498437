package apiclient

import (
	"math"
	"net/http"
	"testing"
	"time"
)

// Status.Rate is the pace now: the configured one at a fixed rate however
// many 429s came; with an adaptive rate, what the 429s left of it.
// RateLimit is the configured ceiling either way.
func TestStatus_Rate(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		adaptive          bool
		accepted, refused int // answers at t0, accepted first
		want              float64
	}{
		{"fixed rate, every answer a 429", false, 0, 20, 10},
		{"adaptive, no answers yet", true, 0, 0, 10},
		{"adaptive, every answer accepted", true, 30, 0, 10},
		{"adaptive, one 429 after 30 answers: its share", true, 30, 1, 10 * 30.0 / 40},
		{"adaptive, every answer a 429: the floor", true, 0, 20, minAdaptiveRate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClient(t, Config{RateLimit: 10, Adaptive: tt.adaptive})
			for range tt.accepted {
				c.answered(t0)
			}
			for i := range tt.refused {
				c.rateLimited(http.Header{}, t0, uint64(i+1))
			}
			st := c.Status()
			if math.Abs(st.Rate-tt.want) > 1e-9 || st.RateLimit != 10 {
				t.Errorf("Rate %v, RateLimit %v; want %v and the configured 10", st.Rate, st.RateLimit, tt.want)
			}
		})
	}
}
