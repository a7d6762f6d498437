package hid

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// genOpts chooses how genReports makes a scanner type: real scanners differ
// in all of these.
type genOpts struct {
	holdShift   bool // keep modifiers held across consecutive characters that need them
	overlap     bool // press the next key before releasing the previous one
	repeat      int  // send every report this many extra times (idle-rate repeats)
	rollover    bool // send an ErrorRollOver report after every key press
	reportID    byte // non-zero: prefix every report with this ID (9-byte reports)
	modsInArray bool // also list modifiers as usages 0xE1/0xE6 in the key slots
}

func (o genOpts) String() string {
	return fmt.Sprintf("hold=%v overlap=%v repeat=%d rollover=%v id=%d modsInArray=%v",
		o.holdShift, o.overlap, o.repeat, o.rollover, o.reportID, o.modsInArray)
}

// allGenOpts is every combination worth running a text through.
func allGenOpts() []genOpts {
	var out []genOpts
	for _, hold := range []bool{false, true} {
		for _, overlap := range []bool{false, true} {
			for _, roll := range []bool{false, true} {
				for _, arr := range []bool{false, true} {
					out = append(out, genOpts{holdShift: hold, overlap: overlap, rollover: roll, modsInArray: arr})
				}
			}
		}
	}
	return append(out, genOpts{repeat: 2}, genOpts{reportID: 1}, genOpts{reportID: 3, holdShift: true, overlap: true, repeat: 1})
}

// genReports is what a scanner set to layout l sends to type text: a key
// press report per character, release reports, modifiers pressed alone
// first, and the variations in o.
func genReports(tb testing.TB, l *Layout, text string, o genOpts) [][]byte {
	tb.Helper()
	strokes, err := l.Strokes(text)
	if err != nil {
		tb.Fatalf("Strokes(%q): %v", text, err)
	}
	var out [][]byte
	emit := func(mods byte, keys ...byte) {
		r := make([]byte, 0, 9)
		if o.reportID != 0 {
			r = append(r, o.reportID)
		}
		var slots []byte
		if o.modsInArray && len(keys) < 6 {
			if mods&modLShift != 0 {
				slots = append(slots, 0xE1)
			}
			if mods&modRAlt != 0 {
				slots = append(slots, 0xE6)
			}
		}
		slots = append(slots, keys...)
		r = append(r, mods, 0)
		r = append(r, slots...)
		r = append(r, make([]byte, 6-len(slots))...)
		for range 1 + o.repeat {
			out = append(out, slices.Clone(r))
		}
	}
	roll := func(mods byte) {
		if o.rollover {
			emit(mods, 1, 1, 1, 1, 1, 1)
		}
	}
	var held, cur byte
	for _, s := range strokes {
		var m byte
		if s.Shift {
			m |= modLShift
		}
		if s.AltGr {
			m |= modRAlt
		}
		if held != 0 && o.overlap && held != s.Usage && m == cur {
			emit(m, held, s.Usage) // next key down before the previous is up
			roll(m)
			emit(m, s.Usage)
			held = s.Usage
			continue
		}
		if held != 0 {
			var rel byte
			if o.holdShift && m == cur {
				rel = cur
			}
			emit(rel)
			cur, held = rel, 0
		}
		if m != cur {
			emit(m) // modifier down alone, as keyboards send it
			cur = m
		}
		emit(m, s.Usage)
		roll(m)
		held = s.Usage
	}
	emit(0)
	return out
}

func decodeAll(d *KeyboardDecoder, reports [][]byte) string {
	var out []byte
	for _, r := range reports {
		out = d.Decode(out, r)
	}
	return string(out)
}

