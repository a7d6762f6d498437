package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// statusBackend adapts the daemon to control.Backend.
type statusBackend struct{ d *daemon }

func (b statusBackend) Status(ctx context.Context) control.Status {
	d := b.d
	now := time.Now()
	st := control.Status{
		Version:   version,
		TillID:    d.cfg.TillID,
		Started:   d.started,
		Accepting: d.accepting.Load(),
		Queue:     control.QueueStatus{Depth: map[string]int{}},
		Problems:  []string{}, // [] rather than null for JSON clients
		Recent:    []control.Event{},
	}
	st.Problems = append(st.Problems, d.queueNotes...)
	if d.sockNote != "" {
		st.Problems = append(st.Problems, d.sockNote)
	}
	if p := d.saves.problem(); p != "" {
		st.Problems = append(st.Problems, p)
	}
	if qs, err := d.q.Stats(now); err != nil {
		st.Queue.Error = err.Error()
		st.Problems = append(st.Problems, "the queue cannot be read: "+err.Error())
	} else {
		for state, n := range qs.Depth {
			st.Queue.Depth[string(state)] = n
		}
		st.Queue.OldestPendingAge = qs.OldestPending.Seconds()
		st.Queue.FileBytes = qs.FileSize
		if qs.Quarantined > 0 {
			st.Problems = append(st.Problems, fmt.Sprintf("%d damaged record(s) in the queue file were set aside (kept byte for byte, never sent, holding no card): keep `tillscan queue export` for support", qs.Quarantined))
		}
		if n := qs.Depth[queue.Dead]; n > 0 {
			st.Problems = append(st.Problems, fmt.Sprintf("%d scan(s) could not be applied and need a decision: tillscan queue list --state dead", n))
		}
	}
	ws := d.worker.Status()
	if p := d.sender.problem(ws.LastSuccess); p != "" {
		st.Problems = append(st.Problems, p)
	}
	st.API = control.APIStatus{Reachable: ws.APIReachable, LastSuccess: ws.LastSuccess, LastError: ws.LastErr, Paused: ws.Paused, PauseReason: ws.PauseReason}
	if ws.Paused {
		st.Problems = append(st.Problems, "sending is paused: "+ws.PauseReason)
	} else if !ws.APIReachable && !ws.LastError.IsZero() && st.Queue.OldestPendingAge > 60 {
		st.Problems = append(st.Problems, fmt.Sprintf("the loyalty API has not been reachable for a while (%s); scans are saved and will be sent", ws.LastErr))
	}
	st.Problems = append(st.Problems, pacing(&st.API, d.api.Status(), d.worker.InFlight(), now)...)
	for _, s := range d.sources {
		s.mu.Lock()
		st.Scanners = append(st.Scanners, control.ScannerState{Name: s.src.Name(), Type: s.typ, Connected: s.connected, Error: s.lastErr})
		if !s.connected && s.lastErr != "" {
			st.Problems = append(st.Problems, fmt.Sprintf("scanner %s is not connected: %s", s.src.Name(), s.lastErr))
		}
		s.mu.Unlock()
	}
	recent := d.feed.Recent()
	for i := len(recent) - 1; i >= 0 && len(st.Recent) < 20; i-- {
		ev := recent[i]
		st.Recent = append(st.Recent, eventDTO(ev))
	}
	return st
}

// Subscribe follows the feed and, for a client resuming after event
// number after, first replays what the feed still remembers (a gap event
// stands for what it forgot).
func (b statusBackend) Subscribe(after uint64) control.Subscription {
	// No Wait: a slow client is ended (and told), never waited for.
	sub := &feedSubscription{sub: b.d.feed.Follow(pos.FollowOptions{Buffer: 64}), last: after}
	if after == 0 {
		return sub
	}
	if last := b.d.feed.LastSeq(); after > last {
		// Numbers start again at 1 when tillscan starts: the client's
		// event is from an earlier run. Everything remembered is new to it.
		sub.last = 0
		sub.backlog = append(sub.backlog, control.Event{At: time.Now(), Kind: control.KindGap,
			Message: fmt.Sprintf("tillscan restarted since event %d: read /api/v1/status for the current state", after)})
		after = 0
	}
	missed := b.d.feed.Since(after)
	if len(missed) > 0 && missed[0].Seq > after+1 {
		sub.backlog = append(sub.backlog, control.Event{Seq: missed[0].Seq - 1, At: time.Now(), Kind: control.KindGap,
			Message: fmt.Sprintf("events %d to %d are no longer remembered: read /api/v1/status for the current state", after+1, missed[0].Seq-1)})
	} else if len(missed) == 0 && after > 0 && b.d.feed.LastSeq() > after {
		// Nothing remembered after it, yet more was published: all forgotten.
		last := b.d.feed.LastSeq()
		sub.backlog = append(sub.backlog, control.Event{Seq: last, At: time.Now(), Kind: control.KindGap,
			Message: fmt.Sprintf("events %d to %d are no longer remembered: read /api/v1/status for the current state", after+1, last)})
	}
	for _, ev := range missed {
		sub.backlog = append(sub.backlog, eventDTO(ev))
	}
	return sub
}

