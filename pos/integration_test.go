package pos_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// stack is the real till pipeline: a bbolt queue in a temp dir, the real
// API client and the sandbox on loopback.
type stack struct {
	sb     *sandbox.Server
	q      *queue.Queue
	client *apiclient.Client
	cache  *pos.Cache
	feed   *pos.Feed
	till   *pos.Till
	worker *pos.Worker
	events <-chan pos.Event
	stop   func()
	final  map[string]pos.Event // final events seen by wait, by job
}

type stackOpts struct {
	sandboxRate float64 // 0: unlimited
	clientRate  float64 // 0: 1000/s
	key         string  // "" = the sandbox's key
	rules       func() pos.Rules
	queuePath   string          // "" = a new file; reuse one to restart the till on it
	sb          *sandbox.Server // reuse
	quiet       bool
	noStart     bool // the caller starts the worker with s.start
	undoRepeat  bool // TillConfig.UndoRepeat
}

func newStack(tb testing.TB, o stackOpts) *stack {
	tb.Helper()
	log := zerolog.Nop()
	if t, ok := tb.(*testing.T); ok && !o.quiet {
		log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	}
	s := &stack{sb: o.sb, final: map[string]pos.Event{}}
	if s.sb == nil {
		rate := o.sandboxRate
		if rate == 0 {
			rate = -1
		}
		sb, err := sandbox.NewServer(sandbox.Options{RateLimit: rate})
		if err != nil {
			tb.Fatalf("sandbox.NewServer: %v", err)
		}
		tb.Cleanup(sb.Close)
		s.sb = sb
	}
	key, rate := o.key, o.clientRate
	if key == "" {
		key = sandbox.DemoAPIKey
	}
	if rate == 0 {
		rate = 1000
	}
	var err error
	s.client, err = apiclient.New(apiclient.Config{BaseURL: s.sb.URL, APIKey: key, HTTPClient: s.sb.Client(),
		RateLimit: rate, Timeout: 2 * time.Second, BackoffBase: 20 * time.Millisecond, BackoffCap: 200 * time.Millisecond}, log)
	if err != nil {
		tb.Fatalf("apiclient.New: %v", err)
	}
	if o.queuePath == "" {
		o.queuePath = filepath.Join(tb.TempDir(), "queue.db")
	}
	s.q, err = queue.Open(o.queuePath, queue.Options{})
	if err != nil {
		tb.Fatalf("queue.Open: %v", err)
	}
	tb.Cleanup(func() { s.q.Close() })
	if s.cache, err = pos.NewCache(s.q, log); err != nil { // the card cache lives in the queue's file
		tb.Fatalf("NewCache: %v", err)
	}
	s.feed = pos.NewFeed(5000)
	sub := s.feed.Follow(pos.FollowOptions{Buffer: 5000})
	tb.Cleanup(sub.Close)
	s.events = sub.C
	s.worker = pos.NewWorker(pos.WorkerConfig{TillID: "t1", Settle: 50 * time.Millisecond, Looks: 2,
		RetryBase: 20 * time.Millisecond, RetryCap: 200 * time.Millisecond, Currency: "£"},
		s.q, s.client, s.cache, o.rules, s.feed, log)
	rules := o.rules
	if rules == nil {
		rules = pos.DefaultRules
	}
	// Wired as the daemon does: a known card that needs a sum is refused at once.
	s.till = pos.NewTill(pos.TillConfig{TillID: "t1", DedupeWindow: -1, Rules: rules, Cards: s.cache, Jobs: s.q, UndoRepeat: o.undoRepeat},
		s.q, s.feed, s.worker.Wake, log)
	if !o.noStart {
		s.start(tb)
	}
	return s
}

// start runs the worker until the test ends.
func (s *stack) start(tb testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.worker.Run(ctx); err != nil {
			tb.Errorf("Worker.Run: %v", err)
		}
	})
	s.stop = func() { cancel(); wg.Wait() }
	tb.Cleanup(s.stop)
}

// scan feeds one scan to the till and fails unless it was saved.
func (s *stack) scan(tb testing.TB, text string) string {
	tb.Helper()
	ev := s.till.Handle(scanner.Scan{Text: text, Scanner: "test", At: time.Now()})
	if ev.Kind != pos.EventSaved && ev.Kind != pos.EventMode {
		tb.Fatalf("Handle(%q) = %s %q", text, ev.Kind, ev.Message)
	}
	return ev.JobID
}

