package pos

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/queue"
)

// slowAPI makes every request take latency (in the bubble's time) and
// records how many were in flight at once, in all and per card.
type slowAPI struct {
	latency time.Duration

	mu       sync.Mutex
	now, max int
	perCard  map[string]int
	overlap  []string // cards that had two requests in flight at once
}

func (s *slowAPI) hook(r *http.Request) {
	card := ""
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/v2/cards/"); ok {
		card, _, _ = strings.Cut(rest, "/")
	}
	s.mu.Lock()
	s.now++
	s.max = max(s.max, s.now)
	if card != "" {
		s.perCard[card]++
		if s.perCard[card] > 1 {
			s.overlap = append(s.overlap, card)
		}
	}
	s.mu.Unlock()
	time.Sleep(s.latency)
	s.mu.Lock()
	s.now--
	if card != "" {
		s.perCard[card]--
	}
	s.mu.Unlock()
}

func TestWorker_InFlight(t *testing.T) {
	run := func(t *testing.T, r *workerRig) (cancel context.CancelFunc, done chan error) {
		ctx, cancel := context.WithCancel(t.Context())
		done = make(chan error, 1)
		go func() { done <- r.w.Run(ctx) }()
		return cancel, done
	}
	jobs := []jobSpec{
		pendingJob("S1", stampCard), pendingJob("P1", pointsCard), pendingJob("S2", stampCard),
		pendingJob("M1", sandbox.DemoMultipassCard), pendingJob("S3", stampCard), pendingJob("P2", pointsCard),
	}

	t.Run("several cards at once, each card's jobs one by one in order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{InFlight: 4, Idle: time.Hour}, clock: time.Now}, jobs...)
			api := &slowAPI{latency: 100 * time.Millisecond, perCard: map[string]int{}}
			r.net.hook = api.hook
			start := time.Now()
			cancel, done := run(t, r)
			defer func() { cancel(); <-done }()
			for _, j := range jobs {
				for r.get(t, j.name).State != queue.Done {
					time.Sleep(10 * time.Millisecond)
					if time.Since(start) > time.Minute {
						t.Fatalf("job %s is %s after a minute", j.name, r.get(t, j.name).State)
					}
				}
			}
			elapsed := time.Since(start)
			if api.max < 2 || api.max > 4 {
				t.Errorf("at most %d requests in flight at once, want 2 to 4 (InFlight 4, three cards)", api.max)
			}
			if len(api.overlap) > 0 {
				t.Errorf("cards %v had two requests in flight at once", api.overlap)
			}
			// One at a time: 6 actions and 3 look-ups, 100ms each. In
			// flight, the stamp card's look-up and three actions in a row
			// bound it (the bubble's clock: no wall-clock timing here).
			if elapsed >= 900*time.Millisecond {
				t.Errorf("drained in %v, want under the 900ms one request at a time takes", elapsed)
			}
			var order []int64
			for _, name := range []string{"S1", "S2", "S3", "P1", "P2", "M1"} {
				if n := r.markers(name); n != 1 {
					t.Errorf("%s applied %d times, want once", name, n)
				}
			}
			for _, op := range r.sb.Operations() {
				for i, name := range []string{"S1", "S2", "S3"} {
					if op.Comment != nil && CountMarker(*op.Comment, r.marker(name)) > 0 {
						order = append(order, int64(i+1))
					}
				}
			}
			if len(order) != 3 || order[0] != 1 || order[1] != 2 || order[2] != 3 {
				t.Errorf("the stamp card's jobs were applied in the order %v, want [1 2 3]", order)
			}
		})
	})

	t.Run("Run returns only when every job in flight has recorded its outcome", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{InFlight: 4, Idle: time.Hour}, clock: time.Now}, jobs...)
			api := &slowAPI{latency: 150 * time.Millisecond, perCard: map[string]int{}}
			r.net.hook = api.hook
			cancel, done := run(t, r)
			time.Sleep(50 * time.Millisecond) // the first requests are on the wire
			synctest.Wait()
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run() = %v, want nil", err)
			}
			sending := 0
			for _, j := range jobs {
				if r.get(t, j.name).State == queue.Sending {
					sending++
				}
			}
			if sending != 0 || api.max < 2 {
				t.Errorf("after Run returned: %d jobs still sending (want 0); %d were in flight at once (want ≥ 2)", sending, api.max)
			}
		})
	})

	t.Run("an outage is probed by one request at a time and backs off once per round", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{InFlight: 8, RetryBase: 10 * time.Second, RetryCap: time.Hour, Idle: time.Hour},
				clock: time.Now}, jobs...)
			const latency = 100 * time.Millisecond // a dead network that takes a while to say so
			r.net.hook = (&slowAPI{latency: latency, perCard: map[string]int{}}).hook
			r.net.down.Store(true)
			r.net.calls = make(chan string, 1000)
			cancel, done := run(t, r)
			defer func() { cancel(); <-done }()
			// The first round: every card's request, taken at once before
			// anything failed (a request that cannot connect holds the next
			// start until it fails: the client counts the gap from a write).
			time.Sleep(time.Second)
			synctest.Wait()
			first := len(r.net.calls)
			for range first {
				<-r.net.calls
			}
			var tries []time.Time
			for len(tries) < 3 {
				<-r.net.calls
				tries = append(tries, time.Now())
				synctest.Wait()
				if n := len(r.net.calls); n != 0 {
					t.Fatalf("%d more requests at the same instant during the outage, want one probe", n)
				}
			}
			if first != 3 {
				t.Errorf("%d requests in the first round, want 3 (one per card, all taken before the first failed)", first)
			}
			// The first round's three failures count as one: the backoff
			// steps that follow are the 2nd and 3rd ([10s,20s], [20s,40s]
			// after the probe's failure), not the cap.
			if d := tries[1].Sub(tries[0]) - latency; d < 10*time.Second || d > 20*time.Second {
				t.Errorf("second probe %v after the first failed, want [10s, 20s]", d)
			}
			if d := tries[2].Sub(tries[1]) - latency; d < 20*time.Second || d > 40*time.Second {
				t.Errorf("third probe %v after the second failed, want [20s, 40s]", d)
			}
			r.net.down.Store(false)
		})
	})
}

// A failed look-up holds the worker from its failure, not from the
// request's start: a dead network can take longer to say so than the
// first backoff step (1–2 s) lasts.
func TestWorker_LookupBackoffCountsFromTheFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, rigOpts{cfg: WorkerConfig{Idle: time.Hour}, clock: time.Now}, pendingJob("J1", stampCard))
		const latency = 3 * time.Second
		failed := make(chan time.Time, 10)
		r.net.hook = func(*http.Request) { time.Sleep(latency); failed <- time.Now() }
		r.net.down.Store(true)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.w.Run(ctx) }()
		at := <-failed
		synctest.Wait()
		if d := r.w.Status().RetryAt.Sub(at); d < time.Second || d > 2*time.Second {
			t.Errorf("the worker holds until %v after the look-up failed; want the first backoff step (1s–2s)", d)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run() = %v", err)
		}
	})
}
