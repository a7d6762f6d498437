package queue_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// openQueue opens a fresh queue in a temporary directory and closes it at
// the end of the test.
func openQueue(tb testing.TB, opts queue.Options) (*queue.Queue, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "queue.db")
	q, err := queue.Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", path, err)
	}
	tb.Cleanup(func() { q.Close() })
	return q, path
}

func scan(card string) queue.Scan {
	return queue.Scan{Card: card, TillID: "till-1", Scanner: "front", Raw: "https://x/" + card, ScannedAt: t0}
}

func enqueue(tb testing.TB, q *queue.Queue, card string, now time.Time) queue.Job {
	tb.Helper()
	j, err := q.Enqueue(scan(card), now)
	if err != nil {
		tb.Fatalf("Enqueue(%s) = %v", card, err)
	}
	return j
}

func mustGet(tb testing.TB, q *queue.Queue, id string) queue.Job {
	tb.Helper()
	j, err := q.Get(id)
	if err != nil {
		tb.Fatalf("Get(%s) = %v", id, err)
	}
	return j
}

func mustCheck(tb testing.TB, q *queue.Queue) {
	tb.Helper()
	if err := q.Check(); err != nil {
		tb.Fatalf("Check() = %v", err)
	}
}

// wantNext asserts Next(now) returns the job with id want ("" for ErrEmpty).
func wantNext(tb testing.TB, q *queue.Queue, now time.Time, want string) {
	tb.Helper()
	j, err := q.Next(now)
	if want == "" {
		if !errors.Is(err, queue.ErrEmpty) {
			tb.Fatalf("Next() = %s (%s), %v; want ErrEmpty", j.ID, j.Card, err)
		}
		return
	}
	if err != nil || j.ID != want {
		tb.Fatalf("Next() = %s (%s), %v; want %s", j.ID, j.Card, err, want)
	}
}

func send(a string) queue.Attempt {
	return queue.Attempt{At: t0.Add(time.Second), Kind: "send", Outcome: a}
}

// into brings a new job for card into state s, the way the worker and an
// operator would.
func into(tb testing.TB, q *queue.Queue, card string, s queue.State) queue.Job {
	tb.Helper()
	j := enqueue(tb, q, card, t0)
	var err error
	switch s {
	case queue.Pending:
	case queue.Dropped:
		err = q.Drop(j.ID, "test", t0)
	default:
		err = q.Sending(j.ID, "add-stamp 1", t0)
		switch s {
		case queue.Ambiguous:
			err = errors.Join(err, q.Ambiguous(j.ID, send("ambiguous"), t0, 0))
		case queue.Done:
			err = errors.Join(err, q.Done(j.ID, send("applied"), "stamp 1/10"))
		case queue.Dead:
			err = errors.Join(err, q.Dead(j.ID, send("rejected"), "422 not allowed"))
		case queue.Refused:
			err = errors.Join(err, q.Refuse(j.ID, send("refused"), "visit already registered"))
		}
	}
	if err != nil {
		tb.Fatalf("bringing job into %s: %v", s, err)
	}
	if got := mustGet(tb, q, j.ID).State; got != s {
		tb.Fatalf("job state = %s, want %s", got, s)
	}
	return j
}

