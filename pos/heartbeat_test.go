package pos

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// TestWorker_Heartbeat checks the loop reports each turn (0) and each
// wait with its length: idle, then a job worked on, then idle again.
func TestWorker_Heartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var beats []time.Duration
		cfg := WorkerConfig{Idle: time.Hour, Heartbeat: func(d time.Duration) {
			mu.Lock()
			beats = append(beats, d)
			mu.Unlock()
		}}
		taken := func() []time.Duration {
			mu.Lock()
			defer mu.Unlock()
			b := beats
			beats = nil
			return b
		}
		r := newRig(t, rigOpts{cfg: cfg, clock: time.Now})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.w.Run(ctx) }()
		synctest.Wait()
		if got, want := taken(), []time.Duration{0, time.Hour}; !slices.Equal(got, want) {
			t.Fatalf("idle worker beat %v, want %v (a turn, then a wait of Idle)", got, want)
		}
		r.add(t, pendingJob("J1", stampCard))
		r.w.Wake()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if r.get(t, "J1").State != queue.Done {
			t.Fatalf("job %s, want done", r.get(t, "J1").State)
		}
		got := taken()
		// A turn for the job, a turn finding the queue empty, the idle wait.
		if n := len(got); n < 3 || got[n-1] != time.Hour || slices.Index(got, 0) < 0 {
			t.Errorf("beats after a job %v, want turns (0) ending in the idle wait", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
