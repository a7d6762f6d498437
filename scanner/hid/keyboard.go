package hid

import (
	"slices"
	"unicode/utf8"
)

// Modifier bits of byte 0 of a boot-keyboard report.
const (
	modLCtrl  = 0x01
	modLShift = 0x02
	modLAlt   = 0x04
	modRCtrl  = 0x10
	modRShift = 0x20
	modRAlt   = 0x40 // AltGr on European layouts
	modShift  = modLShift | modRShift
	modCtrl   = modLCtrl | modRCtrl
)

// Usages with a meaning of their own.
const (
	usageRollOver = 0x01 // ErrorRollOver: more keys held than the report has slots
	usageCapsLock = 0x39
	usageFirstMod = 0xE0 // 0xE0..0xE7 are the modifiers, some devices also list them as keys
)

// KeyboardDecoder turns the boot-keyboard input reports of one device into
// text. It compares each report with the previous one: only keys that newly
// appear type characters, in slot order; rollover reports (0x01 in the key
// slots) are ignored; an identical repeated report adds nothing; the
// modifiers in each report apply to the keys it newly presses, so a Shift
// held across several reports is honoured. Caps Lock toggles per decoder.
// Left Alt held while typing keypad digits types the character with that
// decimal code (scanners' "Alt mode"). Ctrl+letter types the control
// character (Ctrl+M = CR, Ctrl+J = LF, Ctrl+] = GS).
//
// Reports are 8 bytes; a 9-byte report carries a report ID in byte 0, which
// is skipped (if ReportID is non-zero, reports with another ID are ignored).
// Other lengths are ignored. Create one decoder per device; a decoder is not
// safe for concurrent use.
type KeyboardDecoder struct {
	layout   *Layout
	reportID byte // 0: accept any ID on 9-byte reports

	prev     [8]byte
	havePrev bool
	caps     bool
	altCode  int // decimal code typed on the keypad with Left Alt held
	altKeys  int // keypad digits typed into altCode
}

// NewKeyboardDecoder returns a decoder for a scanner set to layout l.
// reportID is the keyboard report's ID on a device with numbered reports,
// or 0 to accept any.
func NewKeyboardDecoder(l *Layout, reportID byte) *KeyboardDecoder {
	return &KeyboardDecoder{layout: l, reportID: reportID}
}

// Layout returns the decoder's layout.
func (d *KeyboardDecoder) Layout() *Layout { return d.layout }

// Reset forgets the previous report and the Caps Lock and Alt-code state
// (a re-opened device starts with no key held).
func (d *KeyboardDecoder) Reset() {
	*d = KeyboardDecoder{layout: d.layout, reportID: d.reportID}
}

// Decode appends the UTF-8 text typed by report to dst and returns it. It
// never fails: reports it cannot use add nothing.
func (d *KeyboardDecoder) Decode(dst []byte, report []byte) []byte {
	var r [8]byte
	switch {
	case len(report) == 8:
		copy(r[:], report)
	case len(report) == 9 && (d.reportID == 0 || report[0] == d.reportID):
		copy(r[:], report[1:])
	default:
		return dst
	}
	for _, k := range r[2:] {
		if k >= usageRollOver && k <= 0x03 { // ErrorRollOver, POSTFail, ErrorUndefined
			return dst
		}
	}
	if d.havePrev && r == d.prev {
		return dst // idle-rate repeat
	}
	mods := r[0]
	for _, k := range r[2:] {
		if k >= usageFirstMod && k <= usageFirstMod+7 {
			mods |= 1 << (k - usageFirstMod)
		}
	}
	prevMods := d.prev[0]
	for _, k := range d.prev[2:] {
		if k >= usageFirstMod && k <= usageFirstMod+7 {
			prevMods |= 1 << (k - usageFirstMod)
		}
	}
	if d.havePrev && prevMods&modLAlt != 0 && mods&modLAlt == 0 {
		dst = d.flushAlt(dst)
	}
	for i, k := range r[2:] {
		if k == 0 || k >= usageFirstMod || (d.havePrev && slices.Contains(d.prev[2:], k)) {
			continue
		}
		if slices.Contains(r[2:2+i], k) {
			continue // the same usage twice in one report
		}
		dst = d.press(dst, k, mods)
	}
	d.prev, d.havePrev = r, true
	return dst
}

// press handles one newly pressed usage.
func (d *KeyboardDecoder) press(dst []byte, k byte, mods byte) []byte {
	if k == usageCapsLock {
		d.caps = !d.caps
		return dst
	}
	altOnly := mods&modLAlt != 0 && mods&(modCtrl|modRAlt) == 0
	if altOnly {
		if k >= 0x59 && k <= 0x62 { // keypad 1..9, 0
			digit := 0
			if k != 0x62 {
				digit = int(k-0x59) + 1
			}
			if d.altKeys < 7 { // more digits than any code point has: ignore the rest
				d.altCode = d.altCode*10 + digit
				d.altKeys++
			}
		}
		return dst // Alt+other key types nothing useful for a scanner
	}
	shift := mods&modShift != 0
	altGr := mods&modRAlt != 0
	if mods&modCtrl != 0 && !altGr {
		c, ok := d.layout.Rune(k, false, false, false)
		if !ok {
			return dst
		}
		switch {
		case c >= 'a' && c <= 'z':
			return append(dst, byte(c-'a'+1))
		case c == '[', c == '\\', c == ']':
			return append(dst, byte(c-'@'))
		case c == '\r' || c == '\t':
			return append(dst, byte(c))
		}
		return dst
	}
	c, ok := d.layout.Rune(k, shift, altGr, d.caps)
	if !ok {
		return dst
	}
	return utf8.AppendRune(dst, c)
}

// flushAlt ends an Alt-code sequence: codes up to 255 are Latin-1 (as
// Windows' ANSI code page has them for the printable range), larger ones
// Unicode code points.
func (d *KeyboardDecoder) flushAlt(dst []byte) []byte {
	code, n := d.altCode, d.altKeys
	d.altCode, d.altKeys = 0, 0
	if n == 0 || code == 0 || code > utf8.MaxRune || (code >= 0xD800 && code <= 0xDFFF) {
		return dst
	}
	return utf8.AppendRune(dst, rune(code))
}
