package pos

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func cards(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Card)
	}
	return b.String()
}

func publishN(f *Feed, n int) {
	for i := range n {
		f.Publish(Event{Kind: EventSaved, Card: string(rune('a' + i%26))})
	}
}

func TestFeed_FollowWithoutWaitEndsASlowSubscriber(t *testing.T) {
	f := NewFeed(3)
	slow := f.Follow(FollowOptions{Buffer: 2})
	fast := f.Follow(FollowOptions{Buffer: 100})
	defer fast.Close()
	publishN(f, 5) // must not block
	var got []Event
	for e := range slow.C { // closed when ended
		got = append(got, e)
	}
	if cards(got) != "ab" || !errors.Is(slow.Err(), ErrFellBehind) {
		t.Errorf("slow subscriber got %q, Err %v; want the first two events, then C closed with ErrFellBehind", cards(got), slow.Err())
	}
	for i := range 5 {
		if e := <-fast.C; e.Seq != uint64(i+1) {
			t.Errorf("fast subscriber event %d has Seq %d, want %d", i, e.Seq, i+1)
		}
	}
	if fast.Err() != nil || fast.Missed() != 0 {
		t.Errorf("fast subscriber Err %v, Missed %d; want nil, 0", fast.Err(), fast.Missed())
	}
	if recent := f.Recent(); cards(recent) != "cde" {
		t.Errorf("Recent() = %q, want the last 3 events oldest first", cards(recent))
	}
}

// TestFeed_FollowWithWaitCountsWhatItMissed is the feed side of issue 8
// defect 1: a burst of events to a subscriber that cannot keep up. The
// subscription is never closed under it, every event is delivered or
// counted, the publishers wait one Wait in all (not one per event), and
// what was missed can be read back while the feed remembers it.
func TestFeed_FollowWithWaitCountsWhatItMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFeed(2000)
		sub := f.Follow(FollowOptions{Buffer: 16, Wait: 50 * time.Millisecond})
		start := time.Now()
		publishN(f, 1000)
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("1000 publishes to a stuck subscriber took %v, want one Wait (50ms)", d)
		}
		var got []Event
		for len(got) < 16 {
			got = append(got, <-sub.C)
		}
		if sub.Err() != nil || sub.Missed() != 1000-16 {
			t.Fatalf("Err %v, Missed %d; want nil, %d", sub.Err(), sub.Missed(), 1000-16)
		}
		f.Publish(Event{Kind: EventApplied, Card: "!"}) // C has room again: delivered, no wait
		if e := <-sub.C; e.Seq != 1001 || time.Since(start) != 50*time.Millisecond {
			t.Fatalf("after catching up got Seq %d at %v, want 1001 at once", e.Seq, time.Since(start))
		}
		back := f.Since(got[len(got)-1].Seq)
		if len(back) != 1000-16+1 || back[0].Seq != 17 || back[len(back)-1].Seq != 1001 {
			t.Fatalf("Since(16) = %d events from Seq %d, want Seq 17 to 1001", len(back), back[0].Seq)
		}
		sub.Close()
		if _, open := <-sub.C; open || sub.Err() != nil {
			t.Fatalf("after Close: C open %v, Err %v; want closed, nil", open, sub.Err())
		}
	})
}

// TestFeed_WaitLetsASlowReaderKeepUp: a subscriber that reads more slowly
// than events come, but within Wait, misses nothing.
func TestFeed_WaitLetsASlowReaderKeepUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFeed(10)
		sub := f.Follow(FollowOptions{Buffer: 1, Wait: time.Second})
		done := make(chan []Event)
		go func() {
			var got []Event
			for e := range sub.C {
				time.Sleep(100 * time.Millisecond) // a slow disk
				got = append(got, e)
			}
			done <- got
		}()
		publishN(f, 20)
		sub.Close()
		got := <-done
		if len(got) < 19 || sub.Missed() != 0 {
			t.Fatalf("slow reader got %d events, missed %d; want every one delivered (the last may be cut by Close)", len(got), sub.Missed())
		}
		for i, e := range got {
			if e.Seq != uint64(i+1) {
				t.Fatalf("event %d has Seq %d: out of order", i, e.Seq)
			}
		}
	})
}

