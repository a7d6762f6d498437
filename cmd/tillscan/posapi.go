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
// /api/v1/scans, /api/v1/undo and /api/v1/next): a posted scan goes through the same
// till as a scanner's, and errors become the control API's stable codes.

// Scan handles a posted scan as if the named scanner (control.APIScanner if
// none) had read it. No beep and no pass-through: the POS sent it and
// reads the answer.
func (b statusBackend) Scan(_ context.Context, req control.ScanRequest) (control.ScanResult, error) {
	d := b.d
	name, err := d.posScanner(req.Scanner)
	if err != nil {
		return control.ScanResult{}, err
	}
	ev := d.till.Handle(scanner.Scan{Text: req.Text, Scanner: name, At: time.Now()})
	d.saves.record(ev)
	return scanResult(ev, name), nil
}

// Undo takes back the last action for the last card scanned, as the UNDO
// command barcode read by the named scanner (control.APIScanner if none).
func (b statusBackend) Undo(_ context.Context, req control.UndoRequest) (control.ScanResult, error) {
	name, err := b.d.posScanner(req.Scanner)
	if err != nil {
		return control.ScanResult{}, err
	}
	return scanResult(b.d.till.Undo(name), name), nil
}

// posScanner returns the scanner a POS request speaks for: the configured
// scanner called name, or control.APIScanner for "". While the daemon is
// starting or stopping it refuses every such request.
func (d *daemon) posScanner(name string) (string, error) {
	if !d.accepting.Load() {
		return "", &control.Error{Status: http.StatusServiceUnavailable, Code: control.CodeUnavailable,
			Message: "tillscan is starting or stopping and takes no scans now: try again in a few seconds"}
	}
	if name == "" {
		return control.APIScanner, nil
	}
	return name, d.knownScanner(name)
}

// scanResult is ev, the till's answer to a scan or an undo, as the POS API
// answers it.
func scanResult(ev pos.Event, scanner string) control.ScanResult {
	return control.ScanResult{
		Seq: ev.Seq, Outcome: string(ev.Kind), Saved: ev.Kind == pos.EventSaved, Message: ev.Message,
		Scanner: scanner, Card: ev.Card, Job: ev.JobID, Mode: ev.Mode,
	}
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
	if err := d.till.SetNextOn(req.Scanner, req.Mode, req.PurchaseSum); err != nil {
		return res, nextError(err, req)
	}
	res.Message = "next card scan on " + req.Scanner + ": " + nextText(req, d.cfg.Currency)
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