func TestTransitions(t *testing.T) {
	verbs := []struct {
		name string
		do   func(q *queue.Queue, id string) error
		to   queue.State
		from []queue.State // the states it is allowed from
	}{
		{"Sending", func(q *queue.Queue, id string) error { return q.Sending(id, "add-stamp 1", t0) },
			queue.Sending, []queue.State{queue.Pending, queue.Ambiguous}},
		{"Done", func(q *queue.Queue, id string) error { return q.Done(id, send("applied"), "8/10") },
			queue.Done, []queue.State{queue.Sending, queue.Ambiguous}},
		{"Retry", func(q *queue.Queue, id string) error { return q.Retry(id, send("not_sent"), t0) },
			queue.Pending, []queue.State{queue.Sending, queue.Ambiguous}},
		{"Ambiguous", func(q *queue.Queue, id string) error { return q.Ambiguous(id, send("ambiguous"), t0, 1) },
			queue.Ambiguous, []queue.State{queue.Sending, queue.Ambiguous}},
		{"Dead", func(q *queue.Queue, id string) error { return q.Dead(id, send("rejected"), "422") },
			queue.Dead, []queue.State{queue.Sending, queue.Ambiguous}},
		{"OperatorRetry", func(q *queue.Queue, id string) error { return q.OperatorRetry(id, t0) },
			queue.Pending, []queue.State{queue.Pending, queue.Ambiguous, queue.Dead}},
		{"Drop", func(q *queue.Queue, id string) error { return q.Drop(id, "customer left", t0) },
			queue.Dropped, []queue.State{queue.Pending, queue.Ambiguous, queue.Dead}},
		// A dead job that got a definite answer is not uncertain (TestResolve_OnlyUncertain).
		{"ResolveApplied", func(q *queue.Queue, id string) error { return q.Resolve(id, true, "seen in back office", t0) },
			queue.Done, []queue.State{queue.Ambiguous}},
		{"Refuse", func(q *queue.Queue, id string) error { return q.Refuse(id, send("refused"), "not enough balance") },
			queue.Refused, []queue.State{queue.Pending, queue.Sending}},
		{"ResolveNotApplied", func(q *queue.Queue, id string) error { return q.Resolve(id, false, "not in back office", t0) },
			queue.Pending, []queue.State{queue.Ambiguous, queue.Dead}},
	}
	from := queue.States()
	for _, v := range verbs {
		for _, s := range from {
			t.Run(v.name+"/from_"+string(s), func(t *testing.T) {
				q, _ := openQueue(t, queue.Options{})
				j := into(t, q, "544256-439-856", s)
				later := enqueue(t, q, "544256-439-856", t0) // waits behind j
				before := mustGet(t, q, j.ID)
				err := v.do(q, j.ID)
				ok := false
				for _, f := range v.from {
					ok = ok || f == s
				}
				if !ok {
					if !errors.Is(err, queue.ErrState) {
						t.Fatalf("%s from %s = %v, want ErrState", v.name, s, err)
					}
					if got := mustGet(t, q, j.ID); got.State != s || len(got.Attempts) != len(before.Attempts) {
						t.Errorf("refused %s changed the job: %+v", v.name, got)
					}
					mustCheck(t, q)
					return
				}
				if err != nil {
					t.Fatalf("%s from %s = %v, want nil", v.name, s, err)
				}
				got := mustGet(t, q, j.ID)
				if got.State != v.to {
					t.Errorf("%s from %s: state = %s, want %s", v.name, s, got.State, v.to)
				}
				mustCheck(t, q)
				// The later job of the card is handed out exactly when j is
				// finished, and is due from then (not from its scan time).
				switch {
				case v.to.Finished():
					wantNext(t, q, got.FinishedAt.Add(-time.Nanosecond), "")
					wantNext(t, q, got.FinishedAt, later.ID)
				case v.to == queue.Pending || v.to == queue.Ambiguous:
					wantNext(t, q, t0, j.ID)
				default:
					wantNext(t, q, t0, "")
				}
			})
		}
	}
}

func TestTransitions_History(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	j := enqueue(t, q, "544256-439-856", t0)
	steps := []error{
		q.Sending(j.ID, "add-stamp 1", t0),
		q.Ambiguous(j.ID, queue.Attempt{At: t0.Add(time.Second), Kind: "send", Outcome: "ambiguous", Error: "timeout", HTTPStatus: 504}, t0.Add(time.Minute), 0),
		q.Ambiguous(j.ID, queue.Attempt{At: t0.Add(time.Minute), Kind: "reconcile", Outcome: "absent"}, t0.Add(2*time.Minute), 1),
		q.Sending(j.ID, "add-stamp 1", t0.Add(3*time.Minute)),
		q.Done(j.ID, queue.Attempt{At: t0.Add(3 * time.Minute), Kind: "send", Outcome: "applied", HTTPStatus: 200}, "stamp 8/10"),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, q, j.ID)
	if got.State != queue.Done || got.Result != "stamp 8/10" || got.Action != "add-stamp 1" || got.Misses != 1 {
		t.Errorf("job = %+v, want done, result, action, misses 1", got)
	}
	if !got.SentAt.Equal(t0) || !got.FinishedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("SentAt, FinishedAt = %v, %v; want first send %v, finish %v", got.SentAt, got.FinishedAt, t0, t0.Add(3*time.Minute))
	}
	var outcomes []string
	for _, a := range got.Attempts {
		outcomes = append(outcomes, a.Kind+":"+a.Outcome)
	}
	if want := "send:ambiguous reconcile:absent send:applied"; strings.Join(outcomes, " ") != want {
		t.Errorf("attempts = %q, want %q", outcomes, want)
	}
	if got.Attempts[0].HTTPStatus != 504 || got.Attempts[0].Error != "timeout" {
		t.Errorf("first attempt = %+v, want 504 timeout", got.Attempts[0])
	}
}

