package main

import (
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/passthrough"
)

// openPassTyper opens the virtual keyboard that re-types one scanner's
// non-card scans, behind a passthrough.Typer: its Type only queues, so the
// scanner's read goroutine never waits for the keys, and a scan that could
// not be typed is logged here, once, when that is known. log should name
// the scanner. Close the typer after the scanner has stopped.
func openPassTyper(name, layout string, log zerolog.Logger) (typer, error) {
	kb, err := passthrough.Open(name, layout)
	if err != nil {
		return nil, err
	}
	return passthrough.NewTyper(kb, passthrough.DefaultQueue, func(r passthrough.Typed) {
		if r.Err != nil {
			log.Error().Err(r.Err).Str("barcode", r.Text).Msg("pass-through to the POS failed: the POS did not get this barcode")
		}
	}), nil
}

// passTerminator is what pass-through types after a scan framed with t: the
// key the scanner itself sent (Enter or Tab), nothing for none.
func passTerminator(t scanner.Terminator) string { return passthrough.Terminator(t) }
