package pos

import (
	"fmt"
	"strings"
	"time"
)

// This file holds the command barcodes: what a barcode scanned before a
// card does to that card's scan (its mode, its purchase sum), and SetNext,
// the same for POS software.

// Command is what a command barcode does to the next card scan of the
// scanner that read it.
type Command struct {
	// Mode sets the next card scan's mode (e.g. "redeem").
	Mode string
	// PurchaseSum makes the command's text a prefix followed by the
	// purchase sum, e.g. key "TILLSCAN:SUM:" reads "TILLSCAN:SUM:12.50".
	PurchaseSum bool
	// Cancel forgets the pending mode and sum.
	Cancel bool
	// Undo takes back the last action this till took for the last card
	// scanned (see Till.Undo).
	Undo bool
}

// commandPrefix starts every tillscan command barcode text by convention.
const commandPrefix = "TILLSCAN:"

// DefaultCommands are the command barcodes when config names none:
// "TILLSCAN:REDEEM" (mode redeem), "TILLSCAN:SUM:<amount>" (purchase sum,
// e.g. "TILLSCAN:SUM:12.50"), "TILLSCAN:CANCEL" and "TILLSCAN:UNDO".
func DefaultCommands() map[string]Command {
	return map[string]Command{
		"TILLSCAN:REDEEM": {Mode: ModeRedeem},
		"TILLSCAN:SUM:":   {PurchaseSum: true},
		"TILLSCAN:CANCEL": {Cancel: true},
		undoText:          {Undo: true},
	}
}

// undoText is the built-in UNDO command barcode's text.
const undoText = "TILLSCAN:UNDO"

// sumHint is the command barcode text the cashier is told to scan.
const sumHint = "TILLSCAN:SUM:<amount>"

// SetNext sets the mode and purchase sum of the next card scan on any
// scanner (for the control API and POS software); mode "" and a nil sum
// clear it. A mode without rules or a sum that is not a positive amount is
// an error, and nothing changes.
func (t *Till) SetNext(mode string, purchaseSum *float64) error {
	return t.SetNextOn("", mode, purchaseSum)
}

// SetNextOn is SetNext for the next card scan of one named scanner (a
// lane's scanner, when the POS knows which); scanner "" means any scanner.
// A scanner's own context goes before the one for any scanner, and a
// command barcode scanned on that scanner replaces it.
func (t *Till) SetNextOn(scanner, mode string, purchaseSum *float64) error {
	if mode != "" && t.cfg.Rules != nil && !t.cfg.Rules().HasMode(mode) {
		return fmt.Errorf("pos: mode %q: %w", mode, ErrUnknownMode)
	}
	if purchaseSum != nil && !validSum(*purchaseSum) {
		return fmt.Errorf("pos: purchase sum %v: %w", *purchaseSum, ErrBadSum)
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx := nextScan{mode: mode, sum: purchaseSum, at: now}
	ev := Event{At: now, Kind: EventMode, Mode: mode, Scanner: scanner}
	if mode == "" && purchaseSum == nil {
		delete(t.next, scanner)
		ev.Message = "next scan: back to normal"
	} else {
		t.next[scanner] = ctx
		ev.Message = "next scan: " + t.contextText(ctx)
	}
	if scanner != "" {
		ev.Message += " (on " + scanner + ")"
	}
	t.feed.publish(ev)
	return nil
}

// command matches text against the command barcodes; arg is the text after
// a purchase sum prefix.
func (t *Till) command(text string) (Command, string, bool) {
	up := strings.ToUpper(text)
	if cmd, ok := t.exact[up]; ok {
		return cmd, "", true
	}
	for p, cmd := range t.prefix {
		if strings.HasPrefix(up, p) {
			return cmd, text[len(p):], true
		}
	}
	return Command{}, "", false
}

// applyCommand applies a command barcode to its scanner's next scan.
func (t *Till) applyCommand(ev Event, cmd Command, arg string) Event {
	ev.Kind = EventMode
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx, ok := t.next[ev.Scanner]
	if !ok || ev.At.Sub(ctx.at) > t.cfg.ModeTimeout {
		ctx = nextScan{}
	}
	switch {
	case cmd.Undo:
		return t.undoLocked(ev)
	case cmd.Cancel:
		delete(t.next, ev.Scanner)
		delete(t.next, "")
		ev.Message = "next scan: back to normal"
		return t.feed.publish(ev)
	case cmd.PurchaseSum:
		v, err := ParsePurchaseSum(arg)
		if err != nil {
			ev.Kind, ev.Err = EventRefused, err.Error()
			ev.Message = "purchase sum not understood: " + shortQuote(arg) + " — scan the sum again (" + sumRule + ")"
			return t.feed.publish(ev)
		}
		ctx.sum = &v
	default:
		if t.cfg.Rules != nil && !t.cfg.Rules().HasMode(cmd.Mode) {
			ev.Kind, ev.Err = EventRefused, fmt.Sprintf("mode %q has no rules", cmd.Mode)
			ev.Message = "unknown mode " + cmd.Mode + ": ignored — check the till's config"
			return t.feed.publish(ev)
		}
		ctx.mode = cmd.Mode
	}
	ctx.at = ev.At
	t.next[ev.Scanner] = ctx
	ev.Mode = ctx.mode
	ev.Message = "next scan: " + t.contextText(ctx) + fmt.Sprintf(" (for %s)", roundAge(t.cfg.ModeTimeout))
	return t.feed.publish(ev)
}

// contextText describes a mode and sum: "redeem, purchase £12.50".
func (t *Till) contextText(ctx nextScan) string {
	var parts []string
	if ctx.mode != "" {
		parts = append(parts, ctx.mode)
	}
	if ctx.sum != nil {
		parts = append(parts, "purchase "+money(t.cfg.Currency, *ctx.sum))
	}
	return strings.Join(parts, ", ")
}
