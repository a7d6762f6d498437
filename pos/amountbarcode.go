package pos

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// AmountBarcode recognises the purchase sum a POS prints on the receipt as
// a barcode: scanned before the card, it sets the card's purchase sum like
// TILLSCAN:SUM:<amount>. Create one with ParseAmountBarcode.
type AmountBarcode struct {
	re  *regexp.Regexp // the scan, whole, with the amount as its one group; nil for GS1
	gs1 bool
}

// AmountGS1 is the ParseAmountBarcode spec for GS1 element strings with an
// amount payable, AI (390n): n decimals, e.g. "(8020)4711(3902)001250" is
// 12.50 (AI 8020, a payment slip reference, may come with it).
const AmountGS1 = "gs1"

// ParseAmountBarcode reads the config's description of the POS's amount
// barcode: AmountGS1, or a regular expression that matches the whole scan
// and has one group, the amount (e.g. `SUM(\d+\.\d\d)`).
func ParseAmountBarcode(spec string) (*AmountBarcode, error) {
	if spec == AmountGS1 {
		return &AmountBarcode{gs1: true}, nil
	}
	re, err := regexp.Compile(`^(?:` + spec + `)$`)
	if err != nil {
		return nil, fmt.Errorf("pos: amount barcode %q: %w", spec, err)
	}
	if re.NumSubexp() != 1 {
		return nil, fmt.Errorf("pos: amount barcode %q: want exactly one group around the amount, e.g. SUM(\\d+\\.\\d\\d)", spec)
	}
	return &AmountBarcode{re: re}, nil
}

// Amount returns the amount text of an amount barcode (to be read by
// ParsePurchaseSum), and whether text is one.
func (b *AmountBarcode) Amount(text string) (string, bool) {
	if b.gs1 {
		return gs1Amount(text)
	}
	m := b.re.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// errNotGS1 ends the parse of a scan that is not a GS1 element string.
var errNotGS1 = errors.New("not a GS1 element string")

// gs1Amount finds the amount payable (AI 390n) in a GS1 element string:
// in its human-readable form "(3902)001250", or as transmitted, FNC1 as
// the group separator (0x1D), with a symbology identifier ("]C1" GS1-128,
// "]Q3" QR, "]d2" DataMatrix, "]e0" DataBar). Plain digits without either
// are not taken: a product's EAN may start with 390.
func gs1Amount(text string) (string, bool) {
	var elems map[string]string
	var err error
	switch {
	case strings.HasPrefix(text, "("):
		elems, err = gs1Bracketed(text)
	case strings.HasPrefix(text, "]C1") || strings.HasPrefix(text, "]Q3") || strings.HasPrefix(text, "]d2") || strings.HasPrefix(text, "]e0"):
		elems, err = gs1Raw(text[3:])
	case strings.Contains(text, "\x1d"):
		elems, err = gs1Raw(text)
	default:
		return "", false
	}
	if err != nil {
		return "", false
	}
	for n := '0'; n <= '9'; n++ {
		v, ok := elems["390"+string(n)]
		if !ok {
			continue
		}
		d := int(n - '0')
		if !digits(v) || v == "" || len(v) > 15 || d > len(v) {
			return v, true // an amount element, but not an amount: ParsePurchaseSum says so
		}
		whole, frac := strings.TrimLeft(v[:len(v)-d], "0"), v[len(v)-d:]
		if whole == "" {
			whole = "0"
		}
		if len(frac) > 2 && strings.Trim(frac[2:], "0") == "" {
			frac = frac[:2] // 3903 "12500" is 12.500: the zeros say nothing
		}
		if frac == "" {
			return whole, true
		}
		return whole + "." + frac, true
	}
	return "", false
}

// gs1Bracketed reads "(AI)value(AI)value…".
func gs1Bracketed(text string) (map[string]string, error) {
	elems := map[string]string{}
	for rest := text; rest != ""; {
		if rest[0] != '(' {
			return nil, errNotGS1
		}
		ai, after, ok := strings.Cut(rest[1:], ")")
		if !ok || len(ai) < 2 || len(ai) > 4 || !digits(ai) {
			return nil, errNotGS1
		}
		i := strings.IndexByte(after, '(')
		if i < 0 {
			i = len(after)
		}
		elems[ai], rest = after[:i], after[i:]
	}
	return elems, nil
}

// gs1Fixed is the total length (AI and value) of the element strings
// whose AI starts with these two digits: the GS1 General Specifications'
// predefined lengths, which need no separator after them.
var gs1Fixed = map[string]int{
	"00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
	"11": 8, "12": 8, "13": 8, "14": 8, "15": 8, "16": 8, "17": 8, "18": 8, "19": 8,
	"20": 4, "31": 10, "32": 10, "33": 10, "34": 10, "35": 10, "36": 10, "41": 16,
}

// gs1Raw reads the transmitted form: fixed-length elements run on, the
// others end at a group separator or the end. Only the variable AIs a
// receipt's amount barcode uses are known: 390n (amount payable) and 8020
// (payment slip reference); another variable element ends the parse.
func gs1Raw(text string) (map[string]string, error) {
	elems := map[string]string{}
	for _, group := range strings.Split(text, "\x1d") {
		for group != "" {
			if len(group) < 2 {
				return nil, errNotGS1
			}
			if n, ok := gs1Fixed[group[:2]]; ok {
				if len(group) < n {
					return nil, errNotGS1
				}
				elems[group[:2]], group = group[2:n], group[n:]
				continue
			}
			if len(group) < 4 || !(strings.HasPrefix(group, "390") || strings.HasPrefix(group, "8020")) {
				return nil, errNotGS1
			}
			elems[group[:4]], group = group[4:], ""
		}
	}
	return elems, nil
}
