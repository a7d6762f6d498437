package pos

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// Enqueuer stores a job durably; *queue.Queue satisfies it. A scan the
// till refuses at once is recorded with EnqueueRefused, for audit and the
// day's report: it is never sent and holds nothing.
type Enqueuer interface {
	Enqueue(s queue.Scan, now time.Time) (queue.Job, error)
	EnqueueRefused(s queue.Scan, reason string, now time.Time) (queue.Job, error)
}

// TillConfig configures a Till. Zero fields mean the documented default.
type TillConfig struct {
	TillID       string        // required; goes into every job (and so every marker); see ValidTillID
	Extractor    *Extractor    // nil means NewExtractor("")
	DedupeWindow time.Duration // same card again within it is a repeat; 0 means 10s, <0 turns dedupe off
	// Commands maps a command barcode's text (matched whole and ignoring
	// case; for PurchaseSum commands, as a prefix) to what it does. nil
	// means DefaultCommands(); an empty map means no command barcodes.
	Commands    map[string]Command
	ModeTimeout time.Duration // a mode or sum not used within it is forgotten; 0 means 60s
	// Rules, if set, lets the Till refuse a mode that has no rules when it
	// is set, rather than when the job reaches the worker.
	Rules    func() Rules
	Currency string // prefix for money in messages, e.g. "£"
	// Cards, if set with Rules, lets the Till refuse at once a known card
	// whose action needs a purchase sum the scan does not carry, instead of
	// saving a job that can only be refused later (and, parked, would hold
	// the card's next scans).
	Cards *Cache
	// Jobs, if set, lets the Till read and cancel the jobs it saved: caps
	// and UNDO need it. *queue.Queue satisfies it.
	Jobs TillJobs
	// Caps limits how often a card the till knows (in Cards) gets its
	// action: a capped scan is refused at once with the reason and kept for
	// the day's report. Counted from Jobs, so it holds offline and across
	// restarts.
	Caps Caps
	// AmountBarcode, if set, recognises the purchase sum the POS prints on
	// the receipt as a barcode: scanned before the card, it sets the sum
	// like TILLSCAN:SUM:<amount>.
	AmountBarcode *AmountBarcode
	// UndoRepeat lets UNDO scanned again take back the action before the
	// one just undone; without it a second UNDO in a row is refused.
	UndoRepeat bool
}

// Validate checks the config.
func (c TillConfig) Validate() error {
	var errs []error
	if err := ValidTillID(c.TillID); err != nil {
		errs = append(errs, err)
	}
	for text, cmd := range c.Commands {
		n := 0
		for _, set := range []bool{cmd.Mode != "", cmd.PurchaseSum, cmd.Cancel, cmd.Undo} {
			if set {
				n++
			}
		}
		switch {
		case strings.TrimSpace(text) == "" || strings.TrimSpace(text) != text:
			errs = append(errs, fmt.Errorf("pos: command barcode %q: the text must not be empty or start or end with spaces", text))
		case n != 1:
			errs = append(errs, fmt.Errorf("pos: command barcode %q: set exactly one of mode, purchase sum, cancel or undo", text))
		case c.Rules != nil && cmd.Mode != "" && !c.Rules().HasMode(cmd.Mode):
			errs = append(errs, fmt.Errorf("pos: command barcode %q: mode %q has no rules", text, cmd.Mode))
		}
	}
	return errors.Join(errs...)
}

// Till is the front half of tillscan: it turns each scan into an event,
// and a card scan into a durable job. Create one with NewTill; Handle and
// SetNext are safe for concurrent use (several scanners, the control API).
type Till struct {
	cfg      TillConfig
	ex       *Extractor
	exact    map[string]Command // upper-cased text → command
	prefix   map[string]Command // upper-cased prefix → purchase sum command
	q        Enqueuer
	feed     *Feed
	wake     func()
	log      zerolog.Logger
	mu       sync.Mutex              // guards everything below; held across Enqueue so two scanners cannot both save one card
	next     map[string]nextScan     // pending mode/sum by scanner name; "" is from SetNext, for any scanner
	seen     map[string][]dedupeMark // saved scans by card, inside the window
	handled  int                     // scans since the last sweep of seen
	lastCard string                  // the card scanned last: what UNDO is about
	lastUndo bool                    // the last thing scanned was UNDO
}

// nextScan is the context the next card scan takes.
type nextScan struct {
	mode string
	sum  *float64
	at   time.Time // when it was set; it expires ModeTimeout later
}

type dedupeMark struct {
	key string // mode and sum the scan was saved with
	at  time.Time
}