func TestTransitions_HistoryBounded(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	j := enqueue(t, q, "544256-439-856", t0)
	const n = 200
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := errors.Join(q.Sending(j.ID, "add-stamp 1", at),
			q.Retry(j.ID, queue.Attempt{At: at, Kind: "send", Outcome: "not_sent", Error: "dial " + string(rune('a'+i%26))}, at)); err != nil {
			t.Fatal(err)
		}
	}
	got := mustGet(t, q, j.ID)
	if len(got.Attempts)+got.AttemptsOmitted != n || len(got.Attempts) > 50 {
		t.Errorf("kept %d attempts, omitted %d; want %d in all and at most 50 kept", len(got.Attempts), got.AttemptsOmitted, n)
	}
	if first, last := got.Attempts[0].At, got.Attempts[len(got.Attempts)-1].At; !first.Equal(t0) || !last.Equal(t0.Add((n-1)*time.Minute)) {
		t.Errorf("kept attempts span %v..%v, want the first and the last", first, last)
	}
}

func TestNext_PerCardOrder(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	a1 := enqueue(t, q, "A", t0)
	b1 := enqueue(t, q, "B", t0)
	a2 := enqueue(t, q, "A", t0)
	a3 := enqueue(t, q, "A", t0)

	wantNext(t, q, t0, a1.ID)
	if err := q.Sending(a1.ID, "add-stamp 1", t0); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0, b1.ID) // a2 waits behind a1 in sending
	if err := q.Sending(a2.ID, "add-stamp 1", t0); !errors.Is(err, queue.ErrState) {
		t.Fatalf("Sending(a2) while a1 is sending = %v, want ErrState", err)
	}
	if err := errors.Join(q.Sending(b1.ID, "x", t0), q.Done(b1.ID, send("applied"), "")); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0, "")

	if err := q.Ambiguous(a1.ID, send("ambiguous"), t0.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0, "")                     // a1 is not due yet, a2 must wait
	wantNext(t, q, t0.Add(time.Minute), a1.ID) // the ambiguous job itself, for reconciliation

	if err := q.Dead(a1.ID, send("rejected"), "422"); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0.Add(time.Hour), "") // a dead head blocks its card
	if err := q.OperatorRetry(a2.ID, t0); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0.Add(time.Hour), "") // retrying a later job does not let it overtake

	if err := q.Drop(a1.ID, "wrong card", t0); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0, a2.ID)
	if err := q.Drop(a2.ID, "dup", t0); err != nil {
		t.Fatal(err)
	}
	wantNext(t, q, t0, a3.ID)
	mustCheck(t, q)
}

func TestNext_DueTime(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	if _, ok, err := q.NextDue(); ok || err != nil {
		t.Fatalf("NextDue() on empty = _, %v, %v; want false, nil", ok, err)
	}
	a := enqueue(t, q, "A", t0)
	b := enqueue(t, q, "B", t0)
	c := enqueue(t, q, "C", t0)
	retry := func(id string, at time.Time) {
		t.Helper()
		if err := errors.Join(q.Sending(id, "x", t0), q.Retry(id, send("not_sent"), at)); err != nil {
			t.Fatal(err)
		}
	}
	retry(a.ID, t0.Add(30*time.Second))
	retry(b.ID, t0.Add(10*time.Second))
	wantNext(t, q, t0, c.ID)
	retry(c.ID, t0.Add(10*time.Second))

	at, ok, err := q.NextDue()
	if !ok || err != nil || !at.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("NextDue() = %v, %v, %v; want %v", at, ok, err, t0.Add(10*time.Second))
	}
	wantNext(t, q, t0.Add(9*time.Second), "")
	wantNext(t, q, t0.Add(10*time.Second), b.ID) // same due time: id order
	retry(b.ID, t0.Add(time.Hour))
	wantNext(t, q, t0.Add(10*time.Second), c.ID)
	retry(c.ID, t0.Add(time.Hour))
	wantNext(t, q, t0.Add(29*time.Second), "")
	wantNext(t, q, t0.Add(30*time.Second), a.ID)
	if at, _, _ := q.NextDue(); !at.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("NextDue() = %v, want %v", at, t0.Add(30*time.Second))
	}
	// Times outside what UnixNano holds still sort sensibly.
	retry(a.ID, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	if at, _, _ := q.NextDue(); !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("NextDue() = %v, want %v (the year-3000 job sorts last)", at, t0.Add(time.Hour))
	}
	retry(b.ID, time.Time{})
	wantNext(t, q, t0, b.ID) // a zero time is due at once
	mustCheck(t, q)
}