// wait returns the first final event (applied, refused, dead) of job.
func (s *stack) wait(tb testing.TB, job string) pos.Event {
	tb.Helper()
	timeout := time.After(20 * time.Second) // a safety net, not a synchronisation
	for {
		if ev, ok := s.final[job]; ok {
			return ev
		}
		select {
		case ev, ok := <-s.events:
			if !ok {
				tb.Fatalf("the feed ended the test's subscription while waiting for job %s", job)
			}
			if ev.Kind == pos.EventApplied || ev.Kind == pos.EventRefused || ev.Kind == pos.EventDead {
				s.final[ev.JobID] = ev
			}
		case <-timeout:
			j, _ := s.q.Get(job)
			tb.Fatalf("job %s not finished: %+v", job, j)
		}
	}
}

func markers(sb *sandbox.Server, marker string) int {
	n := 0
	for _, op := range sb.API.Operations() {
		if op.Comment != nil {
			n += pos.CountMarker(*op.Comment, marker)
		}
	}
	return n
}

// TestIntegration_EachCardType scans every demo card and checks the API
// call the job recorded, the balance text and the marker in the
// operations log.
func TestIntegration_EachCardType(t *testing.T) {
	tests := []struct {
		name       string
		scans      []string // command barcodes, then the card
		wantKind   pos.EventKind
		wantAction string
		wantResult string
	}{
		{"stamp", []string{sandbox.DemoStampCard}, pos.EventApplied, "add-stamp 1", "stamp 8/10"},
		{"stamp, visits mechanics (learned)", []string{sandbox.DemoStampVisitsCard}, pos.EventApplied, "add-visit 1", "stamp 3/8"},
		{"stamp redeem without a reward", []string{"TILLSCAN:REDEEM", sandbox.DemoStampCard}, pos.EventRefused, "subtract-reward 1", ""},
		{"cashback", []string{"TILLSCAN:SUM:20", sandbox.DemoCashbackCard}, pos.EventApplied, "add-transaction-amount 20", "balance £13.50"},
		{"cashback redeem", []string{"TILLSCAN:REDEEM", "TILLSCAN:SUM:2", sandbox.DemoCashbackCard}, pos.EventApplied, "subtract-transaction-amount 2", "balance £10.50"},
		{"multipass", []string{sandbox.DemoMultipassCard}, pos.EventApplied, "subtract-visit 1", "visits left 4"},
		{"coupon", []string{sandbox.DemoCouponCard}, pos.EventApplied, "redeem-coupon", "coupon redeemed"},
		{"discount", []string{"TILLSCAN:SUM:12.50", sandbox.DemoDiscountCard}, pos.EventApplied, "add-point 12.5", "discount 5%"},
		{"gift", []string{"TILLSCAN:SUM:5", sandbox.DemoGiftCard}, pos.EventApplied, "subtract-point 5", "balance £45.00"},
		{"membership, limited tier (learned)", []string{sandbox.DemoMembershipCard}, pos.EventApplied, "subtract-visit 1", "visits 1"},
		{"reward, points", []string{sandbox.DemoRewardPointsCard}, pos.EventApplied, "add-scores 1", "points 121"},
		{"reward redeem best tier", []string{"TILLSCAN:REDEEM", sandbox.DemoRewardPointsCard}, pos.EventApplied, "receive-reward 901", "points 20"},
		{"reward, spend (learned)", []string{"TILLSCAN:SUM:10", sandbox.DemoRewardSpendCard}, pos.EventApplied, "add-purchase 10", "points 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, stackOpts{})
			var id string
			for _, text := range tt.scans {
				id = s.scan(t, text)
			}
			ev := s.wait(t, id)
			job, err := s.q.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind != tt.wantKind || job.Action != tt.wantAction || job.Result != tt.wantResult {
				t.Fatalf("event %s %q, job action %q result %q; want %s, %q, %q", ev.Kind, ev.Message, job.Action, job.Result,
					tt.wantKind, tt.wantAction, tt.wantResult)
			}
			want := 1
			if tt.wantKind == pos.EventRefused {
				want = 0
			}
			if n := markers(s.sb, pos.Marker("t1", id)); n != want {
				t.Errorf("marker on %d operations, want %d", n, want)
			}
		})
	}
}

