package pos

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/queue"
)

func TestWorker_process_Classes(t *testing.T) {
	tests := []struct {
		name       string
		card       string
		mode       string
		fault      func(r *workerRig)
		wantVerbs  []string
		wantState  queue.State
		wantEvent  EventKind
		wantText   string // in the event's message
		wantAction string // the event's action, for applied and refused events
		check      func(t *testing.T, r *workerRig)
	}{
		{"applied", stampCard, "", nil,
			[]string{"sending add-stamp 1", "done stamp 8/10"}, queue.Done, EventApplied, "1 stamp added — 8/10, 2 to go", "add-stamp 1",
			func(t *testing.T, r *workerRig) {
				if s := r.w.Status(); !s.APIReachable || !s.LastSuccess.Equal(r.now) {
					t.Errorf("Status() = %+v, want reachable with LastSuccess", s)
				}
				if n := r.markers("J1"); n != 1 {
					t.Errorf("marker on %d operations, want 1", n)
				}
			}},
		{"ambiguous 502", stampCard, "", func(r *workerRig) { r.sb.FailNext(http.StatusBadGateway) },
			[]string{"sending add-stamp 1", "ambiguous ambiguous misses=0"}, queue.Ambiguous, EventReconciling, "checking", "",
			func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); !j.NextAttempt.Equal(r.now.Add(30 * time.Second)) {
					t.Errorf("recheck at %v, want now+Settle", j.NextAttempt)
				}
			}},
		{"ambiguous timeout", stampCard, "", func(r *workerRig) { r.sb.SetFaults(sandbox.Faults{Latency: time.Hour}) },
			[]string{"sending add-stamp 1", "ambiguous ambiguous misses=0"}, queue.Ambiguous, EventReconciling, "checking", "", nil},
		{"refused: not enough", stampCard, ModeRedeem, nil,
			[]string{"sending subtract-reward 1", "refused not enough balance (not enough rewards on the card)"}, queue.Refused,
			EventRefused, "NOT applied — not enough balance", "subtract-reward 1", nil},
		{"refused: unknown card", unknownCard, "", nil,
			[]string{"sending add-stamp 1", "refused unknown card (Card not found)"}, queue.Refused, EventRefused, "unknown card", "add-stamp 1",
			func(t *testing.T, r *workerRig) {
				if _, ok := r.w.cache.Get(unknownCard); ok {
					t.Error("a card the API does not know is still cached")
				}
			}},
		{"unauthorized", stampCard, "", func(r *workerRig) { r.sb.FailNext(http.StatusUnauthorized) },
			[]string{"sending add-stamp 1", "retry unauthorized"}, queue.Pending, EventUnauthorized, "key refused", "",
			func(t *testing.T, r *workerRig) {
				if s := r.w.Status(); !s.Paused || !strings.Contains(s.PauseReason, "key") || s.PausedSince.IsZero() {
					t.Errorf("Status() = %+v, want paused, saying why and since when", s)
				}
				if j := r.get(t, "J1"); j.NextAttempt.After(r.now) {
					t.Errorf("job due at %v, want now (sent again once the key works)", j.NextAttempt)
				}
			}},
		{"not sent", stampCard, "", func(r *workerRig) { r.net.down.Store(true) },
			[]string{"sending add-stamp 1", "retry not_sent"}, queue.Pending, EventWaiting, "no connection", "",
			func(t *testing.T, r *workerRig) {
				j, s := r.get(t, "J1"), r.w.Status()
				if d := j.NextAttempt.Sub(r.now); d < time.Second || d > 2*time.Second {
					t.Errorf("retry in %v, want the first backoff step (1s–2s)", d)
				}
				if s.APIReachable || s.RetryAt != j.NextAttempt || s.LastErr == "" {
					t.Errorf("Status() = %+v, want unreachable until %v", s, j.NextAttempt)
				}
			}},
		{"rate limited with Retry-After", stampCard, "", func(r *workerRig) {
			r.sb.SetFaults(sandbox.Faults{RetryAfter: "40"})
			r.sb.FailNext(http.StatusTooManyRequests)
		},
			[]string{"sending add-stamp 1", "retry rate_limited"}, queue.Pending, EventWaiting, "slow down", "",
			func(t *testing.T, r *workerRig) {
				if j := r.get(t, "J1"); j.NextAttempt.Sub(r.now) < 40*time.Second {
					t.Errorf("retry at %v, want after Retry-After (40s)", j.NextAttempt)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{Currency: "£"}}, jobSpec{name: "J1", card: tt.card, mode: tt.mode})
			r.know(t, tt.card, apiclient.Stamp, 1) // the fault hits the action, not a GET
			if tt.fault != nil {
				tt.fault(r)
			}
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
			if e := evs[0]; e.Kind != EventUnauthorized && (e.JobID != r.ids["J1"] || e.Card != tt.card || e.Scanner != "front") {
				t.Errorf("event %+v does not name the job", e)
			}
			if e := evs[0]; tt.wantAction != "" && e.Action != tt.wantAction {
				t.Errorf("event action %q, want %q", e.Action, tt.wantAction)
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
	const badNumber = "LOY_12" // what a wrong card_pattern could extract; no card number
	tests := []struct {
		name      string
		park      bool
		card      string
		mode      string
		fault     func(r *workerRig)
		wantVerbs string
		wantState queue.State
		wantEvent EventKind
	}{
		{"refused", false, stampCard, ModeRedeem, nil,
			"sending subtract-reward 1|refused not enough balance (not enough rewards on the card)", queue.Refused, EventRefused},
		{"refused, parked on request", true, stampCard, ModeRedeem, nil,
			"sending subtract-reward 1|dead not enough balance (not enough rewards on the card)", queue.Dead, EventRefused},
		{"malformed by tillscan: needs an operator", false, badNumber, "", nil,
			`sending none: tillscan built a request the API client will not send (apiclient: "LOY_12" is not a card number: apiclient: rejected): check the card pattern in the config, or report a bug; then drop or retry the job|` +
				`dead tillscan built a request the API client will not send (apiclient: "LOY_12" is not a card number: apiclient: rejected): check the card pattern in the config, or report a bug; then drop or retry the job`,
			queue.Dead, EventDead},
		{"applied is not parked", true, stampCard, "", nil, "sending add-stamp 1|done stamp 8/10", queue.Done, EventApplied},
		{"uncertain is not parked", true, stampCard, "", func(r *workerRig) { r.sb.FailNext(http.StatusBadGateway) },
			"sending add-stamp 1|ambiguous ambiguous misses=0", queue.Ambiguous, EventReconciling},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{ParkRefusals: tt.park}},
				jobSpec{name: "J1", card: tt.card, mode: tt.mode}, pendingJob("J2", tt.card))
			if tt.card == stampCard {
				r.know(t, stampCard, apiclient.Stamp, 1)
			}
			if tt.fault != nil {
				tt.fault(r)
			}
			r.stepJ1(t, tt.wantVerbs, tt.wantState, tt.wantEvent)
			next, err := r.q.Next(r.now)
			holds := errors.Is(err, queue.ErrEmpty)
			if wantHold := tt.wantState == queue.Dead || tt.wantState == queue.Ambiguous; holds != wantHold || !holds && next.ID != r.ids["J2"] {
				t.Errorf("after J1 %s: Next() = %s, %v; want J2 held %v", tt.wantState, next.ID, err, wantHold)
			}
		})
	}
}

