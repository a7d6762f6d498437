package sandbox_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestRateLimit drives the per-key window with the injected clock: each
// step advances the clock by gap, then sends a GET.
func TestRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		limit   float64
		gaps    []time.Duration // before each request
		want429 []int           // indexes of requests answered 429
	}{
		{"burst of 11 at once", 10, repeat(0, 11), []int{10}},
		{"burst of 12 at once", 10, repeat(0, 12), []int{10, 11}},
		{"evenly at exactly 10/s for 3 s", 10, repeat(100*time.Millisecond, 30), nil},
		{"11 within 999 ms", 10, append([]time.Duration{0}, repeat(99*time.Millisecond+900*time.Microsecond, 10)...), []int{10}},
		{"burst of 10, then the 11th 1 s after the first", 10, append(repeat(0, 10), time.Second), nil},
		{"refused requests do not extend the window", 10,
			append(append(repeat(0, 10), 500*time.Millisecond, 499*time.Millisecond), time.Millisecond), []int{10, 11}},
		{"2.5/s allows 3 per 1.2 s", 2.5, []time.Duration{0, 0, 0, 0, 1200 * time.Millisecond}, []int{3}},
		{"unlimited", -1, repeat(0, 50), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sandbox.Options{RateLimit: tt.limit})
			var got []int
			for i, gap := range tt.gaps {
				s.clk.Add(gap)
				r := s.req("GET", "/templates", nil)
				switch r.status {
				case http.StatusOK:
				case http.StatusTooManyRequests:
					r.fail(t, http.StatusTooManyRequests, "Too many requests")
					got = append(got, i)
				default:
					t.Fatalf("request %d: status %d (%s)", i, r.status, r.body)
				}
			}
			if !slices.Equal(got, tt.want429) {
				t.Errorf("429 at requests %v, want %v", got, tt.want429)
			}
			st := s.API.Stats()
			if st.RateLimited != len(tt.want429) || st.Requests != len(tt.gaps) {
				t.Errorf("Stats = %d requests, %d rate limited; want %d, %d", st.Requests, st.RateLimited, len(tt.gaps), len(tt.want429))
			}
		})
	}
}

// TestRateLimit_PerKey checks that each key has its own window and that
// unauthenticated requests (401) use none.
func TestRateLimit_PerKey(t *testing.T) {
	s := newServer(t, sandbox.Options{APIKeys: []string{"key-a", "key-b"}, RateLimit: 2})
	for range 5 {
		s.reqKey("wrong", "GET", "/templates", nil).fail(t, http.StatusUnauthorized, "")
		s.reqKey("", "GET", "/templates", nil).fail(t, http.StatusUnauthorized, "")
	}
	for _, key := range []string{"key-a", "key-b"} {
		s.reqKey(key, "GET", "/templates", nil).ok(t, nil)
		s.reqKey(key, "GET", "/templates", nil).ok(t, nil)
		s.reqKey(key, "GET", "/templates", nil).fail(t, http.StatusTooManyRequests, "")
	}
	if st := s.API.Stats(); st.Requests != 16 || st.RateLimited != 2 {
		t.Errorf("Stats = %+v, want 16 requests and 2 rate limited", st)
	}
}

// TestRateLimit_RetryAfter checks the optional Retry-After header.
func TestRateLimit_RetryAfter(t *testing.T) {
	tests := []struct{ name, value string }{
		{"none by default", ""},
		{"seconds", "2"},
		{"http-date", "Wed, 25 Nov 2026 10:00:03 GMT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sandbox.Options{RateLimit: 1})
			s.API.SetFaults(sandbox.Faults{RetryAfter: tt.value})
			s.req("GET", "/templates", nil).ok(t, nil)
			r := s.req("GET", "/templates", nil)
			r.fail(t, http.StatusTooManyRequests, "")
			if got := r.header.Get("Retry-After"); got != tt.value {
				t.Errorf("Retry-After = %q, want %q", got, tt.value)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
