package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/scanner"
)

// This file holds the daemon's side of the POS endpoints (POST
// /api/v1/scans and /api/v1/next): a posted scan goes through the same
// till as a scanner's, and errors become the control API's stable codes.

// Scan handles a posted scan as if the named scanner (control.APIScanner if
// none) had read it. No beep and no pass-through: the POS sent it and
// reads the answer.
func (b statusBackend) Scan(_ context.Context, req control.ScanRequest) (control.ScanResult, error) {
	d := b.d
	if !d.accepting.Load() {
		return control.ScanResult{}, &control.Error{Status: http.StatusServiceUnavailable, Code: control.CodeUnavailable,
			Message: "tillscan is starting or stopping and takes no scans now: try again in a few seconds"}
	}
	name := req.Scanner
	if name == "" {
		name = control.APIScanner
	} else if err := d.knownScanner(name); err != nil {
		return control.ScanResult{}, err
	}
	ev := d.till.Handle(scanner.Scan{Text: req.Text, Scanner: name, At: time.Now()})
	d.saves.record(ev)
	return control.ScanResult{
		Seq: ev.Seq, Outcome: string(ev.Kind), Saved: ev.Kind == pos.EventSaved, Message: ev.Message,
		Scanner: name, Card: ev.Card, Job: ev.JobID, Mode: ev.Mode,
	}, nil
}

// knownScanner is nil if a configured scanner is called name, else the
// control API's unknown_scanner answer listing the names.
func (d *daemon) knownScanner(name string) error {
	var names []string
	for _, s := range d.sources {
		if s.src.Name() == name {
			return nil
		}
		names = append(names, s.src.Name())
	}
	sort.Strings(names)
	return &control.Error{Status: http.StatusBadRequest, Code: control.CodeUnknownScanner,
		Message: fmt.Sprintf("scanner %q is not configured on this till (scanners: %s); leave scanner out for the till as a whole", name, strings.Join(names, ", "))}
}

// SetNext sets the next card scan's mode and sum, for the whole till or for
// one scanner.
func (b statusBackend) SetNext(req control.NextRequest) (control.NextResult, error) {
	d := b.d
	res := control.NextResult{For: control.NextForTill, Mode: req.Mode, PurchaseSum: req.PurchaseSum}
	if err := d.checkNext(req); err != nil {
		return res, err
	}
	if req.Scanner == "" {
		if err := d.till.SetNext(req.Mode, req.PurchaseSum); err != nil {
			return res, nextError(err, req) // checkNext saw it fine: the rules changed since (reload)
		}
		res.Message = "next card scan on any scanner: " + nextText(req, d.cfg.Currency)
		return res, nil
	}
	if err := d.knownScanner(req.Scanner); err != nil {
		return res, err
	}
	res.For, res.Scanner = control.NextForScanner, req.Scanner
	ev, err := d.setNextOn(req)
	if err != nil {
		return res, err
	}
	res.Message = ev.Message
	return res, nil
}

// checkNext refuses what the till would refuse, in the control API's
// words.
func (d *daemon) checkNext(req control.NextRequest) error {
	if req.Mode != "" && !d.rules.Load().HasMode(req.Mode) {
		return nextError(pos.ErrUnknownMode, req)
	}
	if req.PurchaseSum != nil {
		if _, err := pos.ParsePurchaseSum(sumText(*req.PurchaseSum)); err != nil {
			return nextError(err, req)
		}
	}
	return nil
}

// setNextOn gives one scanner its next scan's context the way a cashier
// does: the scanner "reads" the command barcodes (cancel, mode, sum), so
// the till keeps one rule for what a pending mode is and when it expires.
// The last event says what the next scan takes.
func (d *daemon) setNextOn(req control.NextRequest) (pos.Event, error) {
	var texts []string
	if req.Mode == "" && req.PurchaseSum == nil {
		texts = append(texts, d.commandText(pos.Command{Cancel: true}))
	}
	if req.Mode != "" {
		texts = append(texts, d.commandText(pos.Command{Mode: req.Mode}))
	}
	if req.PurchaseSum != nil {
		texts = append(texts, d.commandText(pos.Command{PurchaseSum: true})+sumText(*req.PurchaseSum))
	}
	var ev pos.Event
	for _, text := range texts {
		ev = d.till.Handle(scanner.Scan{Text: text, Scanner: req.Scanner, At: time.Now()})
		if ev.Kind != pos.EventMode {
			d.log.Error().Str("command", text).Str("outcome", string(ev.Kind)).Str("message", ev.Message).Msg("POS next-scan request: the till did not take its command barcode")
			return ev, errors.New("the till did not take command " + strconv.Quote(text))
		}
	}
	return ev, nil
}

// commandText is the barcode text of cmd on this till (the built-in ones
// and each mode's barcode).
func (d *daemon) commandText(cmd pos.Command) string {
	if m, ok := d.cfg.Modes[cmd.Mode]; ok && cmd.Mode != "" && m.Barcode != "" {
		return m.Barcode
	}
	for text, c := range pos.DefaultCommands() {
		if c == cmd {
			return text
		}
	}
	return ""
}

// nextError is err (from pos) as the control API answers it.
func nextError(err error, req control.NextRequest) error {
	switch {
	case errors.Is(err, pos.ErrUnknownMode):
		return &control.Error{Status: http.StatusBadRequest, Code: control.CodeUnknownMode,
			Message: fmt.Sprintf("mode %q has no rules on this till: use a mode from tillscan.yaml's modes, or \"\" for the normal rules", req.Mode)}
	case errors.Is(err, pos.ErrBadSum):
		return &control.Error{Status: http.StatusBadRequest, Code: control.CodeBadSum,
			Message: fmt.Sprintf("purchase_sum: want an amount above 0 and below %d with at most 2 decimals", pos.MaxPurchaseSum)}
	}
	return err
}

// sumText writes a sum the way a sum barcode carries it.
func sumText(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// nextText describes what the next scan takes.
func nextText(req control.NextRequest, currency string) string {
	var parts []string
	if req.Mode != "" {
		parts = append(parts, req.Mode)
	}
	if req.PurchaseSum != nil {
		parts = append(parts, "purchase "+currency+strconv.FormatFloat(*req.PurchaseSum, 'f', 2, 64))
	}
	if len(parts) == 0 {
		return "back to normal"
	}
	return strings.Join(parts, ", ")
}