func TestFeed_SinceAndLastSeq(t *testing.T) {
	f := NewFeed(4)
	if got := f.Since(0); len(got) != 0 || f.LastSeq() != 0 {
		t.Fatalf("empty feed: Since(0) = %v, LastSeq %d", got, f.LastSeq())
	}
	publishN(f, 6) // a..f; remembers c..f (Seq 3..6)
	tests := []struct {
		after uint64
		want  string
	}{{0, "cdef"}, {3, "def"}, {5, "f"}, {6, ""}, {99, ""}}
	for _, tt := range tests {
		if got := cards(f.Since(tt.after)); got != tt.want {
			t.Errorf("Since(%d) = %q, want %q", tt.after, got, tt.want)
		}
	}
	if f.LastSeq() != 6 {
		t.Errorf("LastSeq() = %d, want 6", f.LastSeq())
	}
}

// TestFeed_CloseWhilePublishing: subscriptions ending under concurrent
// publishers neither panic (send on a closed channel) nor lose order.
func TestFeed_CloseWhilePublishing(t *testing.T) {
	f := NewFeed(10)
	var publishers, readers sync.WaitGroup
	for range 4 {
		publishers.Go(func() { publishN(f, 200) })
	}
	var subs []*Subscription
	for i := range 20 {
		sub := f.Follow(FollowOptions{Buffer: 4, Wait: time.Duration(i%2) * time.Millisecond})
		subs = append(subs, sub)
		readers.Go(func() {
			last := uint64(0)
			for e := range sub.C {
				if e.Seq <= last {
					t.Errorf("Seq %d after %d", e.Seq, last)
				}
				last = e.Seq
				if e.Seq%7 == 0 {
					sub.Close()
				}
			}
		})
	}
	publishers.Wait()
	for _, sub := range subs { // those that saw no multiple of 7
		sub.Close()
	}
	readers.Wait()
	if f.LastSeq() != 800 {
		t.Errorf("LastSeq() = %d, want 800", f.LastSeq())
	}
}

func TestFeed_SubscribeDeprecated(t *testing.T) {
	f := NewFeed(0)
	ch, cancel := f.Subscribe(0)
	f.Publish(Event{Kind: EventMode})
	if e := <-ch; e.Kind != EventMode || e.Seq != 1 {
		t.Fatalf("got %+v, want the mode event", e)
	}
	cancel()
	cancel()
	if _, open := <-ch; open {
		t.Fatal("channel still open after cancel")
	}
	f.Publish(Event{Kind: EventMode}) // no subscribers left: fine
	var nilFeed *Feed
	if e := nilFeed.publish(Event{Kind: EventMode}); e.Kind != EventMode {
		t.Fatalf("nil Feed publish = %+v", e)
	}
}

// ExampleFeed_Follow is the audit logger's way of reading a feed: it
// reads what it missed back from the feed while the feed remembers it, and
// says how many events are gone for good.
func ExampleFeed_Follow() {
	f := NewFeed(5)
	sub := f.Follow(FollowOptions{Buffer: 3, Wait: time.Millisecond})
	var last uint64
	write := func(e Event) { fmt.Println(e.Seq, e.Card); last = e.Seq }
	read := func(e Event) {
		if e.Seq > last+1 { // a gap: read it back
			for _, m := range f.Since(last) {
				if m.Seq >= e.Seq {
					break
				}
				if m.Seq > last+1 {
					fmt.Println("lost", m.Seq-last-1)
				}
				write(m)
			}
		}
		write(e)
	}

	for i := range 8 { // the logger is stuck meanwhile: 3 fit, 5 are missed
		f.Publish(Event{Kind: EventSaved, Card: fmt.Sprint(i)})
	}
	for len(sub.C) > 0 {
		read(<-sub.C)
	}
	f.Publish(Event{Kind: EventSaved, Card: "late"})
	sub.Close()
	for e := range sub.C {
		read(e)
	}
	fmt.Println("missed", sub.Missed())
	// Output:
	// 1 0
	// 2 1
	// 3 2
	// lost 1
	// 5 4
	// 6 5
	// 7 6
	// 8 7
	// 9 late
	// missed 5
}