func TestWorker_Comment(t *testing.T) {
	rules := DefaultRules()
	rules.Comment = "front till"
	r := newRig(t, rigOpts{rules: func() Rules { return rules }}, pendingJob("J1", stampCard))
	r.step(t)
	ops := r.sb.Operations()
	if len(ops) != 1 || ops[0].Comment == nil || *ops[0].Comment != r.marker("J1")+" front till" {
		t.Errorf("operations %+v, want one whose comment is the marker then the configured text", ops)
	}
}

func TestWorker_LookupCostsOneGetPerCard(t *testing.T) {
	r := newRig(t, rigOpts{}, pendingJob("J1", stampCard), pendingJob("J2", stampCard))
	r.step(t)
	r.step(t)
	if gets, posts := len(r.net.requests("GET /cards/")), len(r.net.actions()); gets != 1 || posts != 2 {
		t.Fatalf("two scans of one card: %d GETs, %d actions; want 1 and 2", gets, posts)
	}
}

func TestWorker_RedeemRewardReadsTheBalance(t *testing.T) {
	r := newRig(t, rigOpts{}, jobSpec{name: "J1", card: pointsCard, mode: ModeRedeem})
	r.know(t, pointsCard, apiclient.Reward, 9) // known, but the tier depends on today's balance
	r.step(t)
	if gets := len(r.net.requests("GET /cards/")); gets != 1 || r.get(t, "J1").Action != "receive-reward 901" {
		t.Fatalf("%d GETs, sent %q; want a fresh GET and receive-reward of the tier the balance affords (901)",
			gets, r.get(t, "J1").Action)
	}
}

