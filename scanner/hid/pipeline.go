package hid

import (
	"slices"
	"strings"
	"time"

	"github.com/tillscan/tillscan/scanner"
)

// Mode says how a scanner's reports are read.
type Mode string

// Modes a scanner can be configured with.
const (
	ModeAuto     Mode = "auto"     // per report: 8/9-byte reports are keyboard, longer ones HID POS
	ModeKeyboard Mode = "keyboard" // boot-keyboard reports (keyboard-wedge scanners)
	ModePOS      Mode = "pos"      // HID POS reports (usage page 0x8C)
)

// Modes returns every mode, ModeAuto (the default) first.
func Modes() []Mode { return []Mode{ModeAuto, ModeKeyboard, ModePOS} }

// ParseMode parses "auto" (or ""), "keyboard" or "pos", in any case.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToLower(s))
	if m == "" {
		return ModeAuto, nil
	}
	if slices.Contains(Modes(), m) {
		return m, nil
	}
	var names []string
	for _, m := range Modes() {
		names = append(names, string(m))
	}
	return "", &configError{field: "mode", msg: "unknown mode " + `"` + s + `" (use ` + strings.Join(names, ", ") + ")"}
}

// pipeline turns one device's reports into scans: a KeyboardDecoder feeding
// a scanner.Framer, and a POSDecoder. It is pure and owned by the device's
// goroutine.
type pipeline struct {
	mode   Mode
	kbd    *KeyboardDecoder
	framer *scanner.Framer
	pos    *POSDecoder
	posCfg scanner.FrameConfig // prefix, suffix and max length also apply to HID POS data
	enter  byte                // what Enter types: CR, or LF when the terminator is LF
	text   []byte              // reused decode buffer
}

func newPipeline(c *Config, l *Layout, f POSFormat) (*pipeline, error) {
	fr, err := scanner.NewFramer(c.Frame)
	if err != nil {
		return nil, err
	}
	p := &pipeline{
		mode:   c.Mode,
		kbd:    NewKeyboardDecoder(l, c.ReportID),
		framer: fr,
		pos:    NewPOSDecoder(f, c.Frame.IdleTimeout),
		posCfg: c.Frame,
		enter:  '\r',
	}
	if c.Frame.Terminator == scanner.TermLF {
		p.enter = '\n'
	}
	return p, nil
}

// isPOS says whether a report is read as HID POS.
func (p *pipeline) isPOS(report []byte) bool {
	switch p.mode {
	case ModePOS:
		return true
	case ModeKeyboard:
		return false
	}
	return len(report) > 9 && report[0] == p.pos.f.ReportID
}

// report takes one input report received at time at.
func (p *pipeline) report(report []byte, at time.Time) ([]scanner.Scan, []error) {
	if p.isPOS(report) {
		data, sym, ok := p.pos.Decode(report, at)
		if !ok {
			return nil, nil
		}
		return p.posScan(data, sym, at)
	}
	p.text = p.kbd.Decode(p.text[:0], report)
	if len(p.text) == 0 {
		return p.framer.Tick(at)
	}
	if p.enter == '\n' {
		for i, c := range p.text {
			if c == '\r' {
				p.text[i] = '\n'
			}
		}
	}
	return p.framer.Feed(p.text, at)
}

// readTimeoutMS is how long the next read may wait at now, in
// milliseconds: until the framer's deadline (rounded up, so that the tick
// after it finds the scan due) while a scan is partly read, else
// idleReadTimeout. A partial HID POS scan needs no deadline: Decode drops
// it when it is stale at the next report.
func (p *pipeline) readTimeoutMS(now time.Time) int {
	wait := idleReadTimeout
	if d, ok := p.framer.Deadline(); ok {
		wait = min(max(d.Sub(now), time.Millisecond), idleReadTimeout)
	}
	return int((wait + time.Millisecond - 1) / time.Millisecond)
}

// tick is called when a read timed out: it ends a scan without terminator
// after the idle gap, or drops a stale partial one.
func (p *pipeline) tick(now time.Time) ([]scanner.Scan, []error) {
	if p.pos.Stale(now) {
		p.pos.Reset()
	}
	return p.framer.Tick(now)
}

// posScan applies the configured prefix, suffix and length limit to HID POS
// data, which is otherwise kept byte for byte.
func (p *pipeline) posScan(data []byte, sym string, at time.Time) ([]scanner.Scan, []error) {
	text := string(data)
	if p.posCfg.Prefix != "" {
		text = strings.TrimPrefix(text, p.posCfg.Prefix)
	}
	if p.posCfg.Suffix != "" {
		text = strings.TrimSuffix(text, p.posCfg.Suffix)
	}
	maxLen := p.posCfg.MaxLen
	if maxLen == 0 {
		maxLen = scanner.DefaultMaxLen
	}
	if len(text) > maxLen {
		return nil, []error{&scanner.RejectError{Reason: scanner.ErrTooLong, Len: len(text), At: at}}
	}
	if text == "" {
		return nil, nil
	}
	return []scanner.Scan{{Text: text, At: at, Symbology: sym}}, nil
}