// NewTill returns a Till that enqueues into q, publishes on feed and calls
// wake (if not nil) after each saved job. cfg should have passed Validate.
func NewTill(cfg TillConfig, q Enqueuer, feed *Feed, wake func(), log zerolog.Logger) *Till {
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = 10 * time.Second
	}
	if cfg.ModeTimeout <= 0 {
		cfg.ModeTimeout = 60 * time.Second
	}
	if cfg.Commands == nil {
		cfg.Commands = DefaultCommands()
	}
	ex := cfg.Extractor
	if ex == nil {
		ex, _ = NewExtractor("") // the default pattern compiles
	}
	t := &Till{cfg: cfg, ex: ex, q: q, feed: feed, wake: wake, log: log,
		exact: map[string]Command{}, prefix: map[string]Command{},
		next: map[string]nextScan{}, seen: map[string][]dedupeMark{}}
	for text, cmd := range cfg.Commands {
		if cmd.PurchaseSum {
			t.prefix[strings.ToUpper(text)] = cmd
		} else {
			t.exact[strings.ToUpper(text)] = cmd
		}
	}
	return t
}

// Handle handles one scan and returns the event it published: a command
// barcode sets the next card scan's mode or sum ("mode"); a scan without a
// card number is "not_card" (the caller may pass it on to the POS); the
// same card again inside the dedupe window is "repeat"; otherwise the job is
// enqueued: "saved" once it is on disk, or "not_saved" with what to do.
//
// A mode or sum applies to the next card scan of the same scanner only
// (or, set by SetNext, of any scanner), then reverts to the default; it is
// forgotten after ModeTimeout. Dedupe knows modes: a scan that comes with a
// mode or sum is a repeat only of a scan with the same mode and sum, so a
// redeem right after a stamp goes through, while a plain scan is a repeat
// of any saved scan of that card (a scanner's double read after a redeem).
func (t *Till) Handle(s scanner.Scan) Event {
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	text := strings.TrimSpace(s.Text)
	ev := Event{At: at, Scanner: s.Scanner, Raw: s.Text}
	if cmd, arg, ok := t.command(text); ok {
		return t.applyCommand(ev, cmd, arg)
	}
	if t.cfg.AmountBarcode != nil {
		if amount, ok := t.cfg.AmountBarcode.Amount(text); ok {
			return t.applyCommand(ev, Command{PurchaseSum: true}, amount)
		}
	}
	if strings.HasPrefix(strings.ToUpper(text), commandPrefix) {
		// tillscan's own barcode, but not one configured here: say so
		// rather than pass it on to the POS as if it were a product.
		ev.Kind, ev.Err = EventRefused, "unknown command barcode"
		ev.Message = "command barcode not known on this till: " + shortQuote(text) + " — nothing changed; check the barcode sheet"
		return t.feed.publish(ev)
	}
	card, err := t.ex.Card(text)
	if err != nil {
		ev.Kind, ev.Err = EventNotCard, err.Error()
		ev.Message = "not a loyalty card: " + shortQuote(text)
		if errors.Is(err, errTwoCards) {
			ev.Message = "more than one card number in this code: not used"
		}
		return t.feed.publish(ev)
	}
	ev.Card = card

	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(at)
	t.lastCard, t.lastUndo = card, false
	who, ctx := t.pendingLocked(s.Scanner, at)
	ev.Mode = ctx.mode
	key := dedupeKey(ctx)
	if prev, ok := t.repeatLocked(card, key, ctx.mode != "" || ctx.sum != nil, at); ok {
		delete(t.next, who) // the mode was meant for this card, which just got it
		ev.Kind = EventRepeat
		ev.Message = fmt.Sprintf("%s: scanned again %s after the last scan — ignored", card, roundAge(at.Sub(prev)))
		return t.feed.publish(ev)
	}
	sc := queue.Scan{Card: card, TillID: t.cfg.TillID, Scanner: s.Scanner, Raw: s.Text, ScannedAt: at,
		Mode: ctx.mode, PurchaseSum: ctx.sum}
	act, why, msg := t.decideLocked(card, ctx)
	if why != nil {
		ev.Kind, ev.Err = EventRefused, why.Error()
		ev.Message = msg
		if job, err := t.q.EnqueueRefused(sc, refusalText(why), at); err != nil {
			// The cashier is told either way; only the audit record is missing.
			t.log.Warn().Err(err).Str("card", card).Msg("a scan refused at the till could not be recorded for the day's report")
		} else {
			ev.JobID = job.ID
		}
		return t.feed.publish(ev) // the mode stays pending: scan a (whole) sum, then the card
	}
	if reason := t.cappedLocked(card, ctx, at); reason != "" {
		delete(t.next, who) // the mode was meant for this card, which just got its answer
		ev.Kind, ev.Err = EventRefused, reason
		ev.Message = card + ": NOT applied — " + reason
		if job, err := t.q.EnqueueRefused(sc, reason, at); err != nil {
			t.log.Warn().Err(err).Str("card", card).Msg("a scan refused at the till could not be recorded for the day's report")
		} else {
			ev.JobID = job.ID
		}
		return t.feed.publish(ev)
	}
	job, err := t.q.Enqueue(sc, at)
	if err != nil {
		// The mode stays pending: the cashier scans the card again.
		ev.Kind, ev.Err = EventNotSaved, err.Error()
		ev.Message = card + ": NOT saved — scan the card again; if this repeats, see the tillscan log"
		return t.feed.publish(ev)
	}
	delete(t.next, who)
	if t.cfg.DedupeWindow > 0 {
		t.seen[card] = append(t.seen[card], dedupeMark{key: key, at: at})
	}
	ev.Kind, ev.JobID = EventSaved, job.ID
	ev.Message = card + ": saved"
	if c := t.contextText(ctx); c != "" {
		ev.Message += " (" + c + countedText(act, ctx.sum) + ")"
	}
	ev = t.feed.publish(ev)
	if t.wake != nil {
		t.wake()
	}
	return ev
}

