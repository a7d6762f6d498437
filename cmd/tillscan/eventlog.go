package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/pos"
)

// eventLogger writes each till event to the journal once (pos publishes
// events and does not log them) and hands it to onEvent. It is the audit
// trail, so it never loses events silently: the feed drops a subscriber
// that falls behind (it closes its channel), and the logger then
// subscribes again, catches up from the feed's recent history and writes
// one line saying how many events it could not recover. Events are told
// apart by their sequence number, so none is written twice.
type eventLogger struct {
	feed    *pos.Feed
	log     zerolog.Logger
	onEvent func(pos.Event) // nil: none
	buf     int             // subscription buffer

	// Owned by the goroutine that calls run.
	ch   <-chan pos.Event
	stop func()
	last uint64 // Seq of the last event written (or skipped as before start)
}

// newEventLogger subscribes to feed at once, so that no event published
// after it returns is missed even if run starts later.
func newEventLogger(feed *pos.Feed, log zerolog.Logger, onEvent func(pos.Event), buf int) *eventLogger {
	l := &eventLogger{feed: feed, log: log, onEvent: onEvent, buf: buf}
	l.ch, l.stop = feed.Subscribe(buf)
	// Events from before the logger existed are not its to write.
	if recent := feed.Recent(); len(recent) > 0 {
		l.last = recent[len(recent)-1].Seq
	}
	return l
}

// run writes events until ctx ends, then writes what was already
// published and returns. The drain is bounded: it takes at most what the
// subscription holds when ctx ends, plus the feed's history.
func (l *eventLogger) run(ctx context.Context) error {
	defer func() { l.stop() }()
	for {
		select {
		case <-ctx.Done():
			l.drain()
			return nil
		case ev, ok := <-l.ch:
			if !ok {
				l.resubscribe()
				continue
			}
			l.write(ev)
		}
	}
}

// drain writes what is already buffered, without waiting for more.
func (l *eventLogger) drain() {
	for range cap(l.ch) {
		select {
		case ev, ok := <-l.ch:
			if !ok {
				l.catchUp() // dropped just before shutdown: history is all there is
				return
			}
			l.write(ev)
		default:
			return
		}
	}
}

// resubscribe replaces a subscription the feed ended because the logger
// fell behind, and writes what the feed still remembers.
func (l *eventLogger) resubscribe() {
	l.ch, l.stop = l.feed.Subscribe(l.buf)
	l.catchUp()
}

// catchUp writes the remembered events the logger has not written yet.
func (l *eventLogger) catchUp() {
	for _, ev := range l.feed.Recent() {
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
	case pos.EventNotSaved, pos.EventUnauthorized, pos.EventDead:
		lvl = zerolog.ErrorLevel
	case pos.EventRejected, pos.EventNotCard:
		lvl = zerolog.WarnLevel
	}
	l.log.WithLevel(lvl).Str("event", string(ev.Kind)).Str("card", ev.Card).Str("job", ev.JobID).
		Str("scanner", ev.Scanner).Str("mode", ev.Mode).Msg(ev.Message)
	if l.onEvent != nil {
		l.onEvent(ev)
	}
}
