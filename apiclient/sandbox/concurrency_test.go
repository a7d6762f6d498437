package sandbox_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestConcurrentClients runs many clients at once against one sandbox, with
// readers, writers and fault changes interleaved; under -race this checks
// the locking, and the totals check that no update is lost.
func TestConcurrentClients(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				comment := fmt.Sprintf("tillscan:w%d:%d", w, i)
				r, err := s.try(sandbox.DemoAPIKey, "POST", "/cards/"+sandbox.DemoGiftCard+"/add-point",
					map[string]any{"points": 1, "comment": comment})
				if err != nil || r.status != http.StatusOK {
					errs <- fmt.Errorf("worker %d: %v %d %s", w, err, r.status, r.body)
				}
				if _, err := s.try(sandbox.DemoAPIKey, "GET", "/operations?cardId="+sandbox.DemoGiftCard+"&itemsPerPage=5", nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for range each {
			s.API.Stats()
			s.API.Cards()
			s.API.Operations()
			s.API.SetFaults(sandbox.Faults{RetryAfter: "1"})
			s.API.FailNext()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c, _ := s.API.Card(sandbox.DemoGiftCard)
	if want := float64(50 + workers*each); c.Balance.BonusBalance != want {
		t.Errorf("points = %v, want %v", c.Balance.BonusBalance, want)
	}
	st := s.API.Stats()
	if st.Applied[sandbox.DemoGiftCard] != workers*each || st.Requests != 2*workers*each {
		t.Errorf("Stats = %+v, want %d applied and %d requests", st, workers*each, 2*workers*each)
	}
	seen := map[string]bool{}
	for _, op := range s.API.Operations() {
		if seen[*op.Comment] {
			t.Errorf("comment %s logged twice", *op.Comment)
		}
		seen[*op.Comment] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct comments, want %d", len(seen), workers*each)
	}
}

// BenchmarkAddStamp measures the sandbox's own overhead per action over
// loopback (no rate limit).
func BenchmarkAddStamp(b *testing.B) {
	s := newServer(b, sandbox.Options{})
	for b.Loop() {
		s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1, "comment": "bench"}).ok(b, nil)
	}
}
