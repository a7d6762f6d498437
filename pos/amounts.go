package pos

import (
	"fmt"
	"math"
)

// This file holds how a purchase sum becomes the quantity of an action
// that takes whole numbers (docs/api.md, "Card actions": cashback's
// add-transaction-amount "amount").

// Rounding says how a purchase sum with a fraction becomes a whole
// number for an accrual that takes whole numbers. A payment from the card
// (subtract-transaction-amount) is never rounded: it is refused
// (ErrWholeAmount), since the card must not pay a different sum.
type Rounding string

// The rounding rules.
const (
	RoundDown    Rounding = "down"    // the default: £12.50 → 12 (never counts more than was spent)
	RoundNearest Rounding = "nearest" // £12.50 → 13, £12.49 → 12 (halves away from zero)
	RoundRefuse  Rounding = "refuse"  // a sum with a fraction is refused: enter a whole sum
)

// ParseRounding checks a rounding rule from config; "" is RoundDown.
func ParseRounding(s string) (Rounding, error) {
	switch r := Rounding(s); r {
	case "":
		return RoundDown, nil
	case RoundDown, RoundNearest, RoundRefuse:
		return r, nil
	}
	return "", fmt.Errorf("pos: rounding %q: want down, nearest or refuse", s)
}

// round makes sum a whole number by r. ok is false when r refuses a
// fraction, or when nothing would be left to count (a sum under 1 rounded
// down).
func (r Rounding) round(sum float64) (whole float64, ok bool) {
	switch r {
	case RoundRefuse:
		return sum, sum == math.Trunc(sum)
	case RoundNearest:
		whole = math.Round(sum)
	default:
		whole = math.Floor(sum)
	}
	return whole, whole > 0
}
