package apiclient

import (
	"math"
	"net/http"
	"testing"
	"time"
)

// Status.Throttled is the client-side throttle's share of starts given up
// at the moment asked: the rule over the answers the Client recorded, 0
// without an adaptive rate however many 429s came.
func TestStatus_Throttled(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		adaptive          bool
		accepted, refused int           // answers at t0, accepted first
		at                time.Duration // when Status is read, after t0
		want              float64
	}{
		{"fixed rate, every answer a 429", false, 0, 20, 0, 0},
		{"adaptive, no answers yet", true, 0, 0, 0, 0},
		{"adaptive, every answer accepted", true, 30, 0, 0, 0},
		{"adaptive, half refused", true, 50, 50, 0, (100 - throttleK*50) / 101},
		{"adaptive, every answer a 429", true, 0, 20, 0, 20.0 / 21},
		{"adaptive, the 429s forgotten", true, 0, 20, throttleSpan, 0},
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
			st := c.statusAt(t0.Add(tt.at))
			if math.Abs(st.Throttled-tt.want) > 1e-9 {
				t.Errorf("Throttled = %v, want %v", st.Throttled, tt.want)
			}
			if st.RateLimit != 10 {
				t.Errorf("RateLimit = %v, want the configured 10", st.RateLimit)
			}
		})
	}
}