// The reasons an event stream ends, as its client reads them.
var (
	errFellBehind   = errors.New("this stream fell behind and was ended: reconnect, and read /api/v1/status for what was missed")
	errStreamClosed = errors.New("the daemon closed this stream")
)

// feedSubscription is one client's subscription to the till's events:
// first the backlog of a resumed stream, then what the feed publishes
// after the last event sent (the two may overlap; nothing is sent twice).
type feedSubscription struct {
	sub     *pos.Subscription
	backlog []control.Event
	last    uint64 // Seq of the last event returned
}

func (s *feedSubscription) Next(ctx context.Context) (control.Event, error) {
	if len(s.backlog) > 0 {
		ev := s.backlog[0]
		s.backlog = s.backlog[1:]
		s.last = ev.Seq
		return ev, nil
	}
	for {
		select {
		case <-ctx.Done():
			return control.Event{}, ctx.Err()
		case ev, ok := <-s.sub.C:
			if !ok {
				if err := s.sub.Err(); errors.Is(err, pos.ErrFellBehind) {
					return control.Event{}, errFellBehind
				}
				return control.Event{}, errStreamClosed
			}
			if ev.Seq <= s.last {
				continue // already sent from the backlog
			}
			s.last = ev.Seq
			return eventDTO(ev), nil
		}
	}
}

func (s *feedSubscription) Close() { s.sub.Close() }

// eventDTO is ev as the control API shows it (without its internal error
// text: Message says what the cashier needs).
func eventDTO(ev pos.Event) control.Event {
	return control.Event{
		Seq: ev.Seq, At: ev.At, Kind: string(ev.Kind), Scanner: ev.Scanner, Card: ev.Card, Job: ev.JobID,
		Mode: ev.Mode, Message: ev.Message, Action: ev.Action, Balance: ev.Balance,
	}
}

// pacing fills in how the API client paces requests now and returns the
// problems that shows: the shared limiter unreachable, a pause the API
// asked for.
// longPause is how far ahead a 429 or 503 pause must end to be a problem.
const longPause = 30 * time.Second

func pacing(api *control.APIStatus, cs apiclient.Status, inFlight int, now time.Time) []string {
	api.Rate, api.RateLimit, api.InFlight = cs.Rate, cs.RateLimit, inFlight
	var problems []string
	if cs.Paused(now) {
		api.PausedUntil, api.PausedBy = cs.PausedUntil, cs.PausedBy
	}
	// A pause of a few seconds is the key's limit doing its job (tills
	// sharing a key meet one now and then): the pace line shows it. Only a
	// long one (a Retry-After of minutes) needs someone to look.
	if cs.PausedUntil.Sub(now) > longPause {
		problems = append(problems, fmt.Sprintf("the loyalty API asked this till to wait (HTTP %d): no request starts before %s; scans are saved and sent after",
			cs.PausedBy, cs.PausedUntil.Local().Format(time.TimeOnly)))
	}
	switch cs.Shared {
	case apiclient.SharedOff:
		api.SharedLimiter = control.SharedLimiterOff
	case apiclient.SharedOK:
		api.SharedLimiter = control.SharedLimiterOK
	default:
		api.SharedLimiter = control.SharedLimiterUnreachable
		why := "no reason given"
		if cs.SharedErr != nil {
			why = cs.SharedErr.Error()
		}
		api.SharedLimiterError = why
		problems = append(problems, fmt.Sprintf("the shared rate limiter (Redis) cannot be reached: %s; this till paces itself and scans are still sent", why))
	}
	return problems
}
