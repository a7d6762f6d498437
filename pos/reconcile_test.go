package pos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
)

// blindCardFilter is the real client on an account whose cardId filter
// comes back empty (reported by one integrator, see docs/api.md).
type blindCardFilter struct{ *apiclient.Client }

func (b blindCardFilter) ListOperations(ctx context.Context, q apiclient.OperationsQuery) ([]apiclient.Operation, apiclient.Meta, error) {
	if q.CardID != "" {
		return nil, apiclient.Meta{CurrentPage: q.Page, ItemsPerPage: q.ItemsPerPage}, nil
	}
	return b.Client.ListOperations(ctx, q)
}

// withoutBalance writes "done stamp 8/10" as "done": the balance depends
// on how many operations a case made.
func withoutBalance(verbs []string) string {
	for i, v := range verbs {
		if strings.HasPrefix(v, "done ") {
			verbs[i] = "done"
		}
	}
	return strings.Join(verbs, "|")
}

func TestWorker_Reconcile(t *testing.T) {
	stamp := func(comments ...string) func(r *workerRig) {
		return func(r *workerRig) {
			for _, c := range comments {
				r.apply(t, stampCard, apiclient.AddStamp, strings.ReplaceAll(c, "MARKER", r.marker("J1")))
			}
		}
	}
	noise := func(n int) []string {
		var cs []string
		for i := range n {
			cs = append(cs, fmt.Sprintf("tillscan:till-1:J%d", 10+i))
		}
		return cs
	}
	tests := []struct {
		name      string
		misses    int
		cfg       WorkerConfig
		api       func(c *apiclient.Client) Loyalty
		setup     func(r *workerRig)
		wantVerbs string
		wantKinds string
		check     func(t *testing.T, r *workerRig)
	}{
		{"found", 0, WorkerConfig{}, nil, stamp("MARKER"), "done", "applied", func(t *testing.T, r *workerRig) {
			if j := r.get(t, "J1"); j.Result != "stamp 8/10" {
				t.Errorf("result %q, want the balance read after reconciling (stamp 8/10)", j.Result)
			}
		}},
		{"found with configured text after it", 0, WorkerConfig{}, nil, stamp("MARKER front till"), "done", "applied", nil},
		{"prefix trap is not a match", 0, WorkerConfig{}, nil, stamp("MARKER2"), "ambiguous absent misses=1", "", nil},
		{"found on a later page", 0, WorkerConfig{PageSize: 7}, nil, stamp(append(noise(20), "MARKER")...),
			"done", "applied", func(t *testing.T, r *workerRig) {
				if n := len(r.net.requests("GET /operations")); n != 3 {
					t.Errorf("read %d pages, want 3 (21 items, 7 per page)", n)
				}
			}},
		{"absent, not yet sure", 1, WorkerConfig{}, nil, stamp(noise(3)...),
			"ambiguous absent misses=2", "", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); !j.NextAttempt.Equal(r.now.Add(30 * time.Second)) {
					t.Errorf("next look at %v, want now+Settle", j.NextAttempt)
				}
			}},
		{"absent on every look: back to pending, due now", 2, WorkerConfig{}, nil, stamp(noise(3)...),
			"retry absent", "", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); j.State != "pending" || j.NextAttempt.After(r.now) {
					t.Errorf("job %s due %v, want pending due now", j.State, j.NextAttempt)
				}
			}},
		{"read failed: look later, same count", 1, WorkerConfig{}, nil, func(r *workerRig) { r.net.down.Store(true) },
			"ambiguous not_sent misses=1", "waiting", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); j.NextAttempt.Sub(r.now) < 30*time.Second {
					t.Errorf("next look in %v, want at least Settle", j.NextAttempt.Sub(r.now))
				}
			}},
		{"read got 503", 1, WorkerConfig{}, nil, func(r *workerRig) { r.sb.FailNext(http.StatusServiceUnavailable) },
			"ambiguous ambiguous misses=1", "waiting", nil},
		{"read unauthorized: pause, keep it ambiguous", 0, WorkerConfig{}, nil, func(r *workerRig) { r.sb.FailNext(http.StatusUnauthorized) },
			"ambiguous unauthorized misses=0", "unauthorized", nil},
		{"read refused for good: park, never re-send", 0, WorkerConfig{}, nil, func(r *workerRig) { r.sb.FailNext(http.StatusBadRequest) },
			"dead cannot check whether it was applied: refused: Bad Request; look at the card's operations and resolve the job", "dead", nil},
		{"duplicate marker: needs an operator", 0, WorkerConfig{}, nil, stamp("MARKER", "x MARKER"),
			"dead 544256-439-856: applied 2 times by mistake — take the extra ones off in the dashboard, then resolve the job as applied",
			"duplicate", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); !j.Uncertain {
					t.Errorf("job %+v: want uncertain, so an operator can resolve it as applied", j)
				}
			}},
		{"card filter empty: template fallback finds it", 0, WorkerConfig{},
			func(c *apiclient.Client) Loyalty { return blindCardFilter{c} }, stamp("x", "MARKER"),
			"done", "applied", func(t *testing.T, r *workerRig) {
				q := r.net.requests("GET /operations")
				if len(q) < 1 || !strings.Contains(q[0], "templateId=1") || strings.Contains(q[0], "cardId") {
					t.Errorf("queries %q, want a template query after the empty card query", q)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: tt.cfg, api: tt.api}, ambiguousJob("J1", tt.misses))
			if tt.setup != nil {
				tt.setup(r)
			}
			r.net.mu.Lock()
			r.net.log = nil // what the set-up did is not the worker's
			r.net.mu.Unlock()
			r.step(t)
			if got := withoutBalance(r.q.log()); got != tt.wantVerbs {
				t.Errorf("verbs = %q, want %q", got, tt.wantVerbs)
			}
			var kinds []string
			for _, k := range r.kinds() {
				kinds = append(kinds, string(k))
			}
			if got := strings.Join(kinds, ","); got != tt.wantKinds {
				t.Errorf("events = %q, want %q", got, tt.wantKinds)
			}
			if a := r.net.actions(); len(a) != 0 {
				t.Errorf("a reconciliation step sent %v", a)
			}
			if tt.api == nil {
				q := r.net.requests("GET /operations")
				u, err := url.Parse(strings.TrimPrefix(q[0], "GET "))
				if err != nil {
					t.Fatal(err)
				}
				v := u.Query()
				if v.Get("cardId") != stampCard || v.Get("startDate") != day(t0).AddDate(0, 0, -1).Format(time.DateOnly) ||
					v.Get("endDate") != day(t0).AddDate(0, 0, 1).Format(time.DateOnly) {
					t.Errorf("first query %q, want the card from the day before the send to tomorrow", q[0])
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestWorker_ReconcileThenResend(t *testing.T) {
	r := newRig(t, rigOpts{cfg: WorkerConfig{Looks: 2}}, ambiguousJob("J1", 0))
	r.step(t) // miss 1
	r.now = r.now.Add(30 * time.Second)
	r.step(t) // miss 2: surely absent
	r.step(t) // re-send
	want := "ambiguous absent misses=1|retry absent|sending add-stamp 1|done stamp 8/10"
	if got := strings.Join(r.q.log(), "|"); got != want {
		t.Fatalf("verbs = %q, want %q", got, want)
	}
	if n := r.markers("J1"); n != 1 {
		t.Errorf("marker on %d operations after the re-send, want 1 (the same marker)", n)
	}
}
