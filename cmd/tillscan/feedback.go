package main

import (
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/scanner"
)

// feedbacker is a scanner that can beep good or bad (scanner.Serial,
// hid.Source).
type feedbacker interface{ Feedback(good bool) error }

// handle is called for every scan from every scanner: the till decides,
// the scanner beeps what the till's event says, and a scan that is not a
// card goes on to the POS when pass-through is on (then the POS, not
// tillscan, owns that scan's beep).
func (d *daemon) handle(s *source, sc scanner.Scan) {
	ev := d.till.Handle(sc)
	d.saves.record(ev)
	passOn := ev.Kind == pos.EventNotCard && s.pass != nil
	if fb, ok := s.src.(feedbacker); ok && !passOn {
		if err := fb.Feedback(ev.GoodRead()); err != nil {
			d.log.Debug().Err(err).Str("scanner", s.src.Name()).Msg("scanner feedback")
		}
	}
	if passOn {
		// The typer only queues; it logs a scan it could not type.
		if err := s.pass.Type(sc.Text, s.term); err != nil {
			d.log.Error().Err(err).Str("scanner", s.src.Name()).Msg("pass-through to the POS failed: the POS did not get this barcode")
		}
	}
}
