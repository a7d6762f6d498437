package pos

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrBadSum is returned for a purchase sum that is not an amount of money
// a till can take: not a plain decimal number, zero or less, more than two
// decimals, or MaxPurchaseSum or more.
var ErrBadSum = errors.New("pos: not a purchase sum")

// MaxPurchaseSum bounds a purchase sum: a larger one is a misread or a
// mistyped barcode, not a purchase.
const MaxPurchaseSum = 1_000_000

// sumRule says what a purchase sum may be, for the cashier.
const sumRule = "a positive amount with at most 2 decimals, like 12.50"

// ParsePurchaseSum reads a purchase sum as a command barcode or a POS
// sends it: digits with at most one decimal separator ('.' or ',') and at
// most two decimals, e.g. "12.50", "12,5", "20". Signs, exponents, spaces
// inside, "NaN" and "Inf" are refused (ErrBadSum), and so are 0 and sums of
// MaxPurchaseSum or more.
func ParsePurchaseSum(s string) (float64, error) {
	t := strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(strings.Replace(t, ",", ".", 1), ".")
	switch {
	case whole == "" || !digits(whole) || dot && (frac == "" || !digits(frac)):
		return 0, fmt.Errorf("pos: purchase sum %s: %w (want %s)", shortQuote(s), ErrBadSum, sumRule)
	case len(frac) > 2:
		return 0, fmt.Errorf("pos: purchase sum %s has more than 2 decimals: %w", shortQuote(s), ErrBadSum)
	case len(whole) > 12:
		return 0, fmt.Errorf("pos: purchase sum %s is too large: %w", shortQuote(s), ErrBadSum)
	}
	v, err := strconv.ParseFloat(whole+"."+frac+"0", 64)
	if err != nil { // cannot happen after the checks above; kept as a guard
		return 0, fmt.Errorf("pos: purchase sum %s: %w: %w", shortQuote(s), ErrBadSum, err)
	}
	if !validSum(v) {
		return 0, fmt.Errorf("pos: purchase sum %s must be above 0 and below %d: %w", shortQuote(s), MaxPurchaseSum, ErrBadSum)
	}
	return v, nil
}

// validSum reports whether v is a purchase sum: finite, above 0, below
// MaxPurchaseSum, in whole cents.
func validSum(v float64) bool {
	if math.IsNaN(v) || v <= 0 || v >= MaxPurchaseSum {
		return false
	}
	cents := v * 100
	return math.Abs(cents-math.Round(cents)) < 1e-6
}

func digits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