// decideLocked decides a known card's action at the till, as the worker
// will: act is the action (nil when the card is not known yet, or the
// worker must decide, e.g. a reward tier by the current balance); refuse
// is set when the scan cannot be applied as it is (no purchase sum, a sum
// that is not whole where the card takes whole amounts), with msg for the
// cashier.
func (t *Till) decideLocked(card string, ctx nextScan) (act *apiclient.Action, refuse error, msg string) {
	if t.cfg.Cards == nil || t.cfg.Rules == nil {
		return nil, nil, ""
	}
	info, ok := t.cfg.Cards.Get(card)
	if !ok {
		return nil, nil, ""
	}
	r := t.cfg.Rules()
	mech, declared := r.Mechanics[info.TemplateID]
	if !declared {
		mech, _ = t.cfg.Cards.Mechanics(info.TemplateID)
	}
	c := apiclient.Card{ID: card, Type: info.Type, TemplateID: info.TemplateID, AvailableRewardTiers: info.RewardTiers}
	a, err := r.Decide(c, mech, ctx.mode, ctx.sum)
	switch {
	case errors.Is(err, ErrNeedPurchaseSum):
		return nil, ErrNeedPurchaseSum, card + ": NOT applied — this " + info.Type.String() + " card needs the purchase sum: scan " +
			sumHint + " (or enter it on the POS), then the card again"
	case errors.Is(err, ErrWholeAmount):
		return nil, ErrWholeAmount, card + ": NOT applied — this " + info.Type.String() + " card takes whole amounts only: scan a whole sum, then the card again"
	case err != nil:
		return nil, nil, "" // the worker decides, and says why
	}
	return &a, nil, ""
}

// countedText says how much of the purchase sum an action counts when
// the API takes whole numbers and the sum was rounded: " → 12 counted".
func countedText(act *apiclient.Action, sum *float64) string {
	if act == nil || sum == nil || !act.Method.IntegerQuantity() || act.Quantity == *sum {
		return ""
	}
	return " → " + fmtNum(act.Quantity) + " counted"
}

// pendingLocked returns the context the next card scan on scanner takes,
// and under which key it is stored; expired contexts are dropped.
func (t *Till) pendingLocked(scanner string, at time.Time) (string, nextScan) {
	for _, who := range []string{scanner, ""} {
		ctx, ok := t.next[who]
		if !ok {
			continue
		}
		if at.Sub(ctx.at) > t.cfg.ModeTimeout {
			delete(t.next, who)
			continue
		}
		return who, ctx
	}
	return scanner, nextScan{}
}

// repeatLocked reports whether card was saved inside the window: with the
// same key if explicit, with any key otherwise. prev is when.
func (t *Till) repeatLocked(card, key string, explicit bool, at time.Time) (time.Time, bool) {
	if t.cfg.DedupeWindow < 0 {
		return time.Time{}, false
	}
	for _, m := range slices.Backward(t.seen[card]) {
		if at.Sub(m.at) < t.cfg.DedupeWindow && (!explicit || m.key == key) {
			return m.at, true
		}
	}
	return time.Time{}, false
}

// sweepLocked forgets dedupe marks older than the window, every 256 scans.
func (t *Till) sweepLocked(at time.Time) {
	if t.handled++; t.handled < 256 {
		return
	}
	t.handled = 0
	for card, ms := range t.seen {
		keep := ms[:0]
		for _, m := range ms {
			if d := at.Sub(m.at); d < t.cfg.DedupeWindow && d > -time.Hour {
				keep = append(keep, m)
			}
		}
		if len(keep) == 0 {
			delete(t.seen, card)
		} else {
			t.seen[card] = keep
		}
	}
}

func dedupeKey(ctx nextScan) string {
	if ctx.sum == nil {
		return ctx.mode
	}
	return ctx.mode + "|" + strconv.FormatFloat(*ctx.sum, 'f', -1, 64)
}

// roundAge writes a duration for people: "3s", "1m0s".
func roundAge(d time.Duration) string {
	if d < time.Second {
		return "less than a second"
	}
	return d.Round(time.Second).String()
}

// shortQuote quotes a scan for a message, cut to a readable length.
func shortQuote(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return strconv.Quote(s)
}