// TestIntegration_AmbiguousSends: the action lands but the answer is lost
// (502, or the connection dropped); or a 502 comes back without applying.
// Each ends with exactly one operation carrying the marker and the job done.
func TestIntegration_AmbiguousSends(t *testing.T) {
	tests := []struct {
		name  string
		fault func(a *sandbox.API)
	}{
		{"apply then 502", func(a *sandbox.API) { a.ApplyThenFail(502) }},
		{"apply then drop", func(a *sandbox.API) { a.ApplyThenFail(0) }},
		{"502 without applying", func(a *sandbox.API) { a.FailNext(502) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, stackOpts{})
			// Warm the cache so the fault hits the action, not the GET.
			if err := s.cache.Put(sandbox.DemoStampCard, pos.CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
				t.Fatal(err)
			}
			tt.fault(s.sb.API)
			id := s.scan(t, sandbox.DemoStampCard)
			sawReconciling := false
			var ev pos.Event
			for ev.JobID != id || ev.Kind != pos.EventApplied {
				var ok bool
				if ev, ok = <-s.events; !ok {
					t.Fatal("the feed ended the test's subscription")
				}
				sawReconciling = sawReconciling || ev.Kind == pos.EventReconciling
				if ev.Kind == pos.EventRefused || ev.Kind == pos.EventDuplicate {
					t.Fatalf("unexpected %+v", ev)
				}
			}
			job, _ := s.q.Get(id)
			if !sawReconciling || job.State != queue.Done || job.Result != "stamp 8/10" {
				t.Errorf("reconciling seen %v, job %s %q; want reconciled to done, stamp 8/10", sawReconciling, job.State, job.Result)
			}
			if n := markers(s.sb, pos.Marker("t1", id)); n != 1 {
				t.Fatalf("marker on %d operations, want exactly 1", n)
			}
		})
	}
}

// TestIntegration_RepeatCustomerCost: the first scan of a card costs a GET
// and the action, every later one only the action, also after a restart
// (the cache is persisted in the queue's file).
func TestIntegration_RepeatCustomerCost(t *testing.T) {
	queuePath := filepath.Join(t.TempDir(), "queue.db")
	s := newStack(t, stackOpts{queuePath: queuePath})
	cost := func(s *stack) int {
		before := s.sb.API.Stats().Requests
		s.wait(t, s.scan(t, sandbox.DemoStampCard))
		return s.sb.API.Stats().Requests - before
	}
	if got := cost(s); got != 2 {
		t.Errorf("first scan cost %d requests, want 2", got)
	}
	if got := cost(s); got != 1 {
		t.Errorf("second scan cost %d requests, want 1", got)
	}
	s.stop()
	if err := s.q.Close(); err != nil { // the till stops; the next opens the same file
		t.Fatal(err)
	}
	s2 := newStack(t, stackOpts{queuePath: queuePath, sb: s.sb})
	if got := cost(s2); got != 1 {
		t.Errorf("scan after a restart cost %d requests, want 1 (persisted cache)", got)
	}
}

// TestIntegration_OutageAndBadKey: scans made while the API is down are
// applied when it returns; a refused key stops sending until the client
// is given a key again (SetAPIKey) and the worker is woken.
func TestIntegration_OutageAndBadKey(t *testing.T) {
	t.Run("outage", func(t *testing.T) {
		s := newStack(t, stackOpts{quiet: true})
		s.sb.Outage(time.Hour)
		ids := []string{s.scan(t, sandbox.DemoStampCard), s.scan(t, sandbox.DemoRewardPointsCard)}
		for ev := range s.events {
			if ev.Kind == pos.EventWaiting {
				break
			}
		}
		if st := s.worker.Status(); st.APIReachable {
			t.Errorf("Status() = %+v during an outage", st)
		}
		if err := s.sb.Restore(); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if ev := s.wait(t, id); ev.Kind != pos.EventApplied {
				t.Fatalf("job %s: %+v", id, ev)
			}
		}
		if st := s.worker.Status(); !st.APIReachable {
			t.Errorf("Status() = %+v after the outage", st)
		}
	})
	// Issue 8 defect 3 is the second case: the key is refused once (the
	// vendor disabled it), then re-enabled; a reload gives the client the
	// SAME key. The client owns the pause and SetAPIKey ends it; the worker
	// only follows.
	for _, tc := range []struct {
		name  string
		key   string // the key the till starts with; "" the right one
		fault bool   // the API refuses the right key once (401)
	}{
		{"refused key, then the right key", "wrong-key", false},
		{"refused key, then the same key again", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, stackOpts{key: tc.key})
			if tc.fault {
				s.sb.API.FailNext(401)
			}
			id := s.scan(t, sandbox.DemoStampCard)
			for ev := range s.events {
				if ev.Kind == pos.EventUnauthorized {
					break
				}
			}
			if st := s.worker.Status(); !st.Paused {
				t.Fatalf("Status() = %+v, want paused", st)
			}
			s.client.SetAPIKey(sandbox.DemoAPIKey)
			s.worker.Wake()
			if ev := s.wait(t, id); ev.Kind != pos.EventApplied {
				t.Fatalf("after SetAPIKey: %+v", ev)
			}
			if st := s.worker.Status(); st.Paused {
				t.Errorf("Status() = %+v after the key works again, want not paused", st)
			}
			if n := markers(s.sb, pos.Marker("t1", id)); n != 1 {
				t.Errorf("marker on %d operations, want 1", n)
			}
		})
	}
}