func TestEnqueue_IDs(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	a := enqueue(t, q, "A", t0)
	b := enqueue(t, q, "A", t0)                 // same millisecond
	c := enqueue(t, q, "A", t0.Add(-time.Hour)) // the clock stepped back
	if !(a.ID < b.ID && b.ID < c.ID) {
		t.Fatalf("ids %s, %s, %s are not increasing", a.ID, b.ID, c.ID)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	d := enqueue(t, q2, "A", t0) // a new process, a new entropy source, an old clock
	if d.ID <= c.ID {
		t.Fatalf("id after reopen %s <= last id %s", d.ID, c.ID)
	}
	wantNext(t, q2, t0, a.ID) // per-card order is enqueue order
}

func TestEnqueue_BadScan(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	for _, s := range []queue.Scan{
		{},
		{Card: "a\x00b"},
		{Card: strings.Repeat("1", 300)},
		{Card: "544256-439-856", Raw: strings.Repeat("x", 20000)},
	} {
		if _, err := q.Enqueue(s, t0); err == nil || !strings.Contains(err.Error(), "NOT saved") {
			t.Errorf("Enqueue(card %.20q, raw %d bytes) = %v, want a NOT saved error", s.Card, len(s.Raw), err)
		}
	}
	if jobs, err := q.List("", 0, ""); err != nil || len(jobs) != 0 {
		t.Errorf("List() = %d jobs, %v; want none", len(jobs), err)
	}
}

func TestOpen_RecoversSending(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	a := enqueue(t, q, "A", t0)
	a2 := enqueue(t, q, "A", t0)
	if err := q.Sending(a.ID, "add-stamp 1", t0); err != nil {
		t.Fatal(err)
	}
	q.Close() // as if killed: sending stays on disk

	before := time.Now()
	q2, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	got := mustGet(t, q2, a.ID)
	last := got.Attempts[len(got.Attempts)-1]
	if got.State != queue.Ambiguous || last.Kind != "recover" || got.NextAttempt.Before(before) {
		t.Fatalf("after reopen: state %s, last attempt %+v, due %v; want ambiguous, recover, due now", got.State, last, got.NextAttempt)
	}
	if jobs, _ := q2.List(queue.Sending, 0, ""); len(jobs) != 0 {
		t.Errorf("%d jobs still sending after Open", len(jobs))
	}
	wantNext(t, q2, time.Now(), a.ID) // reconciled first; a2 still waits
	_ = a2
	mustCheck(t, q2)
}

func TestOpen_Locked(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	enqueue(t, q, "A", t0)
	start := time.Now()
	q2, err := queue.Open(path, queue.Options{LockTimeout: 200 * time.Millisecond})
	if err == nil {
		q2.Close()
		t.Fatal("second Open succeeded, want ErrLocked")
	}
	if !errors.Is(err, queue.ErrLocked) || !strings.Contains(err.Error(), "another tillscan is using "+path) {
		t.Fatalf("second Open = %v, want ErrLocked naming %s", err, path)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second Open took %v, want about the lock timeout", d)
	}
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Errorf("a locked file was moved aside: %v", m)
	}
	if jobs, _ := q.List("", 0, ""); len(jobs) != 1 {
		t.Errorf("first queue has %d jobs after the second Open, want 1", len(jobs))
	}
}

