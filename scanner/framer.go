package scanner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Terminator says which bytes end a scan.
type Terminator int

// The terminators a scanner can be configured with. The zero value is
// TermAny, which suits most scanners.
const (
	TermAny  Terminator = iota // CR, LF or CRLF; a CRLF pair ends one scan, not two
	TermCR                     // carriage return (0x0d), the usual serial default
	TermLF                     // line feed (0x0a)
	TermCRLF                   // CR followed by LF; a lone CR or LF is data
	TermTab                    // horizontal tab (0x09)
	TermNone                   // no terminator: a scan ends after IdleTimeout of silence
)

var termNames = [...]string{TermAny: "any", TermCR: "cr", TermLF: "lf", TermCRLF: "crlf", TermTab: "tab", TermNone: "none"}

// String returns the name ParseTerminator accepts.
func (t Terminator) String() string {
	if t < 0 || int(t) >= len(termNames) {
		return "Terminator(" + strconv.Itoa(int(t)) + ")"
	}
	return termNames[t]
}

// Terminators returns every terminator, TermAny first: the one list of
// what a scanner can be configured with (their String is the name).
func Terminators() []Terminator {
	out := make([]Terminator, len(termNames))
	for i := range termNames {
		out[i] = Terminator(i)
	}
	return out
}

// ParseTerminator parses a configured terminator name: "any" (or ""),
// "cr", "lf", "crlf", "tab" or "none", in any case.
func ParseTerminator(s string) (Terminator, error) {
	if s == "" {
		return TermAny, nil
	}
	for t, name := range termNames {
		if strings.EqualFold(s, name) {
			return Terminator(t), nil
		}
	}
	return 0, fmt.Errorf("scanner: unknown terminator %q: use one of %s", s, strings.Join(termNames[:], ", "))
}

// Defaults for zero FrameConfig fields.
const (
	// DefaultMaxLen is the longest scan text accepted, in bytes.
	DefaultMaxLen = 4096
	// DefaultIdleTimeout ends a scan after this much silence when there is
	// no terminator (TermNone). Scanners send a whole code in one burst.
	DefaultIdleTimeout = 100 * time.Millisecond
	// DefaultStaleTimeout drops an unterminated partial scan after this
	// much silence when a terminator is configured. It is longer than
	// DefaultIdleTimeout because a late byte should not cost a scan, and
	// shorter than the pause between two scans at a till.
	DefaultStaleTimeout = 500 * time.Millisecond
)

// FrameConfig configures a Framer. Zero fields mean the documented default.
type FrameConfig struct {
	Terminator Terminator
	// IdleTimeout is the silence after the last byte that ends a scan
	// (TermNone; 0 means DefaultIdleTimeout) or that makes an unterminated
	// partial scan stale, so it is dropped instead of being glued to the
	// next scan (other terminators; 0 means DefaultStaleTimeout). Negative
	// disables it, which is only allowed with a terminator (a human typing
	// on a terminal pauses).
	IdleTimeout time.Duration
	// Prefix and Suffix are strings the scanner adds around each code (for
	// example STX and ETX). They are removed when present, and may contain
	// control bytes.
	Prefix, Suffix string
	// MaxLen is the longest scan text, in bytes after Prefix and Suffix are
	// removed; 0 means DefaultMaxLen.
	MaxLen int
}

// Reasons a scan is rejected; a *RejectError wraps one of them.
var (
	// ErrTooLong is the reason for a scan longer than MaxLen.
	ErrTooLong = errors.New("scanner: scan too long")
	// ErrControl is the reason for a scan containing control bytes or
	// bytes that are not UTF-8 text.
	ErrControl = errors.New("scanner: scan contains control or binary bytes")
	// ErrIncomplete is the reason for an unterminated partial scan dropped
	// after IdleTimeout of silence.
	ErrIncomplete = errors.New("scanner: incomplete scan (no terminator before the pause)")
)

// sampleLen is how many leading bytes of a rejected scan RejectError keeps.
const sampleLen = 32

