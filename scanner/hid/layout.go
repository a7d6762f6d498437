package hid

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Stroke is one key press that types a character on a layout: a usage ID of
// the HID Keyboard/Keypad page (0x07) and the modifiers held with it.
type Stroke struct {
	Usage byte
	Shift bool
	AltGr bool
}

// Layout maps keyboard usages to characters for one keyboard country, the
// country the scanner is set to (not the PC's). A Layout is immutable and
// safe for concurrent use.
type Layout struct {
	name string
	// keys[usage][level]: level bit 0 = Shift, bit 1 = AltGr; 0 = no character.
	keys [256][4]rune
	// alpha[usage] means Caps Lock swaps Shift for this key (letters).
	alpha [256]bool
	// strokes is the preferred way to type each character (main block keys
	// first, lowest level first; keypad keys never).
	strokes map[rune]Stroke
}

// Name returns the layout's name ("us", "uk", "de" or "fr").
func (l *Layout) Name() string { return l.name }

// Rune returns the character a usage types with the given modifiers and
// Caps Lock state, and false when it types none (modifier, Esc, unknown).
func (l *Layout) Rune(usage byte, shift, altGr, caps bool) (rune, bool) {
	if caps && !altGr && l.alpha[usage] {
		shift = !shift
	}
	lvl := 0
	if shift {
		lvl |= 1
	}
	if altGr {
		lvl |= 2
	}
	r := l.keys[usage][lvl]
	if r == 0 && lvl == 1 && isKeypad(usage) {
		r = l.keys[usage][0] // Shift does not change keypad digits for a scanner
	}
	return r, r != 0
}

// Strokes returns the key presses that type text on this layout, for
// re-typing scans and for generating test reports. "\r" and "\n" both map to
// Enter, "\t" to Tab. It fails on the first character the layout cannot type.
func (l *Layout) Strokes(text string) ([]Stroke, error) {
	out := make([]Stroke, 0, len(text))
	for i, r := range text {
		if r == '\n' {
			r = '\r'
		}
		s, ok := l.strokes[r]
		if !ok {
			return nil, fmt.Errorf("hid: layout %s cannot type %q (byte %d of the text)", l.name, r, i)
		}
		out = append(out, s)
	}
	return out, nil
}

// Layouts returns the names of the built-in layouts.
func Layouts() []string { return []string{"us", "uk", "de", "fr"} }

// LayoutByName returns a built-in layout. "" means "us"; "gb" is accepted
// for "uk".
func LayoutByName(name string) (*Layout, error) {
	switch strings.ToLower(name) {
	case "", "us":
		return newLayout("us", usKeys()), nil
	case "uk", "gb":
		return newLayout("uk", ukKeys()), nil
	case "de":
		return newLayout("de", deKeys()), nil
	case "fr":
		return newLayout("fr", frKeys()), nil
	}
	return nil, fmt.Errorf("hid: unknown keyboard layout %q (known: %s)", name, strings.Join(Layouts(), ", "))
}

// keydef gives a key's characters: base holds the plain and Shift levels,
// altGr the AltGr and Shift+AltGr levels; "\x00" marks an empty level.
type keydef struct {
	base, altGr string
}

type keymap map[byte]keydef

func isKeypad(u byte) bool { return u >= 0x54 && u <= 0x63 }

func newLayout(name string, km keymap) *Layout {
	l := &Layout{name: name, strokes: make(map[rune]Stroke)}
	for u, d := range km {
		lv := []rune(d.base + "\x00\x00")[:2]
		lv = append(lv, []rune(d.altGr + "\x00\x00")[:2]...)
		copy(l.keys[u][:], lv)
		l.alpha[u] = lv[0] != 0 && unicode.IsLower(lv[0]) && unicode.ToUpper(lv[0]) == lv[1]
	}
	// Preferred strokes: main-block usages in ascending order, lowest level first.
	usages := make([]int, 0, len(km))
	for u := range km {
		usages = append(usages, int(u))
	}
	slices.Sort(usages)
	for lvl := range 4 {
		for _, u := range usages {
			r := l.keys[u][lvl]
			if _, dup := l.strokes[r]; r == 0 || dup || isKeypad(byte(u)) {
				continue
			}
			l.strokes[r] = Stroke{Usage: byte(u), Shift: lvl&1 != 0, AltGr: lvl&2 != 0}
		}
	}
	return l
}

// commonKeys are the same on every layout: Enter, Tab, Space and the keypad
// (a scanner's keypad digits are digits whatever the NumLock state).
func commonKeys(decimal string) keymap {
	km := keymap{
		0x28: {base: "\r\r"}, 0x2B: {base: "\t\t"}, 0x2C: {base: "  "},
		0x54: {base: "/"}, 0x55: {base: "*"}, 0x56: {base: "-"}, 0x57: {base: "+"},
		0x58: {base: "\r"}, 0x62: {base: "0"}, 0x63: {base: decimal},
	}
	for i := range 9 {
		km[byte(0x59+i)] = keydef{base: string(rune('1' + i))}
	}
	return km
}

