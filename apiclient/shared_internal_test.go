package apiclient

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// schedule is a SharedLimiter on synctest's clock: it books one start per
// interval, at most ahead of the question, decided when the question
// arrives and answered delay later (the answer's way back).
type schedule struct {
	next                   time.Time // the next free start
	interval, ahead, delay time.Duration
	asks                   []time.Time
}

func (s *schedule) Reserve(context.Context, string) (time.Duration, bool, error) {
	now := time.Now()
	s.asks = append(s.asks, now)
	defer time.Sleep(s.delay)
	at := s.next
	if at.Before(now) {
		at = now
	}
	if at.Sub(now) > s.ahead {
		return at.Add(-s.ahead).Sub(now), false, nil
	}
	s.next = at.Add(s.interval)
	return at.Sub(now), true, nil
}

// A start waits for the shared limiter as it said, counted from the
// question, not an answer's time late (which lost every slot to a till
// whose own limiter's turn came at it): a booked start goes at its slot
// without asking again; told the schedule is full, the till asks again
// when told and then books.
func TestWait_SharedWaitCountsFromTheQuestion(t *testing.T) {
	tests := []struct {
		name  string
		ahead time.Duration // how far ahead the schedule books
		asks  []time.Duration
	}{
		{"booked", time.Second, []time.Duration{0}},
		{"full, then booked", 100 * time.Millisecond, []time.Duration{0, 200 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				s := &schedule{next: start.Add(300 * time.Millisecond), interval: 100 * time.Millisecond, ahead: tt.ahead, delay: 5 * time.Millisecond}
				c := testClient(t, Config{Shared: s, Handover: &Handover{Written: []time.Time{}}})
				// Bounded: a Client that asks again for every booking would
				// book on and on.
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				if _, err := c.waitSent(ctx); err != nil {
					t.Fatalf("no start within 2s: %v (asked at %v)", err, s.asks)
				}
				if got, want := time.Since(start), 300*time.Millisecond; got != want {
					t.Errorf("the start came %v after the first question; want %v (the booked slot)", got, want)
				}
				if len(s.asks) != len(tt.asks) {
					t.Fatalf("asked at %v; want at %v after the start", s.asks, tt.asks)
				}
				for i, at := range s.asks {
					if got := at.Sub(start); got != tt.asks[i] {
						t.Errorf("ask %d came %v after the start; want %v", i, got, tt.asks[i])
					}
				}
			})
		})
	}
}

// While the shared limiter paces the till, a 429 pauses it but leaves its
// rate to the schedule; once the till paces itself again (Redis
// unreachable) a 429 cuts its adaptive rate, as without a shared limiter.
func TestRateLimited_SharedScheduleKeepsTheRate(t *testing.T) {
	tests := []struct {
		state   SharedState
		wantCut bool
	}{
		{SharedOK, false},
		{SharedUnreachable, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			c := testClient(t, Config{Shared: &schedule{interval: 100 * time.Millisecond, ahead: time.Second}})
			c.mu.Lock()
			c.sharedState = tt.state
			c.mu.Unlock()
			before := c.Status().Rate
			now := time.Now()
			if d, _ := c.rateLimited(http.Header{}, now, 1); d < 0 {
				t.Fatalf("rateLimited paused for %v", d)
			}
			if got := c.Status().Rate; (got < before) != tt.wantCut {
				t.Errorf("rate %v after a 429, %v before; want a cut: %t", got, before, tt.wantCut)
			}
			c.mu.Lock()
			paused := c.pausedUntil.After(now)
			c.mu.Unlock()
			if !paused {
				t.Error("the 429 did not pause the till")
			}
		})
	}
}

// The cuts of a spell without the shared limiter pace the till only until
// the limiter answers again: then the schedule sets its share, and its own
// limiter is back at the configured pace.
func TestAskShared_BackOnTheScheduleLeavesTheFallbackRate(t *testing.T) {
	c := testClient(t, Config{Shared: &schedule{interval: 100 * time.Millisecond, ahead: time.Second}})
	c.mu.Lock()
	c.sharedState = SharedUnreachable
	c.repaceLocked(time.Now())
	c.mu.Unlock()
	full := c.Status().Rate
	c.rateLimited(http.Header{}, time.Now(), 1)
	if cut := c.Status().Rate; cut >= full {
		t.Fatalf("rate %v after a 429 without the shared limiter, %v before; want a cut", cut, full)
	}
	if _, booked := c.askShared(t.Context()); !booked {
		t.Fatal("the shared limiter did not book a start")
	}
	c.mu.Lock()
	state, limit := c.sharedState, float64(c.lim.Limit())
	c.mu.Unlock()
	if state != SharedOK {
		t.Fatalf("shared state %q after a booking; want %q", state, SharedOK)
	}
	if got := c.Status().Rate; got != full {
		t.Errorf("rate %v back on the schedule; want the configured pace %v", got, full)
	}
	if lo := full * (1 - spreadJitter/2); limit < lo {
		t.Errorf("the till's own limiter at %v/s back on the schedule; want the configured pace (%v/s, spread down to %v)", limit, full, lo)
	}
}
