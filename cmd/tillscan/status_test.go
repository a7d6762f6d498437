package main

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tillscan/tillscan/pos"
)

// TestEventStreamEndsWhenBehind: a stream client that does not keep up
// reads what was buffered, then learns its stream ended and why; events
// are never skipped silently.
func TestEventStreamEndsWhenBehind(t *testing.T) {
	d := &daemon{feed: pos.NewFeed(10)}
	sub := statusBackend{d}.Subscribe(0)
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

// TestEventStreamResume: a client reconnecting with the id of the last
// event it read gets every later event once, in order; what the feed no
// longer remembers, or an id from before a restart, comes as one gap
// event, never as silence.
func TestEventStreamResume(t *testing.T) {
	tests := []struct {
		name      string
		history   int    // events the feed remembers
		published int    // before the client reconnects
		after     uint64 // its Last-Event-ID
		want      []string
	}{
		{"all remembered", 10, 5, 2, []string{"saved 3", "saved 4", "saved 5", "applied 6"}},
		{"up to date", 10, 5, 5, []string{"applied 6"}},
		{"some forgotten", 3, 10, 2, []string{"gap 7", "saved 8", "saved 9", "saved 10", "applied 11"}},
		{"all forgotten", 3, 10, 6, []string{"gap 7", "saved 8", "saved 9", "saved 10", "applied 11"}},
		{"from before a restart", 10, 2, 40, []string{"gap 0", "saved 1", "saved 2", "applied 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &daemon{feed: pos.NewFeed(tt.history)}
			for range tt.published {
				d.feed.Publish(pos.Event{Kind: pos.EventSaved})
			}
			sub := statusBackend{d}.Subscribe(tt.after)
			defer sub.Close()
			d.feed.Publish(pos.Event{Kind: pos.EventApplied}) // after the reconnect
			var got []string
			for len(got) < len(tt.want) {
				ev, err := sub.Next(t.Context())
				if err != nil {
					t.Fatalf("Next after %v: %v", got, err)
				}
				got = append(got, fmt.Sprintf("%s %d", ev.Kind, ev.Seq))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("resumed after %d: %v, want %v", tt.after, got, tt.want)
			}
		})
	}
}
