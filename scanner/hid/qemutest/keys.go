package qemutest

import (
	"fmt"

	"github.com/tillscan/tillscan/deploy/vmtest"
)

// keyStroke is one key press as QEMU qcodes held together, modifiers first
// (vmtest.KeyStroke).
type keyStroke = vmtest.KeyStroke

// strokesFor returns the key strokes a keyboard-wedge scanner set to the
// given keyboard country ("us" or "fr") sends to type text, '\n' being the
// Enter terminator. It models the scanner, not the host: on an AZERTY
// scanner '5' is Shift plus the key in the US "5" position, and '-' is the
// unshifted US "6" key.
func strokesFor(layout, text string) ([]keyStroke, error) {
	var table map[rune]keyStroke
	switch layout {
	case "us":
		table = usStrokes
	case "fr":
		table = frStrokes
	default:
		return nil, fmt.Errorf("keys: layout %q has no table (have us, fr)", layout)
	}
	out := make([]keyStroke, 0, len(text))
	for i, r := range text {
		if s, ok := table[r]; ok {
			out = append(out, s)
			continue
		}
		lower := r | 0x20 // ASCII letter to lower case
		if s, ok := table[lower]; ok && r >= 'A' && r <= 'Z' {
			out = append(out, append(keyStroke{"shift"}, s...))
			continue
		}
		return nil, fmt.Errorf("keys: %q at byte %d of %q cannot be typed in layout %s", r, i, text, layout)
	}
	return out, nil
}

var usStrokes = func() map[rune]keyStroke {
	m := map[rune]keyStroke{
		'-': {"minus"}, '.': {"dot"}, '/': {"slash"}, ':': {"shift", "semicolon"}, '\n': {"ret"},
	}
	for r := '0'; r <= '9'; r++ {
		m[r] = keyStroke{string(r)}
	}
	for r := 'a'; r <= 'z'; r++ {
		m[r] = keyStroke{string(r)}
	}
	return m
}()

// frStrokes is French AZERTY by US key position: the digit row types
// & é " ' ( - è _ ç à unshifted (digits need Shift); A/Q and Z/W are
// swapped; M sits on the US ';' key; the bottom row reads , ; : ! where US
// has m , . / (so '.' is Shift+US ',', '/' is Shift+US '.', ':' is US '.').
var frStrokes = func() map[rune]keyStroke {
	m := map[rune]keyStroke{
		'-': {"6"}, '.': {"shift", "comma"}, '/': {"shift", "dot"}, ':': {"dot"}, '\n': {"ret"},
		'a': {"q"}, 'q': {"a"}, 'z': {"w"}, 'w': {"z"}, 'm': {"semicolon"},
	}
	for r := '0'; r <= '9'; r++ {
		m[r] = keyStroke{"shift", string(r)}
	}
	for r := 'a'; r <= 'z'; r++ {
		if _, ok := m[r]; !ok {
			m[r] = keyStroke{string(r)}
		}
	}
	return m
}()
