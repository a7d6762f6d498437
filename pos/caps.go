package pos

import (
	"errors"
	"fmt"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// This file holds caps and cooldowns: how often one card may get its
// action at this till. They are checked at the till from the queue's own
// history, so they hold offline, across restarts and across midnight, and
// a capped scan is refused at once instead of being sent.

// Cap limits one card's earning scans (scans in the default mode: a redeem
// or another mode is neither capped nor counted).
type Cap struct {
	PerDay      int           // at most this many per card per shop day; 0: no daily limit
	MinInterval time.Duration // at least this long between two; 0: none (the vendor's kiosk uses 10–20 s)
}

func (c Cap) set() bool { return c.PerDay > 0 || c.MinInterval > 0 }

// Caps holds the caps by card type and by template; a template's cap
// replaces its type's. The zero value caps nothing.
type Caps struct {
	ByType     map[apiclient.CardType]Cap
	ByTemplate map[int]Cap
	// Location is the shop's time zone: its midnight starts a new day. nil
	// means time.Local.
	Location *time.Location
}

// History reads a card's saved jobs; *queue.Queue satisfies it.
type History interface {
	CardHistory(card string, since time.Time) ([]queue.Job, error)
}

// ErrCapped is wrapped by the error of a scan a cap refuses.
var ErrCapped = errors.New("pos: card capped")

// CapError says why a cap refused a scan, in the cashier's words.
type CapError struct {
	Reason string        // e.g. "already stamped today", "wait 12 s"
	Wait   time.Duration // until the scan would be accepted
}

func (e *CapError) Error() string { return "pos: " + e.Reason }
func (e *CapError) Unwrap() error { return ErrCapped }

// For returns the cap of a card of type typ and template, and whether one
// is set.
func (c Caps) For(typ apiclient.CardType, template int) (Cap, bool) {
	if cp, ok := c.ByTemplate[template]; ok && template != 0 {
		return cp, cp.set()
	}
	cp, ok := c.ByType[typ]
	return cp, ok && cp.set()
}

// Check returns a *CapError (wrapping ErrCapped) if a scan of card, of
// type typ and template, made at now would break its cap, judged by the
// card's jobs in h; nil if it may be saved. Jobs that were refused,
// dropped or undone did nothing and do not count, and neither do scans in
// a mode or the undos themselves.
// An error reading h is returned as it is: the caller decides (the till
// saves the scan: a cap must never lose one).
func (c Caps) Check(h History, card string, typ apiclient.CardType, template int, now time.Time) error {
	cp, ok := c.For(typ, template)
	if !ok {
		return nil
	}
	loc := c.Location
	if loc == nil {
		loc = time.Local
	}
	y, m, d := now.In(loc).Date()
	dayStart := time.Date(y, m, d, 0, 0, 0, 0, loc)
	since := dayStart
	if cp.MinInterval > 0 && now.Add(-cp.MinInterval).Before(since) {
		since = now.Add(-cp.MinInterval) // a cooldown runs across midnight
	}
	jobs, err := h.CardHistory(card, since)
	if err != nil {
		return fmt.Errorf("pos: caps of card %s: %w", card, err)
	}
	undone := map[string]bool{} // a scan taken back by UNDO did not count, nor did the undo
	for _, j := range jobs {
		if j.Undoes != "" && j.State != queue.Refused && j.State != queue.Dropped {
			undone[j.Undoes] = true
		}
	}
	today := 0
	var last time.Time
	for _, j := range jobs {
		if j.Mode != "" || j.Undoes != "" || undone[j.ID] || j.State == queue.Refused || j.State == queue.Dropped {
			continue
		}
		if !j.ScannedAt.Before(dayStart) {
			today++
		}
		if j.ScannedAt.After(last) {
			last = j.ScannedAt
		}
	}
	if cp.PerDay > 0 && today >= cp.PerDay {
		tomorrow := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		return &CapError{Reason: fmt.Sprintf("already %s%s today (at most %d a day): try again tomorrow", capVerb(typ), capTimes(today), cp.PerDay), Wait: tomorrow.Sub(now)}
	}
	if cp.MinInterval > 0 && !last.IsZero() {
		if wait := last.Add(cp.MinInterval).Sub(now); wait > 0 {
			return &CapError{Reason: fmt.Sprintf("wait %d s (at most one scan every %s), then scan the card again", int((wait+time.Second-1)/time.Second), cp.MinInterval), Wait: wait}
		}
	}
	return nil
}

// capVerb says what a card's earning scan did, for "already … today".
func capVerb(typ apiclient.CardType) string {
	switch typ {
	case apiclient.Stamp:
		return "stamped"
	case apiclient.Membership, apiclient.Multipass:
		return "visited"
	}
	return "counted"
}

func capTimes(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" %d times", n)
}

// cappedLocked returns why a scan of card at now breaks its cap, or "" if
// it may be saved. Only a card the till knows has a type to be capped by;
// scans in a mode are not capped. A history it cannot read lets the scan
// through (logged): a cap must never cost a scan.
func (t *Till) cappedLocked(card string, ctx nextScan, now time.Time) string {
	if t.cfg.Jobs == nil || t.cfg.Cards == nil || ctx.mode != "" {
		return ""
	}
	info, ok := t.cfg.Cards.Get(card)
	if !ok {
		return ""
	}
	err := t.cfg.Caps.Check(t.cfg.Jobs, card, info.Type, info.TemplateID, now)
	if ce, ok := errors.AsType[*CapError](err); ok {
		return ce.Reason
	} else if err != nil {
		t.log.Warn().Err(err).Str("card", card).Msg("caps could not be checked; the scan is saved uncapped")
	}
	return ""
}
