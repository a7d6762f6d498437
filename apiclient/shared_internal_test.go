package apiclient

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// schedule is a SharedLimiter on synctest's clock: one start per
// interval, decided when the question arrives, answered delay later (the
// answer's way back).
type schedule struct {
	next            time.Time
	interval, delay time.Duration
	asks            []time.Time
}

func (s *schedule) Reserve(context.Context, string) (time.Duration, error) {
	now := time.Now()
	s.asks = append(s.asks, now)
	var d time.Duration
	if now.Before(s.next) {
		d = s.next.Sub(now)
	} else {
		s.next = now.Add(s.interval)
	}
	time.Sleep(s.delay)
	return d, nil
}

// A start the shared limiter deferred asks again when the limiter said,
// counted from the question: not an answer's time late, which lost every
// slot to a till whose own limiter's turn came at it.
func TestWait_SharedWaitCountsFromTheQuestion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := &schedule{next: start.Add(300 * time.Millisecond), interval: 100 * time.Millisecond, delay: 5 * time.Millisecond}
		c := testClient(t, Config{Shared: s, Handover: &Handover{Written: []time.Time{}}})
		if _, err := c.waitSent(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 300 * time.Millisecond}
		if len(s.asks) != len(want) {
			t.Fatalf("asked at %v; want at %v after the start", s.asks, want)
		}
		for i, at := range s.asks {
			if got := at.Sub(start); got != want[i] {
				t.Errorf("ask %d came %v after the start; want %v", i, got, want[i])
			}
		}
	})
}
