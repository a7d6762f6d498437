package pos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

const stampCard = "544256-439-856"

func stampAt(n float64) apiclient.Card {
	return apiclient.Card{ID: stampCard, Type: apiclient.Stamp, TemplateID: 1, Balance: apiclient.Balance{
		CurrentNumberOfUses: ptr(n), NumberStampsTotal: ptr(10.0), StampsBeforeReward: ptr(10 - n)}}
}

// jobSpec is a job a test starts with, named for the test ("J1"); the
// queue gives it its real id.
type jobSpec struct {
	name, card string
	sum        *float64
	mode       string
	ambiguous  bool          // sent a minute before t0, outcome unknown, due at t0
	misses     int           // of an ambiguous job
	due        time.Duration // > 0: tried once (not sent) and due this much later
}

func pendingJob(name, card string) jobSpec { return jobSpec{name: name, card: card} }

// ambiguousJob is a job whose send may have been applied.
func ambiguousJob(name string, misses int) jobSpec {
	return jobSpec{name: name, card: stampCard, ambiguous: true, misses: misses}
}

type workerRig struct {
	w    *Worker
	q    *recQueue
	api  *fakeAPI
	feed *Feed
	now  time.Time
	ids  map[string]string // jobSpec name → job id
}

func newRig(t *testing.T, cfg WorkerConfig, api *fakeAPI, rules func() Rules, jobs ...jobSpec) *workerRig {
	t.Helper()
	if cfg.TillID == "" {
		cfg.TillID = "till-1"
	}
	if api.cards == nil {
		api.cards = map[string]apiclient.Card{stampCard: stampAt(8)}
	}
	r := &workerRig{q: openRecQueue(t), api: api, feed: NewFeed(100), now: t0, ids: map[string]string{}}
	cache, err := OpenCache("", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	r.w = NewWorker(cfg, r.q, api, cache, rules, r.feed, zerolog.New(zerolog.NewTestWriter(t)))
	r.w.now = func() time.Time { return r.now }
	for _, j := range jobs {
		r.add(t, j)
	}
	r.q.forget() // the verbs of the set-up are not the worker's
	return r
}

// newRunRig is a rig for Run in a synctest bubble: the worker reads the
// bubble's clock.
func newRunRig(t *testing.T, cfg WorkerConfig, api *fakeAPI, jobs ...jobSpec) *workerRig {
	t.Helper()
	r := newRig(t, cfg, api, nil)
	r.w.now = time.Now
	for _, j := range jobs {
		r.add(t, j)
	}
	r.q.forget()
	return r
}

// add saves job in the queue, due at the worker's now, in its starting state.
func (r *workerRig) add(t testing.TB, j jobSpec) string {
	t.Helper()
	now := r.w.now()
	at := now
	if j.ambiguous {
		at = now.Add(-time.Minute)
	}
	job, err := r.q.Enqueue(queue.Scan{Card: j.card, TillID: "till-1", Scanner: "front", Raw: j.card, ScannedAt: at,
		PurchaseSum: j.sum, Mode: j.mode}, at)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if j.ambiguous {
		if err := r.q.Queue.Sending(job.ID, "add-stamp 1", at); err != nil {
			t.Fatal(err)
		}
		if err := r.q.Queue.Ambiguous(job.ID, queue.Attempt{At: at, Kind: "send", Outcome: "ambiguous"}, now, j.misses); err != nil {
			t.Fatal(err)
		}
	}
	if j.due > 0 {
		if err := r.q.Queue.Sending(job.ID, "add-stamp 1", at); err != nil {
			t.Fatal(err)
		}
		if err := r.q.Queue.Retry(job.ID, queue.Attempt{At: at, Kind: "send", Outcome: "not_sent"}, now.Add(j.due)); err != nil {
			t.Fatal(err)
		}
	}
	r.ids[j.name] = job.ID
	return job.ID
}

// get returns the job the test calls name.
func (r *workerRig) get(t testing.TB, name string) queue.Job {
	t.Helper()
	j, err := r.q.Get(r.ids[name])
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	return j
}

// marker is the marker of the job the test calls name.
func (r *workerRig) marker(name string) string { return Marker("till-1", r.ids[name]) }

// step runs one worker step on the job Next hands out.
func (r *workerRig) step(t *testing.T) {
	t.Helper()
	job, err := r.q.Next(r.now)
	if err != nil {
		t.Fatalf("Next() = %v", err)
	}
	if err := r.w.process(t.Context(), job); err != nil {
		t.Fatalf("process(%s) = %v", job.ID, err)
	}
}

func (r *workerRig) kinds() []EventKind {
	var out []EventKind
	for _, e := range r.feed.Recent() {
		out = append(out, e.Kind)
	}
	return out
}

func TestWorker_step_Classes(t *testing.T) {
	tests := []struct {
		name      string
		answer    func(apiclient.Action) (*apiclient.Card, error)
		wantVerbs []string
		wantState queue.State
		wantEvent EventKind
		wantText  string // in the event's message
		check     func(t *testing.T, r *workerRig)
	}{
		{"applied", answer(stampAt(9)),
			[]string{"sending add-stamp 1", "done stamp 9/10"}, queue.Done, EventApplied, "1 stamp added — 9/10, 1 to go",
			func(t *testing.T, r *workerRig) {
				if s := r.w.Status(); !s.APIReachable || !s.LastSuccess.Equal(r.now) {
					t.Errorf("Status() = %+v, want reachable with LastSuccess", s)
				}
			}},
		{"ambiguous 502", fail(statusErr(502, "Bad Gateway", apiclient.ErrAmbiguous)),
			[]string{"sending add-stamp 1", "ambiguous ambiguous misses=0"}, queue.Ambiguous, EventReconciling, "checking",
			func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); !j.NextAttempt.Equal(r.now.Add(30 * time.Second)) {
					t.Errorf("recheck at %v, want now+Settle", j.NextAttempt)
				}
			}},
		{"ambiguous timeout", fail(fmt.Errorf("apiclient: add-stamp: %w: %w", apiclient.ErrAmbiguous, context.DeadlineExceeded)),
			[]string{"sending add-stamp 1", "ambiguous ambiguous misses=0"}, queue.Ambiguous, EventReconciling, "checking", nil},
		{"rejected not enough", fail(statusErr(400, "not enough stamps on the card", apiclient.ErrRejected)),
			[]string{"sending add-stamp 1", "refused not enough balance (not enough stamps on the card)"}, queue.Refused, EventRefused,
			"NOT applied — not enough balance", nil},
		{"rejected unknown card", fail(statusErr(404, "Card not found", apiclient.ErrRejected)),
			[]string{"sending add-stamp 1", "refused unknown card (Card not found)"}, queue.Refused, EventRefused, "unknown card",
			func(t *testing.T, r *workerRig) {
				if _, ok := r.w.cache.Get(stampCard); ok {
					t.Error("a card the API does not know is still cached")
				}
			}},
		{"unauthorized", fail(statusErr(401, "Invalid API key", apiclient.ErrUnauthorized)),
			[]string{"sending add-stamp 1", "retry unauthorized"}, queue.Pending, EventUnauthorized, "key refused",
			func(t *testing.T, r *workerRig) {
				if s := r.w.Status(); !s.Paused || !strings.Contains(s.PauseReason, "key") {
					t.Errorf("Status() = %+v, want paused", s)
				}
				if j := r.get(t, "J1"); j.NextAttempt.After(r.now) {
					t.Errorf("job due at %v, want now (sent again on resume)", j.NextAttempt)
				}
			}},
		{"not sent", fail(fmt.Errorf("apiclient: add-stamp: %w: dial tcp: connection refused", apiclient.ErrNotSent)),
			[]string{"sending add-stamp 1", "retry not_sent"}, queue.Pending, EventWaiting, "no connection",
			func(t *testing.T, r *workerRig) {
				j, s := r.get(t, "J1"), r.w.Status()
				if d := j.NextAttempt.Sub(r.now); d < time.Second || d > 2*time.Second {
					t.Errorf("retry in %v, want the first backoff step (1s–2s)", d)
				}
				if s.APIReachable || s.RetryAt != j.NextAttempt || s.LastErr == "" {
					t.Errorf("Status() = %+v, want unreachable until %v", s, j.NextAttempt)
				}
			}},
		{"rate limited with Retry-After", fail(fmt.Errorf("apiclient: %w", &apiclient.StatusError{Status: 429, RetryAfter: 40 * time.Second, Class: apiclient.ErrRateLimited})),
			[]string{"sending add-stamp 1", "retry rate_limited"}, queue.Pending, EventWaiting, "slow down",
			func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); j.NextAttempt.Sub(r.now) < 40*time.Second {
					t.Errorf("retry at %v, want after Retry-After (40s)", j.NextAttempt)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{apply: []func(apiclient.Action) (*apiclient.Card, error){tt.answer}}
			r := newRig(t, WorkerConfig{Currency: "£"}, api, nil, pendingJob("J1", stampCard))
			r.step(t)
			if got := r.q.log(); strings.Join(got, "|") != strings.Join(tt.wantVerbs, "|") {
				t.Errorf("queue verbs = %q, want %q", got, tt.wantVerbs)
			}
			if j := r.get(t, "J1"); j.State != tt.wantState {
				t.Errorf("job state = %s, want %s", j.State, tt.wantState)
			}
			evs := r.feed.Recent()
			if len(evs) != 1 || evs[0].Kind != tt.wantEvent || !strings.Contains(evs[0].Message, tt.wantText) {
				t.Fatalf("events = %+v, want one %s containing %q", evs, tt.wantEvent, tt.wantText)
			}
			if e := evs[0]; e.Kind != EventUnauthorized && (e.JobID != r.ids["J1"] || e.Card != stampCard || e.Scanner != "front") {
				t.Errorf("event %+v does not name the job", e)
			}
			if e := evs[0]; (e.Kind == EventApplied || e.Kind == EventRefused) && e.Action != "add-stamp 1" {
				t.Errorf("event action %q, want add-stamp 1", e.Action)
			}
			if a := api.applied[0]; a.Comment != r.marker("J1") || a.Card != stampCard {
				t.Errorf("applied %+v, want the marker as comment", a)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// TestWorker_RefusedOrParked: a definite no ends the job as refused and
// holds nothing; what the till cannot decide (a request the client would
// not send: tillscan's own bug) and, with ParkRefusals, every refusal is
// parked dead for an operator. Applied and uncertain jobs are unaffected.
func TestWorker_RefusedOrParked(t *testing.T) {
	taken := fail(statusErr(400, "visit has already been registered", apiclient.ErrRejected))
	ownBug := fail(fmt.Errorf("apiclient: add-stamp: quantity 0 must be positive: %w", apiclient.ErrRejected))
	tests := []struct {
		name      string
		park      bool
		answer    func(apiclient.Action) (*apiclient.Card, error)
		wantVerbs string
		wantState queue.State
		wantEvent EventKind
	}{
		{"refused", false, taken, "sending add-stamp 1|refused already done (visit has already been registered)", queue.Refused, EventRefused},
		{"refused, parked on request", true, taken,
			"sending add-stamp 1|dead already done (visit has already been registered)", queue.Dead, EventRefused},
		{"malformed by tillscan: needs an operator", false, ownBug,
			"sending add-stamp 1|dead apiclient: add-stamp: quantity 0 must be positive: apiclient: rejected", queue.Dead, EventDead},
		{"applied is not parked", true, answer(stampAt(9)), "sending add-stamp 1|done stamp 9/10", queue.Done, EventApplied},
		{"uncertain is not parked", true, fail(statusErr(502, "Bad Gateway", apiclient.ErrAmbiguous)),
			"sending add-stamp 1|ambiguous ambiguous misses=0", queue.Ambiguous, EventReconciling},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{apply: []func(apiclient.Action) (*apiclient.Card, error){tt.answer}}
			r := newRig(t, WorkerConfig{ParkRefusals: tt.park}, api, nil, pendingJob("J1", stampCard), pendingJob("J2", stampCard))
			r.step(t)
			if got := strings.Join(r.q.log(), "|"); got != tt.wantVerbs {
				t.Errorf("queue verbs = %q, want %q", got, tt.wantVerbs)
			}
			if j := r.get(t, "J1"); j.State != tt.wantState {
				t.Errorf("job state = %s, want %s", j.State, tt.wantState)
			}
			if k := r.kinds(); len(k) != 1 || k[0] != tt.wantEvent {
				t.Errorf("events = %v, want [%s]", k, tt.wantEvent)
			}
			next, err := r.q.Next(r.now)
			holds := errors.Is(err, queue.ErrEmpty)
			if wantHold := tt.wantState == queue.Dead || tt.wantState == queue.Ambiguous; holds != wantHold || !holds && next.ID != r.ids["J2"] {
				t.Errorf("after J1 %s: Next() = %s, %v; want J2 held %v", tt.wantState, next.ID, err, wantHold)
			}
		})
	}
}

func TestWorker_Comment(t *testing.T) {
	api := &fakeAPI{}
	rules := DefaultRules()
	rules.Comment = "front till"
	r := newRig(t, WorkerConfig{}, api, func() Rules { return rules }, pendingJob("J1", stampCard))
	r.step(t)
	if got := api.applied[0].Comment; got != r.marker("J1")+" front till" {
		t.Errorf("comment = %q", got)
	}
}

func TestWorker_LookupCostsOneGetPerCard(t *testing.T) {
	api := &fakeAPI{}
	r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", stampCard), pendingJob("J2", stampCard))
	r.step(t)
	r.step(t)
	if api.gets != 1 || len(api.applied) != 2 {
		t.Fatalf("two scans of one card: %d GETs, %d actions; want 1 and 2", api.gets, len(api.applied))
	}
}

func TestWorker_RedeemRewardReadsTheBalance(t *testing.T) {
	card := rewardCard(260)
	api := &fakeAPI{cards: map[string]apiclient.Card{card.ID: card}}
	j := pendingJob("J1", card.ID)
	j.mode = ModeRedeem
	r := newRig(t, WorkerConfig{}, api, nil, j)
	if err := r.w.cache.Put(card.ID, CardInfo{Type: apiclient.Reward, TemplateID: 7}); err != nil {
		t.Fatal(err)
	}
	r.step(t)
	if api.gets != 1 || len(api.applied) != 1 || api.applied[0].Quantity != 12 {
		t.Fatalf("%d GETs, sent %+v; want a fresh GET and receive-reward of tier 12", api.gets, api.applied)
	}
}

func TestWorker_LookupFailures(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantVerbs string
		wantState queue.State
		wantEvent EventKind
	}{
		{"not sent: job stays pending, worker backs off", fmt.Errorf("%w: dial", apiclient.ErrNotSent), "", queue.Pending, EventWaiting},
		{"ambiguous GET is a failed read", fmt.Errorf("%w: reset", apiclient.ErrAmbiguous), "", queue.Pending, EventWaiting},
		{"unknown card", statusErr(404, "Card not found", apiclient.ErrRejected),
			"refused unknown card (Card not found)", queue.Refused, EventRefused},
		{"unauthorized", statusErr(403, "Forbidden", apiclient.ErrUnauthorized), "", queue.Pending, EventUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{getErrs: []error{tt.err}}
			r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", stampCard))
			r.step(t)
			if got := strings.Join(r.q.log(), "|"); got != tt.wantVerbs {
				t.Errorf("queue verbs = %q, want %q", got, tt.wantVerbs)
			}
			if j := r.get(t, "J1"); j.State != tt.wantState {
				t.Errorf("state = %s, want %s", j.State, tt.wantState)
			}
			if k := r.kinds(); len(k) != 1 || k[0] != tt.wantEvent {
				t.Errorf("events = %v, want [%s]", k, tt.wantEvent)
			}
			if len(api.applied) != 0 {
				t.Errorf("applied %v after a failed lookup", api.applied)
			}
		})
	}
}