// TestIntegration_NothingLost scans a burst of cards and checks that each
// job is applied exactly once.
func TestIntegration_NothingLost(t *testing.T) {
	s := newStack(t, stackOpts{quiet: true})
	s.sb.API.SetFaults(sandbox.Faults{ErrorRate: 0.2, ApplyThenDropRate: 0.2})
	cards := []string{sandbox.DemoStampCard, sandbox.DemoRewardPointsCard}
	var ids []string
	for i := range 20 {
		ids = append(ids, s.scan(t, cards[i%2]))
	}
	for _, id := range ids {
		if ev := s.wait(t, id); ev.Kind != pos.EventApplied {
			t.Fatalf("job %s: %+v", id, ev)
		}
	}
	for _, id := range ids {
		if n := markers(s.sb, pos.Marker("t1", id)); n != 1 {
			t.Errorf("job %s: marker on %d operations, want 1", id, n)
		}
	}
	if got := len(s.sb.API.Operations()); got != len(ids) {
		t.Errorf("%d operations for %d scans", got, len(ids))
	}
	if slices.ContainsFunc(s.feed.Recent(), func(e pos.Event) bool { return e.Kind == pos.EventDuplicate }) {
		t.Error("a duplicate was reported")
	}
}

// TestIntegration_RefusedHoldsNothing is issue 10's reproduction: a
// cashback card scanned without a sum is refused; the sum then the card is
// applied. Before, the refused job was parked dead and held the card's
// next scan forever. A refusal by the API (a redeem with no reward ready)
// holds nothing either, and a known card without its sum is refused at the
// till and recorded, never queued for sending.
func TestIntegration_RefusedHoldsNothing(t *testing.T) {
	s := newStack(t, stackOpts{})
	first := s.scan(t, sandbox.DemoCashbackCard)
	if ev := s.wait(t, first); ev.Kind != pos.EventRefused || !strings.Contains(ev.Message, "purchase sum") {
		t.Fatalf("cashback card without a sum: %s %q; want refused asking for the sum", ev.Kind, ev.Message)
	}
	s.scan(t, "TILLSCAN:SUM:20")
	second := s.scan(t, sandbox.DemoCashbackCard)
	if ev := s.wait(t, second); ev.Kind != pos.EventApplied {
		t.Fatalf("the sum, then the card: %s %q; want applied", ev.Kind, ev.Message)
	}

	atTill := s.till.Handle(scanner.Scan{Text: sandbox.DemoCashbackCard, Scanner: "test", At: time.Now()})
	if atTill.Kind != pos.EventRefused || atTill.GoodRead() || atTill.JobID == "" {
		t.Fatalf("known cashback card without a sum: %+v; want refused at the till, recorded, a bad read", atTill)
	}

	s.scan(t, "TILLSCAN:REDEEM")
	redeem := s.scan(t, sandbox.DemoStampCard) // no reward ready: the API says no
	if ev := s.wait(t, redeem); ev.Kind != pos.EventRefused {
		t.Fatalf("redeem with no reward: %s %q; want refused", ev.Kind, ev.Message)
	}
	stamp := s.scan(t, sandbox.DemoStampCard)
	if ev := s.wait(t, stamp); ev.Kind != pos.EventApplied {
		t.Fatalf("a stamp after the refused redeem: %s %q; want applied", ev.Kind, ev.Message)
	}

	for id, want := range map[string]queue.State{first: queue.Refused, second: queue.Done, atTill.JobID: queue.Refused,
		redeem: queue.Refused, stamp: queue.Done} {
		j, err := s.q.Get(id)
		if err != nil || j.State != want {
			t.Errorf("job %s (%s): state %s, %v; want %s", id, j.Raw, j.State, err, want)
		}
		markersWant := 0
		if want == queue.Done {
			markersWant = 1
		}
		if n := markers(s.sb, pos.Marker("t1", id)); n != markersWant {
			t.Errorf("job %s: marker on %d operations, want %d", id, n, markersWant)
		}
	}
	if st, err := s.q.Stats(time.Now()); err != nil || st.Depth[queue.Dead] != 0 {
		t.Errorf("Stats() = %+v, %v; want no job waiting for an operator", st, err)
	}
}
