package queue_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// TestNextFree checks that a sender with jobs in flight gets the oldest due
// job of a card it is not working on, in due order, and never a card's
// later job while its head is unfinished.
func TestNextFree(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	a1 := enqueue(t, q, "A", t0)
	b1 := enqueue(t, q, "B", t0)
	enqueue(t, q, "A", t0) // a2: behind a1
	c1 := enqueue(t, q, "C", t0)
	late := enqueue(t, q, "D", t0)
	if err := errors.Join(q.Sending(late.ID, "x", t0), q.Retry(late.ID, send("not_sent"), t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}

	busy := map[string]bool{}
	next := func(want string) {
		t.Helper()
		j, err := q.NextFree(t0, func(card string) bool { return busy[card] })
		got := j.ID
		if errors.Is(err, queue.ErrEmpty) {
			got = ""
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("NextFree(busy %v) = %q (card %s), want %q", busy, got, j.Card, want)
		}
	}
	next(a1.ID)
	busy["A"] = true // picked, still pending while its card is looked up
	next(b1.ID)
	busy["B"] = true
	next(c1.ID)
	busy["C"] = true
	next("") // D is not due, and A's second job waits behind a1

	if err := q.Sending(a1.ID, "add-stamp 1", t0); err != nil {
		t.Fatal(err)
	}
	delete(busy, "A")
	next("") // a1 is sending: its card has nothing due
	if j, err := q.NextFree(t0.Add(2*time.Hour), func(card string) bool { return busy[card] }); err != nil || j.ID != late.ID {
		t.Fatalf("NextFree later = %q, %v; want %q", j.ID, err, late.ID)
	}
	if j, err := q.NextFree(t0, nil); err != nil || j.ID != b1.ID {
		t.Fatalf("NextFree(nil) = %q, %v; want the oldest due job %q", j.ID, err, b1.ID)
	}
}

// A card's next job is due from when its card's previous job finished, not
// from its scan time: a head that was put off (tried during an outage) goes
// before the rest of another card's backlog, so a sender with several jobs
// in flight serves every card in turn rather than drain one to the end.
func TestNextFree_PromotedHeadWaitsItsTurn(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	a1 := enqueue(t, q, "A", t0)
	a2 := enqueue(t, q, "A", t0)
	b1 := enqueue(t, q, "B", t0)
	put := t0.Add(time.Minute) // b1 failed to send and waits until then
	if err := errors.Join(q.Sending(b1.ID, "x", t0), q.Retry(b1.ID, send("not_sent"), put)); err != nil {
		t.Fatal(err)
	}
	done := t0.Add(2 * time.Minute)
	if err := errors.Join(q.Sending(a1.ID, "x", done), q.Done(a1.ID, queue.Attempt{At: done, Kind: "send", Outcome: "applied"}, "")); err != nil {
		t.Fatal(err)
	}
	if j := mustGet(t, q, a2.ID); !j.NextAttempt.Equal(done) {
		t.Errorf("a2 due at %v after a1 finished at %v, want then", j.NextAttempt, done)
	}
	wantNext(t, q, done, b1.ID) // due since put, before a2 (due since done)
	mustCheck(t, q)
}
