package passthrough

import (
	"fmt"

	"github.com/tillscan/tillscan/scanner/hid"
)

// Key is one key press on the virtual keyboard: a Linux evdev key code
// (linux/input-event-codes.h) and the modifiers held with it.
type Key struct {
	Code  int
	Shift bool
	AltGr bool
}

// Modifier key codes (evdev).
const (
	KeyLeftShift = 42
	KeyRightAlt  = 100 // AltGr
)

// Keys returns the key presses that type text on layout l, the POS PC's
// layout: on fr, "5" is Shift+the "(" key; on de, "-" is the key right of
// ".". CR and LF are Enter, tab is Tab.
func Keys(l *hid.Layout, text string) ([]Key, error) {
	strokes, err := l.Strokes(text)
	if err != nil {
		return nil, fmt.Errorf("passthrough: %w", err)
	}
	keys := make([]Key, len(strokes))
	for i, s := range strokes {
		code := usageToEvdev[s.Usage]
		if code == 0 {
			return nil, fmt.Errorf("passthrough: no evdev key for HID usage 0x%02x", s.Usage)
		}
		keys[i] = Key{Code: code, Shift: s.Shift, AltGr: s.AltGr}
	}
	return keys, nil
}

// usageToEvdev maps HID Keyboard/Keypad usages to evdev key codes, as the
// kernel's hid-input does (drivers/hid/hid-input.c, hid_keyboard[]).
var usageToEvdev = [256]int{
	0x04: 30, 0x05: 48, 0x06: 46, 0x07: 32, 0x08: 18, 0x09: 33, 0x0A: 34, 0x0B: 35, // a b c d e f g h
	0x0C: 23, 0x0D: 36, 0x0E: 37, 0x0F: 38, 0x10: 50, 0x11: 49, 0x12: 24, 0x13: 25, // i j k l m n o p
	0x14: 16, 0x15: 19, 0x16: 31, 0x17: 20, 0x18: 22, 0x19: 47, 0x1A: 17, 0x1B: 45, // q r s t u v w x
	0x1C: 21, 0x1D: 44, // y z
	0x1E: 2, 0x1F: 3, 0x20: 4, 0x21: 5, 0x22: 6, 0x23: 7, 0x24: 8, 0x25: 9, 0x26: 10, 0x27: 11, // 1..0
	0x28: 28, 0x29: 1, 0x2A: 14, 0x2B: 15, 0x2C: 57, // Enter Esc Backspace Tab Space
	0x2D: 12, 0x2E: 13, 0x2F: 26, 0x30: 27, 0x31: 43, 0x32: 43, 0x33: 39, 0x34: 40, // - = [ ] \ #~ ; '
	0x35: 41, 0x36: 51, 0x37: 52, 0x38: 53, 0x39: 58, // ` , . / CapsLock
	0x53: 69, 0x54: 98, 0x55: 55, 0x56: 74, 0x57: 78, 0x58: 96, // NumLock KP/ KP* KP- KP+ KPEnter
	0x59: 79, 0x5A: 80, 0x5B: 81, 0x5C: 75, 0x5D: 76, 0x5E: 77, 0x5F: 71, 0x60: 72, 0x61: 73, // KP1..KP9
	0x62: 82, 0x63: 83, 0x64: 86, // KP0 KP. 102nd (ISO key left of Z)
}