func TestWorker_DecideErrorIsRejectedBeforeSending(t *testing.T) {
	api := &fakeAPI{cards: map[string]apiclient.Card{"612001-100-201": {ID: "612001-100-201", Type: apiclient.Cashback, TemplateID: 2}}}
	r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", "612001-100-201"))
	r.step(t)
	if len(api.applied) != 0 {
		t.Fatalf("applied %v without a purchase sum", api.applied)
	}
	ev := r.feed.Recent()[0]
	if r.get(t, "J1").State != queue.Refused || ev.Kind != EventRefused || !strings.Contains(ev.Message, "purchase sum") {
		t.Fatalf("state %s, event %+v; want refused, asking for the sum", r.get(t, "J1").State, ev)
	}
}

func TestWorker_WaitingOnlyOncePerStreak(t *testing.T) {
	notSent := fail(fmt.Errorf("%w: dial", apiclient.ErrNotSent))
	api := &fakeAPI{apply: []func(apiclient.Action) (*apiclient.Card, error){notSent, notSent, answer(stampAt(9)), notSent}}
	r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", stampCard))
	delay := func(id string) time.Duration {
		j := r.get(t, id)
		d := j.NextAttempt.Sub(r.now)
		r.now = j.NextAttempt
		return d
	}
	r.step(t) // J1 fails: streak 1
	d1 := delay("J1")
	r.step(t) // J1 fails again: streak 2, no second event
	d2 := delay("J1")
	r.step(t) // J1 applied: streak over
	r.add(t, pendingJob("J2", stampCard))
	r.step(t) // J2 fails: a new streak
	d3 := delay("J2")
	var waiting int
	for _, k := range r.kinds() {
		if k == EventWaiting {
			waiting++
		}
	}
	if waiting != 2 {
		t.Errorf("events %v: %d waiting, want 2 (one per failure streak)", r.kinds(), waiting)
	}
	if d1 < time.Second || d1 > 2*time.Second || d2 < 2*time.Second || d2 > 4*time.Second || d3 > 2*time.Second {
		t.Errorf("retry delays %v, %v, then %v; want [1s,2s], [2s,4s], then [1s,2s] again", d1, d2, d3)
	}
}

