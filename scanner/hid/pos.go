package hid

import (
	"fmt"
	"strings"
	"time"
)

// MaxScan is the largest scan, in bytes, a decoder assembles; a longer one
// is dropped whole rather than cut.
const MaxScan = 4096

// POSFormat says where a vendor puts the fields of a HID POS (usage page
// 0x8C) input report. Offsets count from byte 0 of the report as hidapi
// returns it, report ID included. Vendors differ, so the format is chosen
// per scanner; see POSFormatByName.
type POSFormat struct {
	Name     string
	ReportID byte // byte 0 of every scanned-data report; others are ignored
	LenAt    int  // byte holding the number of data bytes in this report
	DataAt   int  // first data byte
	DataMax  int  // most data bytes one report carries
	SymAt    int  // first byte of the 3-byte AIM symbology identifier, -1 if none
	MoreAt   int  // byte holding the "decode data continued" flag, -1 if every report is a whole scan
	MoreMask byte // bit of the MoreAt byte that is set when more reports follow
}

// posFormats are the known HID POS report formats, the default first.
var posFormats = [...]POSFormat{
	// Honeywell / Hand Held Products: ID 2, length, AIM id (3), data (56),
	// HHP code id, reserved, continuation flag (bit 0).
	{Name: "honeywell", ReportID: 0x02, LenAt: 1, DataAt: 5, DataMax: 56, SymAt: 2, MoreAt: 63, MoreMask: 0x01},
	// ID TECH 2DScan: length at 1, data 2..57, a symbology byte at 62 (not
	// an AIM id, so not reported), continuation flag at 63.
	{Name: "idtech", ReportID: 0x02, LenAt: 1, DataAt: 2, DataMax: 56, SymAt: -1, MoreAt: 63, MoreMask: 0x01},
	// Microscan: ID 1, length, 62 data bytes, one report per scan.
	{Name: "microscan", ReportID: 0x01, LenAt: 1, DataAt: 2, DataMax: 62, SymAt: -1, MoreAt: -1},
}

// POSFormats returns the names of the known HID POS formats, the default
// (honeywell) first.
func POSFormats() []string {
	names := make([]string, len(posFormats))
	for i, f := range posFormats {
		names[i] = f.Name
	}
	return names
}

// POSFormatByName returns a known HID POS report format: "honeywell" (also
// what Access-IS readers send; the default for ""), "idtech" or "microscan".
func POSFormatByName(name string) (POSFormat, error) {
	if name == "" {
		return posFormats[0], nil
	}
	for _, f := range posFormats {
		if strings.EqualFold(name, f.Name) {
			return f, nil
		}
	}
	return POSFormat{}, fmt.Errorf("hid: unknown HID POS format %q (known: %s)", name, strings.Join(POSFormats(), ", "))
}

// POSDecoder joins the input reports of one HID POS scanner into scans.
// Data is kept as bytes (a QR code may hold binary or UTF-8); only one
// trailing CR, LF or CRLF is removed. A partial scan whose next report does
// not come within the idle gap is dropped, and so is a scan longer than
// MaxScan. Create one per device; it is not safe for concurrent use.
type POSDecoder struct {
	f    POSFormat
	idle time.Duration

	buf      []byte
	sym      string
	last     time.Time
	pending  bool
	overflow bool
}

// NewPOSDecoder returns a decoder for format f. idle is the longest gap
// between two reports of one scan; 0 means 500ms.
func NewPOSDecoder(f POSFormat, idle time.Duration) *POSDecoder {
	if idle <= 0 {
		idle = 500 * time.Millisecond
	}
	return &POSDecoder{f: f, idle: idle}
}

// Reset drops any partial scan.
func (d *POSDecoder) Reset() {
	d.buf, d.sym, d.pending, d.overflow = d.buf[:0], "", false, false
}

// Stale reports whether a partial scan has waited longer than the idle gap
// at time at; the caller may Reset it (Decode also drops it on the next
// report).
func (d *POSDecoder) Stale(at time.Time) bool {
	return d.pending && at.Sub(d.last) > d.idle
}

// Decode takes one report received at time at. When the report completes a
// scan it returns the scan's data (a new slice), its AIM symbology
// identifier ("" if the format has none) and true.
func (d *POSDecoder) Decode(report []byte, at time.Time) (data []byte, symbology string, ok bool) {
	f := d.f
	if len(report) <= f.LenAt || len(report) <= f.DataAt || report[0] != f.ReportID {
		return nil, "", false
	}
	if d.Stale(at) {
		d.Reset()
	}
	n := int(report[f.LenAt])
	n = min(n, f.DataMax, len(report)-f.DataAt)
	if f.SymAt >= 0 && !d.pending && f.SymAt+3 <= len(report) {
		d.sym = aimID(report[f.SymAt : f.SymAt+3])
	}
	if len(d.buf)+n > MaxScan {
		d.overflow = true
	} else {
		d.buf = append(d.buf, report[f.DataAt:f.DataAt+n]...)
	}
	d.pending, d.last = true, at
	if f.MoreAt >= 0 && f.MoreAt < len(report) && report[f.MoreAt]&f.MoreMask != 0 {
		return nil, "", false
	}
	data, symbology, over := d.buf, d.sym, d.overflow
	d.buf, d.sym, d.pending, d.overflow = nil, "", false, false
	if over || len(data) == 0 {
		return nil, "", false
	}
	data = trimEOL(data)
	return data, symbology, len(data) > 0
}

// aimID returns an AIM symbology identifier such as "]Q1", or "" if b is not one.
func aimID(b []byte) string {
	if b[0] != ']' {
		return ""
	}
	for _, c := range b[1:] {
		if c < 0x21 || c > 0x7E {
			return ""
		}
	}
	return string(b)
}

func trimEOL(b []byte) []byte {
	switch {
	case len(b) >= 2 && b[len(b)-2] == '\r' && b[len(b)-1] == '\n':
		return b[:len(b)-2]
	case len(b) >= 1 && (b[len(b)-1] == '\r' || b[len(b)-1] == '\n'):
		return b[:len(b)-1]
	}
	return b
}
