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