func TestBackoff(t *testing.T) {
	base, ceiling := 2*time.Second, 5*time.Minute
	prev := time.Duration(0)
	for n := 1; n <= 12; n++ {
		lo, hi := backoff(n, base, ceiling, 0), backoff(n, base, ceiling, 0.999999)
		if hi > ceiling || lo > hi {
			t.Fatalf("backoff(%d) in [%v, %v]: not capped at %v", n, lo, hi, ceiling)
		}
		if n <= 8 && lo <= prev {
			t.Errorf("backoff(%d) low end %v, want more than %v (it doubles)", n, lo, prev)
		}
		prev = lo
	}
	if got := backoff(200, base, ceiling, 0.999999); got > ceiling || got < ceiling/2 {
		t.Errorf("backoff(200) = %v, want within [cap/2, cap] (no overflow)", got)
	}
	if got := backoff(1, base, ceiling, 0); got != time.Second {
		t.Errorf("backoff(1, r=0) = %v, want 1s (half of base)", got)
	}
}

func TestWorker_LearnsMechanics(t *testing.T) {
	irrelevant := fail(statusErr(400, "Irrelevant accrual type", apiclient.ErrRejected))
	visitsCard := apiclient.Card{ID: "544256-439-857", Type: apiclient.Stamp, TemplateID: 2,
		Balance: apiclient.Balance{CurrentNumberOfUses: ptr(3.0), NumberStampsTotal: ptr(8.0)}}
	spendCard := apiclient.Card{ID: "544256-439-858", Type: apiclient.Stamp, TemplateID: 3}
	cards := map[string]apiclient.Card{visitsCard.ID: visitsCard, spendCard.ID: spendCard}

	t.Run("visits, learned once, remembered", func(t *testing.T) {
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant}}
		r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", visitsCard.ID), pendingJob("J2", visitsCard.ID))
		r.step(t)
		want := "sending add-stamp 1|retry rejected|sending add-visit 1|done stamp 3/8"
		if got := strings.Join(r.q.log(), "|"); got != want {
			t.Errorf("verbs = %q, want %q", got, want)
		}
		if a := api.applied; a[0].Comment != a[1].Comment {
			t.Errorf("probe comments %q, %q: every send of a job carries the same marker", a[0].Comment, a[1].Comment)
		}
		if m, _ := r.w.cache.Mechanics(2); m != MechVisits {
			t.Errorf("learned %q, want visits", m)
		}
		r.step(t) // J2: straight to add-visit
		if n := len(api.applied); n != 3 || api.applied[2].Method != apiclient.AddVisit {
			t.Errorf("second scan sent %v, want one add-visit", api.applied[2:])
		}
	})
	t.Run("spend without a sum: learned by elimination, then refused", func(t *testing.T) {
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant, irrelevant}}
		r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", spendCard.ID))
		r.step(t)
		if j := r.get(t, "J1"); j.State != queue.Refused || !strings.Contains(j.Reason, "purchase sum") {
			t.Errorf("job %s %q, want refused asking for the purchase sum", j.State, j.Reason)
		}
		if m, _ := r.w.cache.Mechanics(3); m != MechSpend {
			t.Errorf("learned %q, want spend", m)
		}
	})
	t.Run("spend with a sum", func(t *testing.T) {
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant, irrelevant}}
		j := pendingJob("J1", spendCard.ID)
		j.sum = ptr(25.0)
		r := newRig(t, WorkerConfig{}, api, nil, j)
		r.step(t)
		if got := api.applied[2]; got.Method != apiclient.AddPurchase || got.Quantity != 25 || r.get(t, "J1").State != queue.Done {
			t.Errorf("third probe %s %v, state %s; want add-purchase 25, done", got.Method, got.Quantity, r.get(t, "J1").State)
		}
	})
	t.Run("a different refusal proves the accrual type", func(t *testing.T) {
		taken := fail(statusErr(400, "visit has already been registered", apiclient.ErrRejected))
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant, taken}}
		r := newRig(t, WorkerConfig{}, api, nil, pendingJob("J1", visitsCard.ID))
		r.step(t)
		if m, _ := r.w.cache.Mechanics(2); m != MechVisits || r.get(t, "J1").State != queue.Refused {
			t.Errorf("learned %q, state %s; want visits and refused", m, r.get(t, "J1").State)
		}
	})
	t.Run("config wins: no probing", func(t *testing.T) {
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant}}
		rules := DefaultRules()
		rules.Mechanics = map[int]Mechanics{2: MechStamps}
		r := newRig(t, WorkerConfig{}, api, func() Rules { return rules }, pendingJob("J1", visitsCard.ID))
		r.step(t)
		if len(api.applied) != 1 || r.get(t, "J1").State != queue.Refused || !strings.Contains(r.get(t, "J1").Reason, "mechanics in the config") {
			t.Errorf("sent %d, job %+v; want one send and refused pointing at the config", len(api.applied), r.get(t, "J1"))
		}
		if _, ok := r.w.cache.Mechanics(2); ok {
			t.Error("learned mechanics although the config declares them")
		}
	})
	t.Run("a wrong learned guess is corrected", func(t *testing.T) {
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant}}
		j := pendingJob("J1", visitsCard.ID)
		j.sum = ptr(9.0)
		r := newRig(t, WorkerConfig{}, api, nil, j)
		if err := r.w.cache.LearnMechanics(2, MechSpend); err != nil {
			t.Fatal(err)
		}
		r.step(t)
		if got := api.applied[1].Method; got != apiclient.AddStamp {
			t.Errorf("after spend was refused, probed %s, want add-stamp (first untried)", got)
		}
		if m, _ := r.w.cache.Mechanics(2); m != MechStamps {
			t.Errorf("learned %q, want stamps", m)
		}
	})
	t.Run("all refused", func(t *testing.T) {
		api := &fakeAPI{cards: cards, apply: []func(apiclient.Action) (*apiclient.Card, error){irrelevant, irrelevant, irrelevant}}
		j := pendingJob("J1", visitsCard.ID)
		j.sum = ptr(9.0)
		r := newRig(t, WorkerConfig{}, api, nil, j)
		r.step(t)
		if len(api.applied) != 3 || r.get(t, "J1").State != queue.Refused {
			t.Errorf("sent %d, state %s; want 3 probes then refused", len(api.applied), r.get(t, "J1").State)
		}
	})
}