// RejectError describes a scan the Framer refused. The caller logs it and
// carries on; the Framer has already resynchronised.
type RejectError struct {
	Reason error     // ErrTooLong, ErrControl or ErrIncomplete
	Detail string    // what exactly, and a hint when a setting is the likely cause
	Len    int       // bytes received for the scan, prefix and suffix included
	Sample string    // the first bytes, escaped like a Go string literal (no quotes), "..." if cut
	At     time.Time // when the scan ended
}

func (e *RejectError) Error() string {
	msg := e.Reason.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return fmt.Sprintf("%s (%d bytes: \"%s\")", msg, e.Len, e.Sample)
}

// Unwrap returns Reason, so errors.Is(err, ErrTooLong) works.
func (e *RejectError) Unwrap() error { return e.Reason }

// Framer turns a stream of bytes from one scanner into scans. It does no
// I/O and reads no clock: the caller says when bytes arrived (Feed) and
// what time it is (Tick). Scans it returns have Text and At set; the caller
// fills in Scanner.
//
// A Framer is not safe for concurrent use; give each device its own.
type Framer struct {
	term   Terminator
	idle   time.Duration // <= 0: disabled
	prefix string
	suffix string
	maxLen int
	rawMax int // bytes kept for one scan: maxLen plus prefix and suffix

	buf    []byte    // the current scan's first rawMax bytes
	n      int       // bytes received for the current scan, kept or not
	cr     bool      // TermCRLF: a CR arrived and is held back until the next byte
	last   time.Time // when the current scan's latest byte arrived
	scans  []Scan    // results of the current call
	reject []error
}

// NewFramer checks cfg and returns a Framer.
func NewFramer(cfg FrameConfig) (*Framer, error) {
	if cfg.Terminator < TermAny || cfg.Terminator > TermNone {
		return nil, fmt.Errorf("scanner: invalid terminator %d", int(cfg.Terminator))
	}
	if cfg.MaxLen < 0 {
		return nil, fmt.Errorf("scanner: max length %d is negative; use 0 for the default %d", cfg.MaxLen, DefaultMaxLen)
	}
	f := &Framer{term: cfg.Terminator, idle: cfg.IdleTimeout, prefix: cfg.Prefix, suffix: cfg.Suffix, maxLen: cfg.MaxLen}
	if f.maxLen == 0 {
		f.maxLen = DefaultMaxLen
	}
	switch {
	case f.idle == 0 && f.term == TermNone:
		f.idle = DefaultIdleTimeout
	case f.idle == 0:
		f.idle = DefaultStaleTimeout
	case f.idle < 0 && f.term == TermNone:
		return nil, errors.New("scanner: terminator none needs a positive idle timeout to end a scan")
	}
	f.rawMax = f.maxLen + len(f.prefix) + len(f.suffix)
	f.buf = make([]byte, 0, f.rawMax) // never grows: memory is bounded per device
	return f, nil
}

// Feed takes bytes that arrived at time at (times must not go backwards)
// and returns the scans they completed and the scans rejected on the way.
// Empty scans (for example the LF of a CRLF under TermAny) are ignored.
func (f *Framer) Feed(b []byte, at time.Time) (scans []Scan, rejects []error) {
	f.scans, f.reject = nil, nil
	f.expire(at)
	for _, c := range b {
		switch {
		case f.term == TermCRLF && c == '\r':
			if f.cr {
				f.add('\r', at) // the earlier CR was data
			}
			f.cr, f.last = true, at
		case f.term == TermCRLF && c == '\n' && f.cr:
			f.end(at)
		case f.isTerm(c):
			f.end(at)
		default:
			if f.cr {
				f.add('\r', at)
				f.cr = false
			}
			f.add(c, at)
		}
	}
	return f.scans, f.reject
}

// Tick ends or drops a scan that has been silent for IdleTimeout at now.
// Call it regularly (a read timeout is a good tick) or at Deadline.
func (f *Framer) Tick(now time.Time) (scans []Scan, rejects []error) {
	f.scans, f.reject = nil, nil
	f.expire(now)
	return f.scans, f.reject
}

// Flush ends the current scan as if a terminator had arrived at time at,
// for the end of a stream (EOF).
func (f *Framer) Flush(at time.Time) (scans []Scan, rejects []error) {
	f.scans, f.reject = nil, nil
	f.end(at)
	return f.scans, f.reject
}

