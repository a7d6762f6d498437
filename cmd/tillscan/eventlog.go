package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/pos"
)

// eventLogger writes each till event to the journal once (pos publishes
// events and does not log them) and hands it to onEvent. It is the audit
// trail, so it never loses events silently: publishers wait briefly for
// it when it falls behind (pos.FollowOptions.Wait), events it still missed
// are read back from the feed's history by sequence number, and what is
// gone from there too is reported in one line with the count. No event is
// written twice. Below it, the daemon's logSink does the same for a sink
// that stops taking lines: it waits, then drops and reports the count.
type eventLogger struct {
	feed    *pos.Feed
	log     zerolog.Logger
	onEvent func(pos.Event) // nil: none
	sub     *pos.Subscription

	last uint64 // Seq of the last event written (or before the logger existed); owned by run
}

// publishWait is how long a publisher (the till's scan path included)
// waits for a stuck log sink before the logger misses an event.
const publishWait = 50 * time.Millisecond

// newEventLogger subscribes to feed at once, so that no event published
// after it returns is missed even if run starts later. buf is how many
// events may wait unwritten.
func newEventLogger(feed *pos.Feed, log zerolog.Logger, onEvent func(pos.Event), buf int) *eventLogger {
	return &eventLogger{
		feed: feed, log: log, onEvent: onEvent,
		sub:  feed.Follow(pos.FollowOptions{Buffer: buf, Wait: publishWait}),
		last: feed.LastSeq(), // earlier events are not the logger's to write
	}
}

// run writes events until ctx ends, then writes what was already
// published and returns. The drain is bounded: what the subscription
// holds when ctx ends, plus the feed's history.
func (l *eventLogger) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			l.sub.Close() // C keeps what it holds, then is closed
			for ev := range l.sub.C {
				l.catchUp(ev.Seq)
				l.write(ev)
			}
			l.catchUp(l.feed.LastSeq() + 1) // the tail it missed, if any
			return nil
		case ev, ok := <-l.sub.C:
			if !ok { // ended by the feed, which a Wait subscription never is
				l.catchUp(l.feed.LastSeq() + 1)
				l.sub = l.feed.Follow(pos.FollowOptions{Buffer: cap(l.sub.C), Wait: publishWait})
				continue
			}
			l.catchUp(ev.Seq)
			l.write(ev)
		}
	}
}

// catchUp writes the remembered events between the last written and
// before.
func (l *eventLogger) catchUp(before uint64) {
	if before <= l.last+1 {
		return
	}
	for _, ev := range l.feed.Since(l.last) {
		if ev.Seq >= before {
			return
		}
		l.write(ev)
	}
}

// write logs ev unless it was written already; a gap in the sequence
// numbers before it is reported as one line with the count.
func (l *eventLogger) write(ev pos.Event) {
	if ev.Seq <= l.last {
		return
	}
	if missed := ev.Seq - l.last - 1; missed > 0 {
		l.log.Error().Uint64("missed", missed).Uint64("from_seq", l.last+1).Uint64("to_seq", ev.Seq-1).
			Msgf("event log fell behind: %d events were not written to the log (their jobs are in the queue: tillscan queue list)", missed)
	}
	l.last = ev.Seq
	lvl := zerolog.InfoLevel
	switch ev.Kind {
	case pos.EventNotSaved, pos.EventUnauthorized, pos.EventDead, pos.EventDuplicate:
		lvl = zerolog.ErrorLevel
	case pos.EventRefused, pos.EventNotCard:
		lvl = zerolog.WarnLevel
	}
	rec := l.log.WithLevel(lvl).Str("event", string(ev.Kind)).Str("card", ev.Card).Str("job", ev.JobID).
		Str("scanner", ev.Scanner).Str("mode", ev.Mode)
	for _, f := range [...]struct{ k, v string }{{"action", ev.Action}, {"balance", ev.Balance}, {"error", ev.Err}} {
		if f.v != "" {
			rec = rec.Str(f.k, f.v)
		}
	}
	rec.Msg(ev.Message)
	if l.onEvent != nil {
		l.onEvent(ev)
	}
}
