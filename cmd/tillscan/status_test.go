package main

import (
	"errors"
	"testing"

	"github.com/tillscan/tillscan/pos"
)

// TestEventStreamEndsWhenBehind: a stream client that does not keep up
// reads what was buffered, then learns its stream ended and why; events
// are never skipped silently.
func TestEventStreamEndsWhenBehind(t *testing.T) {
	d := &daemon{feed: pos.NewFeed(10)}
	sub := statusBackend{d}.Subscribe()
	defer sub.Close()
	for i := range 100 {
		d.feed.Publish(pos.Event{Kind: pos.EventSaved, JobID: string(rune('A' + i%26))})
	}
	var got []uint64
	for {
		ev, err := sub.Next(t.Context())
		if err != nil {
			if !errors.Is(err, errFellBehind) {
				t.Fatalf("Next = %v, want %v", err, errFellBehind)
			}
			break
		}
		got = append(got, ev.Seq)
	}
	if len(got) == 0 || got[0] != 1 {
		t.Fatalf("read %v before the end, want the buffered events from seq 1", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("events %v: a gap before the end", got)
		}
	}
}