func TestWorker_LookupFailures(t *testing.T) {
	tests := []struct {
		name      string
		card      string
		fault     func(r *workerRig)
		wantVerbs string
		wantState queue.State
		wantEvent EventKind
	}{
		{"not sent: job stays pending, worker backs off", stampCard, func(r *workerRig) { r.net.down.Store(true) }, "", queue.Pending, EventWaiting},
		{"ambiguous GET is a failed read", stampCard, func(r *workerRig) { r.sb.FailNext(http.StatusBadGateway) }, "", queue.Pending, EventWaiting},
		{"unknown card", unknownCard, nil, "refused unknown card (Card not found)", queue.Refused, EventRefused},
		{"unauthorized", stampCard, func(r *workerRig) { r.sb.FailNext(http.StatusForbidden) }, "", queue.Pending, EventUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOpts{}, pendingJob("J1", tt.card))
			if tt.fault != nil {
				tt.fault(r)
			}
			r.stepJ1(t, tt.wantVerbs, tt.wantState, tt.wantEvent)
			if a := r.net.actions(); len(a) != 0 {
				t.Errorf("sent %v after a failed lookup", a)
			}
		})
	}
}

func TestWorker_DecideErrorIsRefusedBeforeSending(t *testing.T) {
	r := newRig(t, rigOpts{}, pendingJob("J1", cashCard))
	r.step(t)
	if a := r.net.actions(); len(a) != 0 {
		t.Fatalf("sent %v without a purchase sum", a)
	}
	ev := r.feed.Recent()[0]
	if r.get(t, "J1").State != queue.Refused || ev.Kind != EventRefused || !strings.Contains(ev.Message, "purchase sum") {
		t.Fatalf("state %s, event %+v; want refused, asking for the sum", r.get(t, "J1").State, ev)
	}
}