func TestPrune(t *testing.T) {
	q, _ := openQueue(t, queue.Options{Retention: 24 * time.Hour})
	done := into(t, q, "A", queue.Done)       // finished at t0+1s
	dropped := into(t, q, "B", queue.Dropped) // finished at t0
	dead := into(t, q, "C", queue.Dead)
	pending := enqueue(t, q, "D", t0)

	if n, err := q.Prune(t0.Add(23 * time.Hour)); n != 0 || err != nil {
		t.Fatalf("Prune before retention = %d, %v; want 0", n, err)
	}
	if n, err := q.Prune(t0.Add(25 * time.Hour)); n != 2 || err != nil {
		t.Fatalf("Prune after retention = %d, %v; want 2", n, err)
	}
	for _, id := range []string{done.ID, dropped.ID} {
		if _, err := q.Get(id); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("Get(pruned %s) = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{dead.ID, pending.ID} {
		mustGet(t, q, id) // unfinished jobs are never pruned
	}
	st, err := q.Stats(t0)
	if err != nil || st.Depth[queue.Done] != 0 || st.Depth[queue.Dropped] != 0 || st.Depth[queue.Dead] != 1 {
		t.Errorf("Stats() = %+v, %v; want no done/dropped and 1 dead", st, err)
	}
	mustCheck(t, q)
}

func TestPrune_Many(t *testing.T) {
	q, _ := openQueue(t, queue.Options{Retention: time.Hour})
	q.SetPruneBatch(10)
	scans := make([]queue.Scan, 25)
	for i := range scans {
		scans[i] = scan("card-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)))
	}
	if err := q.EnqueueBatch(scans, t0); err != nil {
		t.Fatal(err)
	}
	jobs, _ := q.List(queue.Pending, 0, "")
	for _, j := range jobs {
		if err := q.Drop(j.ID, "bulk", t0); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Prune(t0.Add(2 * time.Hour)); n != len(scans) || err != nil {
		t.Fatalf("Prune() = %d, %v; want %d", n, err, len(scans))
	}
	mustCheck(t, q)
}

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// Several tills' scanners enqueue while one worker drains: every job ends
// done exactly once and each card's jobs are sent in enqueue order.
func TestConcurrentUse(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	const producers, each = 4, 25
	cards := []string{"A", "B", "C"}
	errs := make(chan error, producers)
	for p := range producers {
		go func() {
			var err error
			for i := range each {
				_, e := q.Enqueue(scan(cards[(p+i)%len(cards)]), time.Now())
				err = errors.Join(err, e)
			}
			errs <- err
		}()
	}
	sent := map[string][]string{}
	finished := 0
	producing := producers
	for finished < producers*each {
		j, err := q.Next(time.Now())
		if errors.Is(err, queue.ErrEmpty) {
			if producing == 0 {
				t.Fatalf("queue empty after %d of %d jobs", finished, producers*each)
			}
			if err := <-errs; err != nil { // wait for a producer instead of polling
				t.Fatal(err)
			}
			producing--
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(q.Sending(j.ID, "add-stamp 1", time.Now()), q.Done(j.ID, queue.Attempt{Kind: "send", Outcome: "applied"}, "")); err != nil {
			t.Fatal(err)
		}
		sent[j.Card] = append(sent[j.Card], j.ID)
		finished++
	}
	for ; producing > 0; producing-- {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for card, ids := range sent {
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Errorf("card %s: %s sent after %s", card, ids[i], ids[i-1])
			}
		}
	}
	if done, _ := q.List(queue.Done, 0, ""); len(done) != producers*each {
		t.Errorf("%d jobs done, want %d", len(done), producers*each)
	}
	mustCheck(t, q)
}

// Errors name the package once (issue 13: `queue: job "NOPE": queue: no
// such job`) and still match the sentinel the caller branches on.
func TestErrors_SayEachThingOnce(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	j := into(t, q, "A", queue.Done)
	tests := []struct {
		err   error
		class error
		text  string
	}{
		{func() error { _, err := q.Get("NOPE"); return err }(), queue.ErrNotFound, `queue: job "NOPE": no such job`},
		{q.Drop("NOPE", "x", t0), queue.ErrNotFound, `queue: drop NOPE: job "NOPE": no such job`},
		{q.Drop(j.ID, "x", t0), queue.ErrState, "queue: drop " + j.ID + ": job is done: transition not allowed"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.class) || tt.err.Error() != tt.text || strings.Count(tt.err.Error(), "queue:") != 1 {
			t.Errorf("error = %v, want exactly %q (an %v)", tt.err, tt.text, tt.class)
		}
	}
}