func op(id int64, card string, template int, comment string) apiclient.Operation {
	return apiclient.Operation{ID: id, CardID: card, TemplateID: template, Comment: &comment}
}

func TestWorker_Reconcile(t *testing.T) {
	noise := func(n int) []apiclient.Operation {
		var ops []apiclient.Operation
		for i := range n {
			ops = append(ops, op(int64(100+i), stampCard, 1, fmt.Sprintf("tillscan:till-1:J%d", 10+i)))
		}
		return ops
	}
	tests := []struct {
		name      string
		misses    int
		api       *fakeAPI
		ops       func(marker string) []apiclient.Operation // what GET /operations holds, given J1's marker
		wantVerbs string
		wantKinds string
		check     func(t *testing.T, r *workerRig)
	}{
		{"found", 0, &fakeAPI{}, func(m string) []apiclient.Operation { return []apiclient.Operation{op(1, stampCard, 1, m)} },
			"done stamp 8/10", "applied", nil},
		{"found with configured text after it", 0, &fakeAPI{},
			func(m string) []apiclient.Operation {
				return []apiclient.Operation{op(1, stampCard, 1, m+" front till")}
			},
			"done stamp 8/10", "applied", nil},
		{"prefix trap is not a match", 0, &fakeAPI{}, func(m string) []apiclient.Operation { return []apiclient.Operation{op(1, stampCard, 1, m+"2")} },
			"ambiguous absent misses=1", "", nil},
		{"found on a later page behind a server page cap", 0,
			&fakeAPI{perPage: 7}, func(m string) []apiclient.Operation { return append(noise(20), op(1, stampCard, 1, m)) },
			"done stamp 8/10", "applied", func(t *testing.T, r *workerRig) {
				if n := len(r.api.lists); n != 3 {
					t.Errorf("read %d pages, want 3 (21 items, 7 per page)", n)
				}
			}},
		{"absent, not yet sure", 1, &fakeAPI{ops: noise(3)}, nil,
			"ambiguous absent misses=2", "", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); !j.NextAttempt.Equal(r.now.Add(30 * time.Second)) {
					t.Errorf("next look at %v, want now+Settle", j.NextAttempt)
				}
				if len(r.api.applied) != 0 {
					t.Error("re-sent before being sure")
				}
			}},
		{"absent on every look: back to pending, due now", 2, &fakeAPI{ops: noise(3)}, nil,
			"retry absent", "", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); j.State != queue.Pending || j.NextAttempt.After(r.now) {
					t.Errorf("job %s due %v, want pending due now", j.State, j.NextAttempt)
				}
			}},
		{"read failed: look later, same count", 1, &fakeAPI{opsErrs: []error{fmt.Errorf("%w: dial", apiclient.ErrNotSent)}}, nil,
			"ambiguous not_sent misses=1", "waiting", func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); j.NextAttempt.Sub(r.now) < 30*time.Second {
					t.Errorf("next look in %v, want at least Settle", j.NextAttempt.Sub(r.now))
				}
			}},
		{"read got 503", 1, &fakeAPI{opsErrs: []error{statusErr(503, "", apiclient.ErrAmbiguous)}}, nil,
			"ambiguous ambiguous misses=1", "waiting", nil},
		{"read unauthorized: pause, keep it ambiguous", 0, &fakeAPI{opsErrs: []error{statusErr(401, "", apiclient.ErrUnauthorized)}}, nil,
			"ambiguous unauthorized misses=0", "unauthorized", nil},
		{"read refused for good: park, never re-send", 0, &fakeAPI{opsErrs: []error{statusErr(400, "bad date", apiclient.ErrRejected)}}, nil,
			"dead cannot check whether it was applied: refused: bad date; look at the card's operations and resolve the job", "dead", nil},
		{"duplicate marker", 0, &fakeAPI{},
			func(m string) []apiclient.Operation {
				return []apiclient.Operation{op(1, stampCard, 1, m), op(2, stampCard, 1, "x "+m)}
			},
			"done stamp 8/10", "applied,duplicate", nil},
		{"card filter empty: template fallback finds it", 0,
			&fakeAPI{noCard: true}, func(m string) []apiclient.Operation {
				return []apiclient.Operation{op(5, "other", 1, "x"), op(6, stampCard, 1, m)}
			},
			"done stamp 8/10", "applied", func(t *testing.T, r *workerRig) {
				if n := len(r.api.lists); n < 2 || r.api.lists[1].TemplateID != 1 || r.api.lists[1].CardID != "" {
					t.Errorf("queries %+v, want a template query after the empty card query", r.api.lists)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, WorkerConfig{}, tt.api, nil, ambiguousJob("J1", tt.misses))
			if tt.ops != nil {
				tt.api.ops = tt.ops(r.marker("J1"))
			}
			r.step(t)
			if got := strings.Join(r.q.log(), "|"); got != tt.wantVerbs {
				t.Errorf("verbs = %q, want %q", got, tt.wantVerbs)
			}
			var kinds []string
			for _, k := range r.kinds() {
				kinds = append(kinds, string(k))
			}
			if got := strings.Join(kinds, ","); got != tt.wantKinds {
				t.Errorf("events = %q, want %q", got, tt.wantKinds)
			}
			if len(tt.api.applied) != 0 {
				t.Errorf("a reconciliation step sent %v", tt.api.applied)
			}
			q := tt.api.lists[0]
			if q.CardID != stampCard || !q.StartDate.Equal(day(t0).AddDate(0, 0, -1)) || !q.EndDate.Equal(day(t0).AddDate(0, 0, 1)) {
				t.Errorf("first query %+v, want the card from the day before the send to tomorrow", q)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestWorker_ReconcileThenResend(t *testing.T) {
	api := &fakeAPI{}
	r := newRig(t, WorkerConfig{Looks: 2}, api, nil, ambiguousJob("J1", 0))
	r.step(t) // miss 1
	r.now = r.now.Add(30 * time.Second)
	r.step(t) // miss 2: surely absent
	r.step(t) // re-send
	want := "ambiguous absent misses=1|retry absent|sending add-stamp 1|done stamp 8/10"
	if got := strings.Join(r.q.log(), "|"); got != want {
		t.Fatalf("verbs = %q, want %q", got, want)
	}
	if c := api.applied[0].Comment; c != r.marker("J1") {
		t.Errorf("re-send comment %q, want the same marker", c)
	}
}

// TestWorker_Run drives Run's idle, wake, backoff and pause logic on the
// synctest fake clock.
func TestWorker_Run(t *testing.T) {
	t.Run("idle until woken, then sends; nil on cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := &fakeAPI{}
			r := newRunRig(t, WorkerConfig{Idle: time.Hour}, api)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.w.Run(ctx) }()
			synctest.Wait() // Run is idle: nothing queued
			if api.nApplied() != 0 {
				t.Fatal("sent with an empty queue")
			}
			start := time.Now()
			r.add(t, pendingJob("J1", stampCard))
			r.w.Wake()
			synctest.Wait()
			if api.nApplied() != 1 || time.Since(start) != 0 {
				t.Fatalf("after Wake: %d sent after %v, want 1 at once", api.nApplied(), time.Since(start))
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run() = %v, want nil after cancel", err)
			}
		})
	})
	t.Run("sleeps until the next job is due", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := &fakeAPI{}
			j := pendingJob("J1", stampCard)
			j.due = 90 * time.Second
			r := newRunRig(t, WorkerConfig{Idle: time.Hour}, api, j)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.w.Run(ctx) }()
			defer func() { cancel(); <-done }() // no log line after the test returns
			time.Sleep(89 * time.Second)
			synctest.Wait()
			if api.nApplied() != 0 {
				t.Fatal("sent before the job was due")
			}
			time.Sleep(time.Second)
			synctest.Wait()
			if api.nApplied() != 1 {
				t.Fatal("not sent when due")
			}
		})
	})
	t.Run("backs off while unreachable; a new scan does not end it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			notSent := fail(fmt.Errorf("%w: dial", apiclient.ErrNotSent))
			api := &fakeAPI{apply: []func(apiclient.Action) (*apiclient.Card, error){notSent, notSent},
				cards: map[string]apiclient.Card{stampCard: stampAt(8), "544256-439-999": stampAt(1)}}
			r := newRunRig(t, WorkerConfig{RetryBase: 10 * time.Second, RetryCap: time.Minute, Idle: time.Hour}, api,
				pendingJob("J1", stampCard))
			api.calls = make(chan string, 100)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.w.Run(ctx) }()
			defer func() { cancel(); <-done }() // no log line after the test returns
			nextApply := func() time.Time {
				for c := range api.calls {
					if c == string(apiclient.AddStamp) {
						return time.Now()
					}
				}
				return time.Time{}
			}
			sentAt := []time.Time{nextApply()}
			// A known card: no GET, whose success would end the streak.
			if err := r.w.cache.Put("544256-439-999", CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
				t.Fatal(err)
			}
			r.add(t, pendingJob("J2", "544256-439-999"))
			r.w.Wake() // a new scan must not cut the backoff short
			sentAt = append(sentAt, nextApply(), nextApply())
			if d := sentAt[1].Sub(sentAt[0]); d < 5*time.Second || d > 10*time.Second {
				t.Errorf("second try %v after the first, want within the first backoff step [5s, 10s]", d)
			}
			if d := sentAt[2].Sub(sentAt[1]); d < 10*time.Second || d > 20*time.Second {
				t.Errorf("third try %v after the second, want within [10s, 20s]", d)
			}
		})
	})
	t.Run("unauthorized pauses until the client accepts a key and Wake", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := &fakeAPI{apply: []func(apiclient.Action) (*apiclient.Card, error){fail(statusErr(401, "", apiclient.ErrUnauthorized))}}
			r := newRunRig(t, WorkerConfig{Idle: time.Minute}, api, pendingJob("J1", stampCard))
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.w.Run(ctx) }()
			time.Sleep(time.Hour)
			synctest.Wait()
			if api.nApplied() != 1 || !r.w.Status().Paused {
				t.Fatalf("sent %d times in an hour of pause (paused=%v), want 1", api.nApplied(), r.w.Status().Paused)
			}
			api.acceptKey() // the client's SetAPIKey
			r.w.Wake()
			synctest.Wait()
			if api.nApplied() != 2 || r.w.Status().Paused || r.get(t, "J1").State != queue.Done {
				t.Fatalf("after the key was accepted: sent %d, status %+v, job %s; want sent again and done", api.nApplied(), r.w.Status(), r.get(t, "J1").State)
			}
			if n := strings.Count(strings.Join(func() []string {
				var s []string
				for _, k := range r.kinds() {
					s = append(s, string(k))
				}
				return s
			}(), ","), "unauthorized"); n != 1 {
				t.Errorf("%d unauthorized events, want 1", n)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run() = %v", err)
			}
		})
	})
	t.Run("a job an operator changed mid-send does not stop Run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			api := &fakeAPI{cards: map[string]apiclient.Card{stampCard: stampAt(8), "544256-439-999": stampAt(1)}}
			r := newRunRig(t, WorkerConfig{Idle: time.Hour}, api, pendingJob("J1", stampCard), pendingJob("J2", "544256-439-999"))
			dropped := false
			api.onGet = func() { // the operator drops J1 while the worker looks its card up
				if !dropped {
					dropped = true
					if err := r.q.Queue.Drop(r.ids["J1"], "operator", time.Now()); err != nil {
						t.Errorf("Drop: %v", err)
					}
				}
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- r.w.Run(ctx) }()
			time.Sleep(time.Minute)
			synctest.Wait()
			if j := r.get(t, "J2"); j.State != queue.Done {
				t.Errorf("J2 is %s, want done: Run must go on after the conflict", j.State)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run() = %v, want nil", err)
			}
		})
	})
	t.Run("startup check", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			err        error
			reachable  bool
			paused     bool
			wantEvents int
		}{
			{"answers", nil, true, false, 0},
			{"key refused", statusErr(401, "", apiclient.ErrUnauthorized), true, true, 1},
			{"unreachable", fmt.Errorf("%w: dial", apiclient.ErrNotSent), false, false, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					api := &fakeAPI{}
					if tc.err != nil {
						api.opsErrs = []error{tc.err}
					}
					r := newRunRig(t, WorkerConfig{StartupCheck: true}, api)
					ctx, cancel := context.WithCancel(t.Context())
					done := make(chan error, 1)
					go func() { done <- r.w.Run(ctx) }()
					synctest.Wait()
					st := r.w.Status()
					if st.APIReachable != tc.reachable || st.Paused != tc.paused || len(r.feed.Recent()) != tc.wantEvents {
						t.Errorf("Status() = %+v, events %v; want reachable %v, paused %v, %d events", st, r.kinds(), tc.reachable, tc.paused, tc.wantEvents)
					}
					if len(api.lists) != 1 || api.lists[0].ItemsPerPage != 1 {
						t.Errorf("queries %+v, want one of one item", api.lists)
					}
					cancel()
					<-done
				})
			})
		}
	})
	t.Run("queue failure ends Run with an error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRunRig(t, WorkerConfig{}, &fakeAPI{})
			w := NewWorker(WorkerConfig{}, brokenQueue{r.q}, r.api, nil, nil, nil, zerolog.Nop())
			if err := w.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "disk on fire") {
				t.Fatalf("Run() = %v, want the queue's error", err)
			}
		})
	})
}

// brokenQueue fails Next.
type brokenQueue struct{ *recQueue }

func (brokenQueue) Next(time.Time) (queue.Job, error) { return queue.Job{}, errors.New("disk on fire") }