// typable is every character layout l can type, for round trips.
func typable(l *Layout) string {
	var rs []rune
	for r := range l.strokes {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return string(rs)
}

func TestKeyboardDecoder_generatedStreams(t *testing.T) {
	texts := []string{
		"544256-439-856\r",
		"https://shop.example/c/544256-439-856?ref=till&n=1\r",
		"AaBbYyZzQqWwMm 0011223344556677889900\t",
	}
	for _, name := range Layouts() {
		l, err := LayoutByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range append(texts, typable(l)) {
			for _, o := range allGenOpts() {
				got := decodeAll(NewKeyboardDecoder(l, 0), genReports(t, l, text, o))
				if got != text {
					t.Errorf("layout %s, %v: decoded %q; want %q", name, o, got, text)
				}
			}
		}
	}
}

// Text typed by a scanner set to one country and decoded with another
// layout garbles exactly as a PC with the wrong layout would (vectors from
// the research notes, computed from the layout tables independently).
func TestKeyboardDecoder_wrongLayoutVectors(t *testing.T) {
	const card, url = "544256-439-856", "https://shop.example/c/544256-439-856"
	tests := []struct{ scanner, host, text, want string }{
		{"fr", "us", card, "%$$@%^6$#(6*%^"},
		{"fr", "us", url, "https.>>shop<exq;ple>c>%$$@%^6$#(6*%^"},
		{"us", "fr", card, "(''é(-)'\"ç)_(-"},
		{"de", "us", url, "https>&&shop.example&c&544256/439/856"},
		{"us", "de", url, "httpsÖ--shop.example-c-544256ß439ß856"},
		{"uk", "us", card, card},
		{"uk", "us", `@"#`, `"@\`},
	}
	for _, tt := range tests {
		t.Run(tt.scanner+"-as-"+tt.host, func(t *testing.T) {
			sl, _ := LayoutByName(tt.scanner)
			hl, _ := LayoutByName(tt.host)
			got := decodeAll(NewKeyboardDecoder(hl, 0), genReports(t, sl, tt.text, genOpts{}))
			if got != tt.want {
				t.Errorf("%s scanner decoded as %s: %q; want %q", tt.scanner, tt.host, got, tt.want)
			}
		})
	}
}

// hexReports parses "0200210000000000 0000000000000000 …".
func hexReports(tb testing.TB, s string) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, f := range strings.Fields(s) {
		b, err := hex.DecodeString(f)
		if err != nil {
			tb.Fatalf("bad hex %q: %v", f, err)
		}
		out = append(out, b)
	}
	return out
}

// Recorded-style streams: report bytes written out by hand as real scanners
// send them, not produced by the generator.
func TestKeyboardDecoder_recordedStreams(t *testing.T) {
	tests := []struct {
		name, layout, reports, want string
	}{
		{
			name:   "us card, press/release per key, idle repeat of a release",
			layout: "us",
			reports: `0000220000000000 0000000000000000 0000210000000000 0000000000000000
				0000210000000000 0000000000000000 0000000000000000 00001f0000000000 0000000000000000
				0000220000000000 0000000000000000 0000230000000000 0000000000000000
				00002d0000000000 0000000000000000 0000210000000000 0000000000000000
				0000200000000000 0000000000000000 0000260000000000 0000000000000000
				00002d0000000000 0000000000000000 0000250000000000 0000000000000000
				0000220000000000 0000000000000000 0000230000000000 0000000000000000
				0000280000000000 0000000000000000`,
			want: "544256-439-856\r",
		},
		{
			name:   "fr card, Shift held through the digits, released for the dash",
			layout: "fr",
			reports: `0200000000000000 0200220000000000 0200000000000000 0200210000000000 0200000000000000
				0200210000000000 0200000000000000 02001f0000000000 0200000000000000 0200220000000000
				0200000000000000 0200230000000000 0000000000000000 0000230000000000 0000000000000000
				0200000000000000 0200210000000000 0200200000000000 0200000000000000 0200260000000000
				0000000000000000 0000230000000000 0000000000000000 0200250000000000 0200000000000000
				0200220000000000 0200000000000000 0200230000000000 0000000000000000 0000580000000000
				0000000000000000`,
			want: "544256-439-856\r",
		},
		{
			name:    "us, 2-key rollover: next key down before previous up",
			layout:  "us",
			reports: `0000220000000000 0000222100000000 0000210000000000 0000000000000000 0000210000000000 0000211f00000000 00001f0000000000 0000000000000000`,
			want:    "5442",
		},
		{
			name:    "us, ErrorRollOver report ignored, no phantom keys",
			layout:  "us",
			reports: `00001e0000000000 0000010101010101 00001e1f00000000 0000010101010101 0000000000000000`,
			want:    "12",
		},
		{
			name:    "de slash and colon, AltGr at sign, keypad digits and keypad Enter",
			layout:  "de",
			reports: `0200240000000000 0000000000000000 0200370000000000 0000000000000000 4000140000000000 0000000000000000 0000590000000000 0000620000000000 0000000000000000 0000580000000000 0000000000000000`,
			want:    "/:@10\r",
		},
		{
			name:    "caps lock toggles letters only; Shift inverts it",
			layout:  "us",
			reports: `0000390000000000 0000000000000000 0000040000000000 0000000000000000 0200050000000000 0000000000000000 00001e0000000000 0000390000000000 0000040000000000 0000000000000000`,
			want:    "Ab1a",
		},
		{
			name:    "report-ID prefix (composite keyboard + consumer control); other reports ignored",
			layout:  "us",
			reports: `010000220000000000 03e900 010000000000000000 010000210000000000 010000000000000000`,
			want:    "54",
		},
		{
			name:    "modifiers listed as usages in the key array",
			layout:  "us",
			reports: `0000e10000000000 0000e10400000000 0000e10000000000 0000040000000000 0000000000000000`,
			want:    "Aa",
		},
		{
			name:    "Alt mode: Left Alt + keypad 6 5 types A; Ctrl+M is CR",
			layout:  "us",
			reports: `0400000000000000 04005e0000000000 0400000000000000 04005d0000000000 0400000000000000 0000000000000000 0100100000000000 0000000000000000`,
			want:    "A\r",
		},
		{
			name:    "no release between equal digits: merged, as on a real PC",
			layout:  "us",
			reports: `0000220000000000 0000210000000000 0000210000000000 0000000000000000`,
			want:    "54",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LayoutByName(tt.layout)
			if err != nil {
				t.Fatal(err)
			}
			got := decodeAll(NewKeyboardDecoder(l, 0), hexReports(t, tt.reports))
			if got != tt.want {
				t.Errorf("decoded %q; want %q", got, tt.want)
			}
		})
	}
}

func TestKeyboardDecoder_reportIDFilter(t *testing.T) {
	l, _ := LayoutByName("us")
	d := NewKeyboardDecoder(l, 1)
	got := decodeAll(d, hexReports(t, `010000220000000000 020000210000000000 010000000000000000 0000210000000000`))
	if got != "54" {
		t.Errorf("decoded %q; want %q (ID 2 report ignored, 8-byte report accepted)", got, "54")
	}
}

// Two scanners typing at the same time keep separate state: one holds Shift
// (FR digits) while the other types unshifted US digits.
func TestKeyboardDecoder_twoScannersInterleaved(t *testing.T) {
	us, _ := LayoutByName("us")
	fr, _ := LayoutByName("fr")
	const a, b = "544256-439-856\r", "https://shop.example/c/123456-789-012\r"
	ra := genReports(t, us, a, genOpts{overlap: true})
	rb := genReports(t, fr, b, genOpts{holdShift: true, repeat: 1})
	da, db := NewKeyboardDecoder(us, 0), NewKeyboardDecoder(fr, 0)
	var outA, outB []byte
	for i := range max(len(ra), len(rb)) {
		if i < len(ra) {
			outA = da.Decode(outA, ra[i])
		}
		if i < len(rb) {
			outB = db.Decode(outB, rb[i])
		}
	}
	if string(outA) != a || string(outB) != b {
		t.Errorf("interleaved: got %q and %q; want %q and %q", outA, outB, a, b)
	}
}

func TestKeyboardDecoder_Reset(t *testing.T) {
	l, _ := LayoutByName("us")
	d := NewKeyboardDecoder(l, 0)
	d.Decode(nil, hexReports(t, "0000390000000000")[0]) // Caps Lock on
	d.Decode(nil, hexReports(t, "0000040000000000")[0]) // 'a' held when the device went away
	d.Reset()
	if got := decodeAll(d, hexReports(t, "0000040000000000 0000000000000000")); got != "a" {
		t.Errorf("after Reset decoded %q; want %q (key counted again, caps off)", got, "a")
	}
}

func TestLayoutByName(t *testing.T) {
	for _, name := range []string{"", "us", "UK", "gb", "de", "fr"} {
		if _, err := LayoutByName(name); err != nil {
			t.Errorf("LayoutByName(%q) = %v; want nil", name, err)
		}
	}
	if _, err := LayoutByName("dvorak"); err == nil || !strings.Contains(err.Error(), "us, uk, de, fr") {
		t.Errorf("LayoutByName(dvorak) = %v; want an error listing the layouts", err)
	}
}

func TestLayout_Strokes(t *testing.T) {
	tests := []struct {
		layout, text string
		want         []Stroke
	}{
		{"fr", "5-a", []Stroke{{Usage: 0x22, Shift: true}, {Usage: 0x23}, {Usage: 0x14}}},
		{"de", "/z@", []Stroke{{Usage: 0x24, Shift: true}, {Usage: 0x1C}, {Usage: 0x14, AltGr: true}}},
		{"uk", "@#\n", []Stroke{{Usage: 0x34, Shift: true}, {Usage: 0x31}, {Usage: 0x28}}},
		{"us", "A\t", []Stroke{{Usage: 0x04, Shift: true}, {Usage: 0x2B}}},
	}
	for _, tt := range tests {
		l, _ := LayoutByName(tt.layout)
		got, err := l.Strokes(tt.text)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s Strokes(%q) = %v, %v; want %v", tt.layout, tt.text, got, err, tt.want)
		}
	}
	l, _ := LayoutByName("us")
	if _, err := l.Strokes("ok€"); err == nil {
		t.Errorf("us Strokes(€) succeeded; want an error")
	}
}

func FuzzKeyboardReports(f *testing.F) {
	us, _ := LayoutByName("us")
	f.Add(byte(0), slices.Concat(genReports(f, us, "544256-439-856\r", genOpts{holdShift: true})...))
	f.Add(byte(3), hexReports(f, "010000220000000000 0000010101010101")[0])
	f.Add(byte(1), []byte{0x04, 0, 0x5e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		l, _ := LayoutByName(Layouts()[int(sel)%4])
		d := NewKeyboardDecoder(l, sel>>4)
		size := 8 + int(sel>>2&1) // 8- or 9-byte reports
		var out []byte
		n := 0
		for len(data) > 0 {
			k := min(size, len(data))
			out = d.Decode(out, data[:k])
			data = data[k:]
			n++
		}
		// At most six new keys per report, four UTF-8 bytes each, plus one
		// Alt-code character per report.
		if len(out) > n*(6*4+4) {
			t.Fatalf("%d reports decoded to %d bytes", n, len(out))
		}
	})
}
