package apiclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// Below the ceiling each interval between paced starts is drawn around
// the pace (see spreadJitter): 1 ± 0.15 of it at 5/s against a 10/s
// limit, a sliver at the ceiling (where an interval may not come below
// the server's own), and the starts keep the pace on average.
func TestSpread_Intervals(t *testing.T) {
	tests := []struct {
		headroom float64
		draws    []float64 // the jitter's draws, in turn
		want     []time.Duration
	}{
		{0.5, []float64{0, 1, 0.5, 0.25}, []time.Duration{170 * time.Millisecond, 230 * time.Millisecond, 200 * time.Millisecond, 185 * time.Millisecond}},
		// At 9.7/s the paced interval (103.09 ms) leaves next to no room
		// over the server's interval and twice gapMargin (103.02 ms).
		{DefaultHeadroom, []float64{0, 1}, []time.Duration{103_022_500, 103_163_100}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("headroom %v", tt.headroom), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := testClient(t, Config{Headroom: tt.headroom})
				i := 0
				c.jitter = func() float64 { i++; return tt.draws[(i-1)%len(tt.draws)] }
				if _, err := c.waitSent(t.Context()); err != nil {
					t.Fatal(err)
				}
				prev := time.Now()
				for k, want := range tt.want {
					if _, err := c.waitSent(t.Context()); err != nil {
						t.Fatal(err)
					}
					if got := time.Since(prev); got < want-time.Microsecond || got > want+time.Microsecond {
						t.Errorf("interval %d = %v; want %v", k, got, want)
					}
					if got := time.Since(prev); got < c.starts.gap {
						t.Errorf("interval %d = %v, under the server's %v", k, got, c.starts.gap)
					}
					prev = time.Now()
				}
				if r := c.Status().Rate; r != 10*(1-tt.headroom) {
					t.Errorf("Status().Rate = %v; want the pace %v, not this interval's", r, 10*(1-tt.headroom))
				}
			})
		})
	}
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{Headroom: 0.5})
		c.jitter = rand.New(rand.NewPCG(1, 2)).Float64
		start := time.Now()
		const n = 1000
		for range n + 1 {
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := time.Since(start).Seconds()/n, 0.2; got < want*0.99 || got > want*1.01 {
			t.Errorf("mean interval over %d starts = %.4f s; want the pace's %v s", n, got, want)
		}
	})
}

// Tills that send at steady rates share the key's refusals only if their
// starts do not keep one phase against each other: five Clients paced at
// 2.05/s each through the model of nginx limit_req (10/s, burst 10) for
// ten minutes. Each should see its part of the refusals; with the
// intervals exact, they fell on one or two tills.
func TestSpread_SharesTheRefusals(t *testing.T) {
	const tills = 5
	var l *limitReq
	synctest.Test(t, func(t *testing.T) {
		api, err := sandbox.New(sandbox.Options{RateLimit: -1})
		if err != nil {
			t.Fatal(err)
		}
		l = newLimitReq(10, 10, tills)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for i := range tills {
			c := tillClient(t, l, api, i, 7, Config{Headroom: 1 - 0.205, Tries: 1})
			wg.Go(func() {
				sleep(ctx, time.Duration(i)*37*time.Millisecond)
				backlog(ctx, c)
			})
		}
		wg.Wait()
	})
	var refused int
	for _, n := range l.refused {
		refused += n
	}
	t.Logf("refused per till %v, taken %v", l.refused, l.taken)
	for i, n := range l.refused {
		if float64(n) < 0.1*float64(refused) {
			t.Errorf("till %d: %d of the %d refusals; want each till at least a tenth (refused %v)", i, n, refused, l.refused)
		}
	}
}