func TestWorker_WaitingOnlyOncePerStreak(t *testing.T) {
	r := newRig(t, rigOpts{}, pendingJob("J1", stampCard))
	r.know(t, stampCard, apiclient.Stamp, 1)
	delay := func(name string) time.Duration {
		j := r.get(t, name)
		d := j.NextAttempt.Sub(r.now)
		r.now = j.NextAttempt
		return d
	}
	r.net.down.Store(true)
	r.step(t) // J1 fails: streak 1
	d1 := delay("J1")
	r.step(t) // J1 fails again: streak 2, no second event
	d2 := delay("J1")
	r.net.down.Store(false)
	r.step(t) // J1 applied: streak over
	r.add(t, pendingJob("J2", stampCard))
	r.net.down.Store(true)
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

// TestWorker_LearnsMechanics: the API does not say a template's mechanics;
// the worker learns them from its "Irrelevant accrual type" answers.
func TestWorker_LearnsMechanics(t *testing.T) {
	const visitsTemplate, spendTemplate = 2, 10
	t.Run("visits, learned once, remembered", func(t *testing.T) {
		r := newRig(t, rigOpts{}, pendingJob("J1", visitsCard), pendingJob("J2", visitsCard))
		r.step(t)
		want := "sending add-stamp 1|retry rejected|sending add-visit 1|done stamp 3/8"
		if got := strings.Join(r.q.log(), "|"); got != want {
			t.Errorf("verbs = %q, want %q", got, want)
		}
		if m, _ := r.w.cache.Mechanics(visitsTemplate); m != MechVisits {
			t.Errorf("learned %q, want visits", m)
		}
		if n := r.markers("J1"); n != 1 {
			t.Errorf("marker on %d operations, want 1 (the probe that fitted)", n)
		}
		r.now = r.now.Add(24 * time.Hour) // one visit a day
		r.step(t)                         // J2: straight to add-visit
		if got := r.net.actions(); strings.Join(got, ",") != "add-stamp,add-visit,add-visit" {
			t.Errorf("actions %v, want the second scan to go straight to add-visit", got)
		}
	})
	t.Run("spend without a sum: learned by elimination, then refused", func(t *testing.T) {
		r := newRig(t, rigOpts{}, pendingJob("J1", spendCard))
		r.step(t)
		if j := r.get(t, "J1"); j.State != queue.Refused || !strings.Contains(j.Reason, "purchase sum") {
			t.Errorf("job %s %q, want refused asking for the purchase sum", j.State, j.Reason)
		}
		if m, _ := r.w.cache.Mechanics(spendTemplate); m != MechSpend {
			t.Errorf("learned %q, want spend", m)
		}
	})
	t.Run("spend with a sum", func(t *testing.T) {
		r := newRig(t, rigOpts{}, jobSpec{name: "J1", card: spendCard, sum: ptr(25.0)})
		r.step(t)
		if got, j := r.net.actions(), r.get(t, "J1"); strings.Join(got, ",") != "add-scores,add-visit,add-purchase" ||
			j.State != queue.Done || j.Action != "add-purchase 25" {
			t.Errorf("actions %v, job %s %q; want add-purchase 25 on the third probe, done", got, j.State, j.Action)
		}
	})
	t.Run("a different refusal proves the accrual type", func(t *testing.T) {
		r := newRig(t, rigOpts{}, pendingJob("J1", visitsCard))
		r.apply(t, visitsCard, apiclient.AddVisit, "another till") // today's visit is taken
		r.step(t)
		if m, _ := r.w.cache.Mechanics(visitsTemplate); m != MechVisits || r.get(t, "J1").State != queue.Refused {
			t.Errorf("learned %q, state %s; want visits and refused", m, r.get(t, "J1").State)
		}
	})
	t.Run("config wins: no probing", func(t *testing.T) {
		rules := DefaultRules()
		rules.Mechanics = map[int]Mechanics{visitsTemplate: MechStamps}
		r := newRig(t, rigOpts{rules: func() Rules { return rules }}, pendingJob("J1", visitsCard))
		r.step(t)
		if j := r.get(t, "J1"); len(r.net.actions()) != 1 || j.State != queue.Refused || !strings.Contains(j.Reason, "mechanics in the config") {
			t.Errorf("sent %v, job %s %q; want one send and refused pointing at the config", r.net.actions(), j.State, j.Reason)
		}
		if _, ok := r.w.cache.Mechanics(visitsTemplate); ok {
			t.Error("learned mechanics although the config declares them")
		}
	})
	t.Run("a wrong learned guess is corrected", func(t *testing.T) {
		r := newRig(t, rigOpts{}, jobSpec{name: "J1", card: visitsCard, sum: ptr(9.0)})
		if err := r.w.cache.LearnMechanics(visitsTemplate, MechSpend); err != nil {
			t.Fatal(err)
		}
		r.step(t)
		if got := r.net.actions(); strings.Join(got, ",") != "add-purchase,add-stamp,add-visit" {
			t.Errorf("actions %v: after spend was refused, want the untried ones in order", got)
		}
		if m, _ := r.w.cache.Mechanics(visitsTemplate); m != MechVisits {
			t.Errorf("learned %q, want visits", m)
		}
	})
}

// TestWorker_Run drives Run's idle, wake, backoff and pause logic on the
// synctest fake clock.
func TestWorker_Run(t *testing.T) {
	run := func(t *testing.T, r *workerRig) (stop func() error) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.w.Run(ctx) }()
		return func() error { cancel(); return <-done }
	}
	bubble := rigOpts{cfg: WorkerConfig{Idle: time.Hour}, clock: time.Now}
	t.Run("idle until woken, then sends; nil on cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, bubble)
			stop := run(t, r)
			synctest.Wait() // Run is idle: nothing queued
			if len(r.net.all()) != 0 {
				t.Fatalf("requests %v with an empty queue", r.net.all())
			}
			r.add(t, pendingJob("J1", stampCard))
			r.w.Wake()
			time.Sleep(100 * time.Millisecond) // the client paces its two requests (a GET, the action) 1ms apart
			synctest.Wait()
			if r.get(t, "J1").State != queue.Done {
				t.Fatalf("100ms after Wake: job %s, want done (the worker idles for an hour unless woken)", r.get(t, "J1").State)
			}
			if err := stop(); err != nil {
				t.Fatalf("Run() = %v, want nil after cancel", err)
			}
		})
	})
	t.Run("sleeps until the next job is due", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, bubble, jobSpec{name: "J1", card: stampCard, due: 90 * time.Second})
			stop := run(t, r)
			defer stop() // no log line after the test returns
			time.Sleep(89 * time.Second)
			synctest.Wait()
			if len(r.net.all()) != 0 {
				t.Fatal("sent before the job was due")
			}
			time.Sleep(time.Second + 100*time.Millisecond) // the client paces its two requests 1ms apart
			synctest.Wait()
			if r.get(t, "J1").State != queue.Done {
				t.Fatal("not sent when due")
			}
		})
	})
	t.Run("backs off while unreachable; a new scan does not end it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{RetryBase: 10 * time.Second, RetryCap: time.Minute, Idle: time.Hour}, clock: time.Now},
				pendingJob("J1", stampCard))
			r.know(t, stampCard, apiclient.Stamp, 1)
			r.know(t, visitsCard, apiclient.Stamp, 2) // a known card: no GET, whose success would end the streak
			r.net.calls = make(chan string, 100)
			r.net.down.Store(true)
			stop := run(t, r)
			defer stop() // no log line after the test returns
			nextTry := func() time.Time {
				for c := range r.net.calls {
					if strings.HasPrefix(c, "POST ") {
						return time.Now()
					}
				}
				return time.Time{}
			}
			triedAt := []time.Time{nextTry()}
			synctest.Wait() // J1's failure is recorded: the backoff runs
			r.add(t, pendingJob("J2", visitsCard))
			r.w.Wake() // a new scan must not cut the backoff short
			triedAt = append(triedAt, nextTry(), nextTry())
			if d := triedAt[1].Sub(triedAt[0]); d < 5*time.Second || d > 10*time.Second {
				t.Errorf("second try %v after the first, want within the first backoff step [5s, 10s]", d)
			}
			if d := triedAt[2].Sub(triedAt[1]); d < 10*time.Second || d > 20*time.Second {
				t.Errorf("third try %v after the second, want within [10s, 20s]", d)
			}
			r.net.down.Store(false)
		})
	})
	t.Run("a refused key pauses until the client takes a key (the same one) and Wake", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: WorkerConfig{Idle: time.Minute}, clock: time.Now}, pendingJob("J1", stampCard))
			r.know(t, stampCard, apiclient.Stamp, 1)
			r.sb.FailNext(http.StatusUnauthorized)
			stop := run(t, r)
			time.Sleep(time.Hour)
			synctest.Wait()
			if n := len(r.net.all()); n != 1 || !r.w.Status().Paused {
				t.Fatalf("%d requests in an hour of pause (paused=%v), want 1", n, r.w.Status().Paused)
			}
			r.client.SetAPIKey(sandbox.DemoAPIKey) // a reload: the vendor re-enabled the key
			r.w.Wake()
			synctest.Wait()
			if st := r.w.Status(); len(r.net.all()) != 2 || st.Paused || r.get(t, "J1").State != queue.Done {
				t.Fatalf("after the key was given again: %d requests, status %+v, job %s; want sent again and done",
					len(r.net.all()), st, r.get(t, "J1").State)
			}
			n := 0
			for _, k := range r.kinds() {
				if k == EventUnauthorized {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d unauthorized events, want 1", n)
			}
			if err := stop(); err != nil {
				t.Fatalf("Run() = %v", err)
			}
		})
	})
	t.Run("a job an operator changed mid-send does not stop Run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, bubble, pendingJob("J1", stampCard), pendingJob("J2", visitsCard))
			dropped := false
			r.net.hook = func(req *http.Request) { // the operator drops J1 while the worker looks its card up
				if !dropped && strings.HasSuffix(req.URL.Path, "/cards/"+stampCard) {
					dropped = true
					if err := r.q.Queue.Drop(r.ids["J1"], "operator", time.Now()); err != nil {
						t.Errorf("Drop: %v", err)
					}
				}
			}
			stop := run(t, r)
			time.Sleep(time.Minute)
			synctest.Wait()
			if j1, j2 := r.get(t, "J1"), r.get(t, "J2"); j1.State != queue.Dropped || j2.State != queue.Done {
				t.Errorf("J1 %s, J2 %s; want dropped and done: Run must go on after the conflict", j1.State, j2.State)
			}
			if err := stop(); err != nil {
				t.Fatalf("Run() = %v, want nil", err)
			}
		})
	})
	t.Run("startup check", func(t *testing.T) {
		for _, tc := range []struct {
			name       string
			fault      func(r *workerRig)
			reachable  bool
			paused     bool
			wantEvents int
		}{
			{"answers", nil, true, false, 0},
			{"key refused", func(r *workerRig) { r.sb.FailNext(http.StatusUnauthorized) }, true, true, 1},
			{"unreachable", func(r *workerRig) { r.net.down.Store(true) }, false, false, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					r := newRig(t, rigOpts{cfg: WorkerConfig{StartupCheck: true}, clock: time.Now})
					if tc.fault != nil {
						tc.fault(r)
					}
					stop := run(t, r)
					synctest.Wait()
					st := r.w.Status()
					if st.APIReachable != tc.reachable || st.Paused != tc.paused || len(r.feed.Recent()) != tc.wantEvents {
						t.Errorf("Status() = %+v, events %v; want reachable %v, paused %v, %d events", st, r.kinds(), tc.reachable, tc.paused, tc.wantEvents)
					}
					if q := r.net.requests("GET /operations"); len(q) != 1 || !strings.Contains(q[0], "itemsPerPage=1&") {
						t.Errorf("requests %v, want one read of one operation", r.net.all())
					}
					stop()
				})
			})
		}
	})
	t.Run("queue failure ends Run with an error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, rigOpts{clock: time.Now})
			w := NewWorker(WorkerConfig{}, brokenQueue{r.q}, r.client, nil, nil, nil, zerolog.Nop())
			if err := w.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "disk on fire") {
				t.Fatalf("Run() = %v, want the queue's error", err)
			}
		})
	})
}

// brokenQueue fails NextFree.
type brokenQueue struct{ *recQueue }

func (brokenQueue) NextFree(time.Time, func(string) bool) (queue.Job, error) {
	return queue.Job{}, errors.New("disk on fire")
}