// qwerty adds a..z at their US positions.
func qwerty(km keymap) keymap {
	for i := range 26 {
		c := rune('a' + i)
		km[byte(0x04+i)] = keydef{base: string(c) + string(unicode.ToUpper(c))}
	}
	return km
}

func usKeys() keymap {
	km := qwerty(commonKeys("."))
	for u, d := range map[byte]string{
		0x1E: "1!", 0x1F: "2@", 0x20: "3#", 0x21: "4$", 0x22: "5%", 0x23: "6^", 0x24: "7&",
		0x25: "8*", 0x26: "9(", 0x27: "0)", 0x2D: "-_", 0x2E: "=+", 0x2F: "[{", 0x30: "]}",
		0x31: `\|`, 0x32: `\|`, 0x33: ";:", 0x34: `'"`, 0x35: "`~", 0x36: ",<", 0x37: ".>",
		0x38: "/?", 0x64: "<>",
	} {
		km[u] = keydef{base: d}
	}
	return km
}

// ukKeys: xkb "gb". Linux maps usages 0x31 and 0x32 to the same key.
func ukKeys() keymap {
	km := usKeys()
	km[0x1F] = keydef{base: `2"`}
	km[0x20] = keydef{base: "3£"}
	km[0x21] = keydef{base: "4$", altGr: "€"}
	km[0x34] = keydef{base: "'@"}
	km[0x31] = keydef{base: "#~"}
	km[0x32] = keydef{base: "#~"}
	km[0x35] = keydef{base: "`¬", altGr: "|"}
	km[0x64] = keydef{base: `\|`}
	return km
}

// deKeys: xkb "de" without dead keys (a scanner types the character itself).
func deKeys() keymap {
	km := qwerty(commonKeys(","))
	km[0x1C] = keydef{base: "zZ"}
	km[0x1D] = keydef{base: "yY"}
	km[0x14] = keydef{base: "qQ", altGr: "@"}
	km[0x08] = keydef{base: "eE", altGr: "€"}
	km[0x10] = keydef{base: "mM", altGr: "µ"}
	for u, d := range map[byte]keydef{
		0x1E: {base: "1!"}, 0x1F: {base: `2"`, altGr: "²"}, 0x20: {base: "3§", altGr: "³"},
		0x21: {base: "4$"}, 0x22: {base: "5%"}, 0x23: {base: "6&"}, 0x24: {base: "7/", altGr: "{"},
		0x25: {base: "8(", altGr: "["}, 0x26: {base: "9)", altGr: "]"}, 0x27: {base: "0=", altGr: "}"},
		0x2D: {base: "ß?", altGr: `\`}, 0x2E: {base: "´`"}, 0x2F: {base: "üÜ"}, 0x30: {base: "+*", altGr: "~"},
		0x31: {base: "#'"}, 0x32: {base: "#'"}, 0x33: {base: "öÖ"}, 0x34: {base: "äÄ"},
		0x35: {base: "^°"}, 0x36: {base: ",;"}, 0x37: {base: ".:"}, 0x38: {base: "-_"},
		0x64: {base: "<>", altGr: "|"},
	} {
		km[u] = d
	}
	return km
}

// frKeys: xkb "fr" (traditional AZERTY) without dead keys.
func frKeys() keymap {
	km := qwerty(commonKeys("."))
	km[0x14] = keydef{base: "aA"}
	km[0x04] = keydef{base: "qQ"}
	km[0x1A] = keydef{base: "zZ"}
	km[0x1D] = keydef{base: "wW"}
	km[0x33] = keydef{base: "mM"}
	km[0x08] = keydef{base: "eE", altGr: "€"}
	for u, d := range map[byte]keydef{
		0x1E: {base: "&1"}, 0x1F: {base: "é2", altGr: "~"}, 0x20: {base: `"3`, altGr: "#"},
		0x21: {base: "'4", altGr: "{"}, 0x22: {base: "(5", altGr: "["}, 0x23: {base: "-6", altGr: "|"},
		0x24: {base: "è7", altGr: "`"}, 0x25: {base: "_8", altGr: `\`}, 0x26: {base: "ç9", altGr: "^"},
		0x27: {base: "à0", altGr: "@"}, 0x2D: {base: ")°", altGr: "]"}, 0x2E: {base: "=+", altGr: "}"},
		0x2F: {base: "^¨"}, 0x30: {base: "$£", altGr: "¤"}, 0x31: {base: "*µ"}, 0x32: {base: "*µ"},
		0x34: {base: "ù%"}, 0x35: {base: "²"}, 0x10: {base: ",?"}, 0x36: {base: ";."},
		0x37: {base: ":/"}, 0x38: {base: "!§"}, 0x64: {base: "<>"},
	} {
		km[u] = d
	}
	return km
}
