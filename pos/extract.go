package pos

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tillscan/tillscan/apiclient"
)

// ErrNotCard is returned by [Extractor.Card] when a scan holds no loyalty
// card number, or two different ones.
var ErrNotCard = errors.New("pos: not a loyalty card")

// errTwoCards is the ErrNotCard of a scan with two different numbers.
var errTwoCards = fmt.Errorf("more than one card number: %w", ErrNotCard)

// DefaultCardPattern finds the API's card serials, 5 or 6 digits, 3 and 3
// ("544256-439-856"), alone or inside a URL.
const DefaultCardPattern = `\b\d{5,6}-\d{3}-\d{3}\b`

// maxScan bounds the text Card looks at; scanners already reject scans over
// 4 KiB, this only keeps a caller's mistake cheap.
const maxScan = 16 << 10

// Extractor finds the card number in a scan. Create one with NewExtractor;
// it is immutable and safe for concurrent use.
type Extractor struct {
	re    *regexp.Regexp
	group int // index of the "card" capture group, 0 for the whole match
}

// NewExtractor compiles pattern, a Go regular expression ("" means
// [DefaultCardPattern]). If the pattern has a capture group named "card", the
// card number is that group; otherwise it is the whole match.
func NewExtractor(pattern string) (*Extractor, error) {
	if pattern == "" {
		pattern = DefaultCardPattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("pos: card pattern %q: %w", pattern, err)
	}
	e := &Extractor{re: re}
	if i := re.SubexpIndex("card"); i > 0 {
		e.group = i
	}
	return e, nil
}

// Card returns the card number in raw: the number alone, with a scanner's
// AIM symbology prefix ("]Q1…"), or inside a URL (path, query or fragment,
// also percent-encoded). The same number found more than once is fine; two
// different numbers, none, or a match that cannot be a card number give an
// error wrapping ErrNotCard.
func (e *Extractor) Card(raw string) (string, error) {
	if len(raw) > maxScan {
		return "", fmt.Errorf("pos: scan of %d bytes is too long: %w", len(raw), ErrNotCard)
	}
	text := stripAIM(strings.TrimSpace(raw))
	var found []string
	for _, s := range variants(text) {
		for _, m := range e.re.FindAllStringSubmatch(s, -1) {
			if c := m[e.group]; c != "" && !slices.Contains(found, c) {
				found = append(found, c)
			}
		}
	}
	switch {
	case len(found) == 0:
		return "", ErrNotCard
	case len(found) > 1:
		return "", fmt.Errorf("pos: scan holds %d different card numbers (%s): %w",
			len(found), strings.Join(found, ", "), errTwoCards)
	}
	if err := apiclient.ValidCardNumber(found[0]); err != nil {
		return "", fmt.Errorf("pos: pattern matched %q, which cannot be a card number: %w", found[0], ErrNotCard)
	}
	return found[0], nil
}

// stripAIM removes an AIM symbology identifier ("]" + symbology letter +
// modifier, e.g. "]Q1" for QR, "]C0" for Code 128) that scanners can be set
// to send first; without this the prefix would glue onto the digits.
func stripAIM(s string) string {
	if len(s) >= 3 && s[0] == ']' && isAlpha(s[1]) && isAlnum(s[2]) {
		return s[3:]
	}
	return s
}

func isAlpha(b byte) bool { return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' }
func isAlnum(b byte) bool { return isAlpha(b) || b >= '0' && b <= '9' }

// variants returns s and its percent-decodings (at most two levels, for a
// URL that carries another URL in its query).
func variants(s string) []string {
	out := []string{s}
	for range 2 {
		d := unescape(out[len(out)-1])
		if d == out[len(out)-1] {
			break
		}
		out = append(out, d)
	}
	return out
}

// unescape decodes every valid %XX and leaves anything else as is, unlike
// url.QueryUnescape, which gives up on the whole string at the first bad
// escape (scans are often not URLs at all).
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Marker is the token tillscan writes into an action's comment, e.g.
// "tillscan:till-2:01JD3…". Every send of one job carries the same marker,
// so GET /operations tells whether the job was applied.
func Marker(tillID, jobID string) string { return "tillscan:" + tillID + ":" + jobID }

// CountMarker returns how often marker appears in comment as a whole
// whitespace-separated word. It never matches a prefix:
// "tillscan:t:104" is not in "tillscan:t:1042".
func CountMarker(comment, marker string) int {
	n := 0
	for _, w := range strings.Fields(comment) {
		if w == marker {
			n++
		}
	}
	return n
}

// ValidTillID checks that id can go into a marker: non-empty, at most 64
// characters, letters, digits, '-', '_' and '.' only (no ':' and no spaces,
// which would break whole-word matching).
func ValidTillID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("pos: till id %q must be 1 to 64 characters", id)
	}
	for _, r := range id {
		if !(r < 128 && (isAlnum(byte(r)) || r == '-' || r == '_' || r == '.')) {
			return fmt.Errorf("pos: till id %q may hold only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}
