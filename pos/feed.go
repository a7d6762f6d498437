package pos

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFellBehind is the Err of a Subscription the Feed ended because its
// buffer was full (a subscription with no Wait).
var ErrFellBehind = errors.New("pos: feed subscriber fell behind")

// Feed fans events out to subscriptions and remembers the most recent
// ones, so a subscriber that missed some can read them back by sequence
// number (Since). Publish never blocks for long: see FollowOptions.Wait.
// Create one with NewFeed; it is safe for concurrent use.
type Feed struct {
	mu      sync.Mutex // guards everything below, and every Subscription's delivery state
	seq     uint64
	history []Event // ring buffer of the last cap(history) events
	next    int     // where the next event goes in history once it is full
	subs    map[*Subscription]struct{}
}

// NewFeed returns a Feed that remembers the last history events (0 means
// 100).
func NewFeed(history int) *Feed {
	if history <= 0 {
		history = 100
	}
	return &Feed{history: make([]Event, 0, history), subs: map[*Subscription]struct{}{}}
}

// FollowOptions shape a Subscription.
type FollowOptions struct {
	// Buffer is how many events may wait unread in C; 0 means 64.
	Buffer int
	// Wait is how long Publish may wait for room in a full C.
	//
	// Zero: a subscriber that lets C fill up is ended at once: C is closed
	// and Err returns ErrFellBehind. For clients that can start again from
	// a sequence number (a browser's event stream resuming with its last
	// event id, through Since).
	//
	// Above zero: Publish waits up to Wait for room, and if there is still
	// none the event is not delivered but counted in Missed; the
	// subscription goes on. Until C has room again, later events are
	// counted without waiting, so a stuck subscriber costs the publishers
	// one Wait, not one per event. For the audit logger, which must not
	// lose events silently: it reads what it missed back with Since while
	// the feed still remembers it, and reports the rest. Keep Wait short
	// (tens of milliseconds): the till's scan path publishes too.
	Wait time.Duration
}

// A Subscription receives the events published after it was made, in
// order. Read them from C; C is closed when the subscription ends: after
// Close, or when the Feed ended it (Err says why). Missed and Err are safe
// to call from any goroutine.
type Subscription struct {
	// C delivers the events. A receive that reports a closed channel
	// means the subscription ended; it never yields a zero Event.
	C <-chan Event

	f    *Feed
	ch   chan Event
	wait time.Duration
	// missed and err are read without f.mu, so that a subscriber asking
	// never waits on a publisher that is waiting for it.
	missed atomic.Uint64
	err    atomic.Pointer[error] // why the Feed ended it

	// guarded by f.mu
	behind bool // a Wait timed out and C has not had room since
	ended  bool // ch is closed
}

// Follow returns a Subscription to every event published from now on.
//
// To resume a stream after event n (a reconnecting client's last event
// id): call Follow first, then send Since(n), then the events from C whose
// Seq is above the last one sent (the two may overlap, never leave a gap).
func (f *Feed) Follow(opts FollowOptions) *Subscription {
	if opts.Buffer <= 0 {
		opts.Buffer = 64
	}
	ch := make(chan Event, opts.Buffer)
	s := &Subscription{C: ch, f: f, ch: ch, wait: max(opts.Wait, 0)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

// Subscribe returns a channel of every event published from now on, with
// room for buf events (0 means 64), and a function that ends the
// subscription (safe to call more than once). The channel is closed when
// the subscription ends, also when the subscriber fell buf events behind.
//
// Deprecated: a closed channel is easy to mistake for events; use Follow,
// whose Subscription says why it ended and what it missed.
func (f *Feed) Subscribe(buf int) (<-chan Event, func()) {
	s := f.Follow(FollowOptions{Buffer: buf})
	return s.C, s.Close
}

// Close ends the subscription and closes C. It is safe to call more than
// once, and while events are being published (it may then wait for a
// publisher's Wait to run out).
func (s *Subscription) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.endLocked(nil)
}

// Missed returns how many events were published but not delivered to this
// subscription because C was full (only with a Wait; without one the
// subscription ends instead).
func (s *Subscription) Missed() uint64 { return s.missed.Load() }

// Err returns ErrFellBehind if the Feed ended the subscription because C
// was full, and nil while it runs or after Close.
func (s *Subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Subscription) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended = true
	if err != nil {
		s.err.Store(&err)
	}
	delete(s.f.subs, s)
	close(s.ch)
}

// deliverLocked hands e to s as FollowOptions.Wait says.
func (s *Subscription) deliverLocked(e Event) {
	select {
	case s.ch <- e:
		s.behind = false
		return
	default:
	}
	switch {
	case s.wait == 0:
		s.endLocked(ErrFellBehind)
		return
	case s.behind:
		s.missed.Add(1)
		return
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.ch <- e:
	case <-t.C:
		s.behind = true
		s.missed.Add(1)
	}
}

// Publish stamps e with the next sequence number (and the time, if e.At is
// zero), remembers it and hands it to every subscription.
func (f *Feed) Publish(e Event) { f.publish(e) }

// publish is Publish returning the stamped event. A nil Feed drops it.
func (f *Feed) publish(e Event) Event {
	if f == nil {
		return e
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	e.Seq = f.seq
	if len(f.history) < cap(f.history) {
		f.history = append(f.history, e)
	} else {
		f.history[f.next] = e
		f.next = (f.next + 1) % cap(f.history)
	}
	for s := range f.subs {
		s.deliverLocked(e)
	}
	return e
}

// Recent returns the remembered events, oldest first.
func (f *Feed) Recent() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Event, 0, len(f.history))
	out = append(out, f.history[f.next:]...)
	return append(out, f.history[:f.next]...)
}

// Since returns the remembered events whose Seq is above after, oldest
// first. If the first one's Seq is above after+1, the events in between
// are no longer remembered.
func (f *Feed) Since(after uint64) []Event {
	var out []Event
	for _, e := range f.Recent() {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out
}

// LastSeq returns the sequence number of the last event published, 0 if
// none was.
func (f *Feed) LastSeq() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}
