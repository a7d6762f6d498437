package control

import (
	"testing"
	"time"
)

// Pacing is the one line the page and `tillscan status` show; what is not
// happening (no pause, no shared limiter) is left out.
func TestAPIStatus_Pacing(t *testing.T) {
	until := time.Date(2026, 12, 4, 21, 50, 9, 0, time.Local)
	tests := []struct {
		name string
		api  APIStatus
		want string
	}{
		{"idle, no shared limiter", APIStatus{Rate: 9.6, RateLimit: 10, SharedLimiter: SharedLimiterOff},
			"9.6 req/s of 10 · 0 in flight"},
		{"busy, shared limiter ok", APIStatus{Rate: 9.6, RateLimit: 10, InFlight: 3, SharedLimiter: SharedLimiterOK},
			"9.6 req/s of 10 · 3 in flight · shared limiter ok"},
		{"rates rounded to a tenth", APIStatus{Rate: 0.67200004, RateLimit: 1000},
			"0.7 req/s of 1000 · 0 in flight"},
		{"after a 429", APIStatus{Rate: 0.7, RateLimit: 10, InFlight: 1, PausedUntil: until, PausedBy: 429,
			SharedLimiter: SharedLimiterUnreachable},
			"0.7 req/s of 10 · 1 in flight · waiting until 21:50:09 (HTTP 429) · shared limiter unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.api.Pacing(); got != tt.want {
				t.Errorf("Pacing() = %q\nwant        %q", got, tt.want)
			}
		})
	}
}