// Deadline returns when Tick will end or drop the current partial scan,
// and false if there is none (or the idle timeout is disabled).
func (f *Framer) Deadline() (time.Time, bool) {
	if !f.pending() || f.idle <= 0 {
		return time.Time{}, false
	}
	return f.last.Add(f.idle), true
}

func (f *Framer) pending() bool { return f.n > 0 || f.cr }

func (f *Framer) isTerm(c byte) bool {
	switch f.term {
	case TermAny:
		return c == '\r' || c == '\n'
	case TermCR:
		return c == '\r'
	case TermLF:
		return c == '\n'
	case TermTab:
		return c == '\t'
	}
	return false // TermCRLF is handled in Feed; TermNone has none
}

// add appends one data byte, keeping at most rawMax so that memory stays
// bounded however long a stream runs without a terminator.
func (f *Framer) add(c byte, at time.Time) {
	f.n++
	f.last = at
	if len(f.buf) < f.rawMax {
		f.buf = append(f.buf, c)
	}
}

// expire ends (TermNone) or drops (other terminators) a partial scan that
// has been silent for the idle timeout at now.
func (f *Framer) expire(now time.Time) {
	if !f.pending() || f.idle <= 0 || now.Sub(f.last) < f.idle {
		return
	}
	if f.term == TermNone {
		f.end(f.last)
		return
	}
	f.rejectScan(ErrIncomplete, fmt.Sprintf("no terminator (%s) after %v of silence; if every scan ends like this, check the terminator setting", f.term, now.Sub(f.last)), f.last)
}

// end finishes the current scan: it is emitted, rejected or (if empty)
// ignored, and the Framer starts afresh.
func (f *Framer) end(at time.Time) {
	defer f.reset()
	if f.n == 0 {
		return
	}
	if f.n > f.rawMax {
		f.rejectScan(ErrTooLong, fmt.Sprintf("longer than %d bytes", f.maxLen), at)
		return
	}
	text := string(f.buf)
	if f.prefix != "" {
		text = strings.TrimPrefix(text, f.prefix)
	}
	if f.suffix != "" {
		text = strings.TrimSuffix(text, f.suffix)
	}
	if text == "" {
		return // only the decoration, no code
	}
	if len(text) > f.maxLen {
		f.rejectScan(ErrTooLong, fmt.Sprintf("%d bytes, longer than %d", len(text), f.maxLen), at)
		return
	}
	if detail := checkText(text, f.term); detail != "" {
		f.rejectScan(ErrControl, detail, at)
		return
	}
	f.scans = append(f.scans, Scan{Text: text, At: at})
}

func (f *Framer) rejectScan(reason error, detail string, at time.Time) {
	n := max(f.n, len(f.buf))
	if f.cr {
		n++
	}
	f.reject = append(f.reject, &RejectError{Reason: reason, Detail: detail, Len: n, Sample: sample(f.buf), At: at})
	f.reset()
}

func (f *Framer) reset() {
	f.buf, f.n, f.cr = f.buf[:0], 0, false
}

// checkText returns why text is not acceptable scan text, or "" if it is:
// it must be valid UTF-8 without control characters (C0, DEL or C1).
func checkText(text string, term Terminator) string {
	for i, r := range text {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(text[i:]); size == 1 {
				return fmt.Sprintf("byte 0x%02x at offset %d is not UTF-8 text; check the baud rate and framing", text[i], i)
			}
		case unicode.IsControl(r):
			d := fmt.Sprintf("control character %U at offset %d", r, i)
			if r == '\r' || r == '\n' || r == '\t' {
				d += fmt.Sprintf("; the terminator is %q: check it matches the scanner's suffix", term.String())
			}
			return d
		}
	}
	return ""
}

// sample returns the first sampleLen bytes of b escaped for a log line.
func sample(b []byte) string {
	cut := len(b) > sampleLen
	if cut {
		b = b[:sampleLen]
	}
	q := strconv.Quote(string(b))
	q = q[1 : len(q)-1]
	if cut {
		q += "..."
	}
	return q
}
