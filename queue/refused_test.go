package queue_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// A scan refused at the till is recorded for audit without touching the
// card's open jobs, and is finished: counted, listed, pruned like done.
func TestEnqueueRefused(t *testing.T) {
	q, _ := openQueue(t, queue.Options{Retention: time.Hour})
	open := enqueue(t, q, "A", t0)
	if err := q.Sending(open.ID, "add-stamp 1", t0); err != nil {
		t.Fatal(err)
	}
	r, err := q.EnqueueRefused(scan("A"), "this card needs the purchase sum", t0)
	if err != nil {
		t.Fatalf("EnqueueRefused() = %v", err)
	}
	got := mustGet(t, q, r.ID)
	if got.State != queue.Refused || got.Reason != "this card needs the purchase sum" || !got.FinishedAt.Equal(t0) || len(got.Attempts) != 1 {
		t.Errorf("refused job = %+v, want refused with its reason, finished at %v, one attempt", got, t0)
	}
	mustCheck(t, q)
	if err := q.Done(open.ID, send("applied"), ""); err != nil { // the open job is still the card's head
		t.Fatalf("Done(open job) = %v", err)
	}
	wantNext(t, q, t0, "")
	if st, _ := q.Stats(t0); st.Depth[queue.Refused] != 1 || st.Depth[queue.Done] != 1 {
		t.Errorf("Stats().Depth = %v, want 1 refused, 1 done", st.Depth)
	}
	if jobs, err := q.List(queue.Refused, 0, ""); err != nil || len(jobs) != 1 || jobs[0].ID != r.ID {
		t.Errorf("List(refused) = %v, %v; want %s", ids(jobs), err, r.ID)
	}
	if _, err := q.EnqueueRefused(queue.Scan{}, "x", t0); err == nil || !strings.Contains(err.Error(), "NOT saved") {
		t.Errorf("EnqueueRefused(no card) = %v, want NOT saved", err)
	}
	if n, err := q.Prune(t0.Add(2 * time.Hour)); n != 2 || err != nil {
		t.Errorf("Prune() = %d, %v; want the done and the refused job", n, err)
	}
	mustCheck(t, q)
}

// Issue 10: resolve --applied is for uncertain jobs only. Before the fix it
// marked a job the API had refused (never applied) as applied.
func TestResolve_OnlyUncertain(t *testing.T) {
	reconcile := queue.Attempt{At: t0, Kind: "reconcile", Outcome: "found twice"}
	tests := []struct {
		name    string
		steps   func(q *queue.Queue, id string) error
		wantErr error // of Resolve(applied=true); nil: allowed
	}{
		{"ambiguous", func(q *queue.Queue, id string) error {
			return errors.Join(q.Sending(id, "add-stamp 1", t0), q.Ambiguous(id, send("ambiguous"), t0, 0))
		}, nil},
		{"dead while uncertain", func(q *queue.Queue, id string) error {
			return errors.Join(q.Sending(id, "add-stamp 1", t0), q.Ambiguous(id, send("ambiguous"), t0, 0), q.Dead(id, reconcile, "marker found twice"))
		}, nil},
		{"dead after a definite no", func(q *queue.Queue, id string) error {
			return errors.Join(q.Sending(id, "add-stamp 1", t0), q.Dead(id, send("rejected"), "malformed request"))
		}, queue.ErrNotUncertain},
		{"dead after a re-send proved the first absent", func(q *queue.Queue, id string) error {
			return errors.Join(q.Sending(id, "add-stamp 1", t0), q.Ambiguous(id, send("ambiguous"), t0, 0),
				q.Sending(id, "add-stamp 1", t0), q.Dead(id, send("rejected"), "malformed request"))
		}, queue.ErrNotUncertain},
		{"refused before sending", func(q *queue.Queue, id string) error {
			return q.Refuse(id, queue.Attempt{At: t0, Kind: "till", Outcome: "refused"}, "needs a purchase sum")
		}, queue.ErrState},
		{"refused by the API", func(q *queue.Queue, id string) error {
			return errors.Join(q.Sending(id, "add-stamp 1", t0), q.Refuse(id, send("refused"), "not enough balance"))
		}, queue.ErrState},
		{"never sent", func(*queue.Queue, string) error { return nil }, queue.ErrState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, queue.Options{})
			j := enqueue(t, q, "A", t0)
			if err := tt.steps(q, j.ID); err != nil {
				t.Fatal(err)
			}
			before := mustGet(t, q, j.ID)
			err := q.Resolve(j.ID, true, "seen in back office", t0)
			if tt.wantErr == nil {
				if err != nil || mustGet(t, q, j.ID).State != queue.Done {
					t.Fatalf("Resolve(applied) = %v, want done", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, queue.ErrState) {
				t.Fatalf("Resolve(applied) = %v, want %v (an ErrState)", err, tt.wantErr)
			}
			if got := mustGet(t, q, j.ID); got.State != before.State || len(got.Attempts) != len(before.Attempts) {
				t.Errorf("refused Resolve changed the job: %s → %s", before.State, got.State)
			}
			if before.State == queue.Dead { // not applied stays open to an operator
				if err := q.Resolve(j.ID, false, "not in back office", t0); err != nil {
					t.Errorf("Resolve(not applied) = %v, want nil", err)
				}
			}
			mustCheck(t, q)
		})
	}
}

func TestCardHistory(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	day := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	a0 := enqueue(t, q, "A", day(0))
	ab := enqueue(t, q, "AB", day(1)) // shares a prefix with A
	a1 := into(t, q, "A", queue.Dropped)
	q.Close()
	path := q.Path()
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	a2 := enqueue(t, q, "A", day(30))
	r, err := q.EnqueueRefused(scan("A"), "capped", day(31))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		card  string
		since time.Time
		want  []string
	}{
		{"A", day(-1), []string{a0.ID, a1.ID, a2.ID, r.ID}}, // into enqueues at t0 too, after a0
		{"A", day(30), []string{a2.ID, r.ID}},
		{"A", day(31), []string{r.ID}},
		{"A", day(32), nil},
		{"Z", day(-1), nil},
		{"AB", time.Time{}, []string{ab.ID}},
	}
	for _, tt := range tests {
		jobs, err := q.CardHistory(tt.card, tt.since)
		if err != nil {
			t.Fatalf("CardHistory(%s, %v) = %v", tt.card, tt.since, err)
		}
		if got := ids(jobs); !slices.Equal(got, tt.want) {
			t.Errorf("CardHistory(%s, %v) = %v, want %v", tt.card, tt.since, got, tt.want)
		}
	}
	created, err := q.Created(day(0), day(31))
	if err != nil || len(created) != 4 || created[3].ID != a2.ID {
		t.Errorf("Created(day 0, day 31) = %v, %v; want the 4 jobs up to %s", ids(created), err, a2.ID)
	}
	if created, _ := q.Created(day(31), day(32)); len(created) != 1 || created[0].ID != r.ID {
		t.Errorf("Created(day 31, day 32) = %v, want %s", ids(created), r.ID)
	}
}
