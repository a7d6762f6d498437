package apiclient

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Method is a card action: the last element of POST /cards/{number}/{method}.
type Method string

// Every card action the API offers to a till.
const (
	AddTransactionAmount      Method = "add-transaction-amount"
	SubtractTransactionAmount Method = "subtract-transaction-amount"
	AddPoint                  Method = "add-point"
	SubtractPoint             Method = "subtract-point"
	AddReward                 Method = "add-reward"
	SubtractReward            Method = "subtract-reward"
	AddScores                 Method = "add-scores"
	SubtractScores            Method = "subtract-scores"
	AddStamp                  Method = "add-stamp"
	SubtractStamp             Method = "subtract-stamp"
	AddVisit                  Method = "add-visit"
	SubtractVisit             Method = "subtract-visit"
	AddPurchase               Method = "add-purchase"
	SubtractPurchase          Method = "subtract-purchase"
	ReceiveReward             Method = "receive-reward"
	RedeemCoupon              Method = "redeem-coupon"
)

// methodInfo is what the API says of each action (docs/api.md, "Card
// actions").
type methodInfo struct {
	field   string     // JSON body field carrying the quantity; "" for none
	integer bool       // the field is an integer in the API's schema
	types   []CardType // card types the vendor lists it for; nil: not listed
}

var methods = map[Method]methodInfo{
	AddTransactionAmount:      {"amount", true, []CardType{Cashback}},
	SubtractTransactionAmount: {"amount", true, []CardType{Cashback}},
	AddPoint:                  {"points", false, []CardType{Cashback, Discount, Gift}},
	SubtractPoint:             {"points", false, []CardType{Cashback, Discount, Gift}},
	AddReward:                 {"rewards", true, []CardType{Stamp}},
	SubtractReward:            {"rewards", true, []CardType{Stamp}},
	AddScores:                 {"scores", true, []CardType{Reward, Multipass}},
	SubtractScores:            {"scores", true, []CardType{Reward, Multipass}},
	AddStamp:                  {"stamps", true, []CardType{Stamp}},
	SubtractStamp:             {"stamps", true, []CardType{Stamp}},
	AddVisit:                  {"visits", true, []CardType{Multipass, Membership, Stamp, Reward}},
	SubtractVisit:             {"visits", true, []CardType{Multipass, Membership}},
	AddPurchase:               {"amount", false, []CardType{Stamp, Reward}},
	SubtractPurchase:          {"amount", false, nil}, // path and body confirmed; semantics unknown
	ReceiveReward:             {"id", true, []CardType{Reward}},
	RedeemCoupon:              {"", false, []CardType{Coupon}},
}

// Methods lists every card action, sorted by name.
func Methods() []Method {
	ms := make([]Method, 0, len(methods))
	for m := range methods {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return ms
}

// ParseMethod checks that s names a card action.
func ParseMethod(s string) (Method, error) {
	m := Method(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := methods[m]; !ok {
		names := make([]string, 0, len(methods))
		for _, m := range Methods() {
			names = append(names, string(m))
		}
		return "", fmt.Errorf("apiclient: unknown action %q (want one of %s)", s, strings.Join(names, ", "))
	}
	return m, nil
}

// Field is the JSON body field that carries the action's quantity, e.g.
// "stamps" for add-stamp, "id" (a reward-tier id) for receive-reward, and ""
// for redeem-coupon, which takes none.
func (m Method) Field() string { return methods[m].field }

// IntegerQuantity reports whether the quantity must be a whole number.
func (m Method) IntegerQuantity() bool { return methods[m].integer }

// AppliesTo reports whether the vendor lists m for cards of type t. Stamp
// and Reward cards accept only the accrual matching their template's
// mechanics (visits, spend or points); the API answers "Irrelevant accrual
// type" for the others, which this table cannot know.
func (m Method) AppliesTo(t CardType) bool { return slices.Contains(methods[m].types, t) }

// Action is one card action to apply.
type Action struct {
	Card   string // card number, e.g. "544256-439-856"
	Method Method
	// Quantity is the value of Method.Field(): stamps, visits, points, an
	// amount, or for receive-reward the reward-tier id. Ignored for
	// redeem-coupon.
	Quantity    float64
	Comment     string   // stored by the API and returned by GET /operations; carries tillscan's marker
	PurchaseSum *float64 // optional purchase sum sent with the action
}

// maxQuantity bounds a quantity so it is sent exactly, as a plain integer
// or decimal (no exponent), and stays inside a 32-bit integer.
const maxQuantity = math.MaxInt32

// Validate checks the action without sending it.
func (a Action) Validate() error {
	if err := ValidCardNumber(a.Card); err != nil {
		return err
	}
	info, ok := methods[a.Method]
	if !ok {
		return fmt.Errorf("apiclient: unknown action %q: %w", a.Method, ErrRejected)
	}
	if info.field == "" {
		return nil
	}
	q := a.Quantity
	switch {
	case math.IsNaN(q) || math.IsInf(q, 0):
		return fmt.Errorf("apiclient: %s: quantity %v is not a number: %w", a.Method, q, ErrRejected)
	case q <= 0:
		return fmt.Errorf("apiclient: %s: quantity %v must be positive: %w", a.Method, q, ErrRejected)
	case info.integer && q != math.Trunc(q):
		return fmt.Errorf("apiclient: %s: %s must be a whole number, not %v: %w", a.Method, info.field, q, ErrRejected)
	case q > maxQuantity:
		return fmt.Errorf("apiclient: %s: quantity %v is implausibly large (max %d): %w", a.Method, q, maxQuantity, ErrRejected)
	}
	if a.PurchaseSum != nil && (math.IsNaN(*a.PurchaseSum) || math.IsInf(*a.PurchaseSum, 0) || *a.PurchaseSum < 0) {
		return fmt.Errorf("apiclient: %s: purchase sum %v is not a positive number: %w", a.Method, *a.PurchaseSum, ErrRejected)
	}
	return nil
}
