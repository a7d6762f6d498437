package pos

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/tillscan/tillscan/apiclient"
)

// Errors of Rules.Decide. Each means the job cannot be sent as it is.
var (
	// ErrUnknownMode is returned when the job's mode has no rules.
	ErrUnknownMode = errors.New("pos: unknown mode")
	// ErrNoRule is returned when no rule covers the card's type or template.
	ErrNoRule = errors.New("pos: no rule for this card")
	// ErrNeedPurchaseSum is returned when the rule takes its quantity from
	// the purchase sum and the scan came without one.
	ErrNeedPurchaseSum = errors.New("pos: this card needs the purchase sum")
	// ErrNoReward is returned for receive-reward when the card cannot
	// afford any reward tier.
	ErrNoReward = errors.New("pos: not enough points for a reward")
	// ErrWholeAmount is returned when a payment from the card (a
	// whole-number subtraction such as subtract-transaction-amount) would
	// need rounding: tillscan never takes a different amount than was
	// entered. (Accruals are rounded instead; the exact sum still travels
	// as purchaseSum.)
	ErrWholeAmount = errors.New("pos: this card takes whole amounts only")
	// ErrMechanics is returned when the mechanics do not fit the card type.
	ErrMechanics = errors.New("pos: mechanics do not fit this card")
)

// Rule is one card action and how much of it.
type Rule struct {
	Method apiclient.Method
	// Quantity is the fixed quantity (stamps, visits, points…). Ignored
	// when QuantityFromPurchase is set, for redeem-coupon and for
	// receive-reward.
	Quantity float64
	// QuantityFromPurchase uses the scan's purchase sum as the quantity
	// (spend, cashback or gift amounts). A whole-number accrual (cashback's
	// add-transaction-amount) gets the sum rounded to a whole number, the
	// exact sum still travelling as purchaseSum; a whole-number payment
	// (subtract-transaction-amount) refuses a fraction (ErrWholeAmount).
	QuantityFromPurchase bool
	// RewardTier is the tier id for receive-reward; 0 means the most
	// expensive tier the card can afford now.
	RewardTier int
}

// String writes the rule as config shows it: "add-stamp 1", "add-point purchase sum".
func (r Rule) String() string {
	switch {
	case r.Method == apiclient.ReceiveReward && r.RewardTier == 0:
		return string(r.Method) + " best tier"
	case r.Method == apiclient.ReceiveReward:
		return fmt.Sprintf("%s tier %d", r.Method, r.RewardTier)
	case r.Method.Field() == "":
		return string(r.Method)
	case r.QuantityFromPurchase:
		return string(r.Method) + " purchase sum"
	}
	return fmt.Sprintf("%s %s", r.Method, fmtNum(r.Quantity))
}

// ModeRules are the rules of one mode; what they leave out falls back to
// the default rules.
type ModeRules struct {
	ByType     map[apiclient.CardType]Rule
	ByTemplate map[int]Rule
}

// Rules decide which action a scanned card gets. A Rules value is not
// changed after it is built: reload builds a new one and swaps it in.
type Rules struct {
	ByType     map[apiclient.CardType]Rule // default action per card type
	ByTemplate map[int]Rule                // per template id, overrides ByType
	Modes      map[string]ModeRules        // per mode (e.g. "redeem"), overrides the defaults
	Mechanics  map[int]Mechanics           // per template id, from config; always wins over learning
	Comment    string                      // optional text appended to the marker in every comment
	// Rounding makes a purchase sum whole for an accrual that takes whole
	// numbers; "" is RoundDown.
	Rounding Rounding
}

// ModeRedeem is the mode DefaultRules defines besides the default one.
const ModeRedeem = "redeem"

// DefaultRules are tillscan's rules when config says nothing:
//
//	stamp       add-stamp 1; on visits mechanics add-visit 1, on spend add-purchase (sum)
//	cashback    add-transaction-amount (sum): the purchase earns cashback
//	            (the API wants a whole amount: the sum is rounded by Rounding, and sent exactly as purchaseSum)
//	multipass   subtract-visit 1: the customer uses one of the visits bought
//	coupon      redeem-coupon
//	discount    add-point (sum): purchases count towards the discount level
//	gift        subtract-point (sum): the customer pays with the certificate
//	membership  add-visit 1 (subtract-visit 1 on a tier with limits): record the visit
//	reward      add-scores 1 on points mechanics; add-visit 1 on visits; add-purchase (sum) on spend
//
// and in mode "redeem":
//
//	stamp       subtract-reward 1: hand out a completed reward
//	reward      receive-reward with the best tier the card can afford
//	multipass   subtract-visit 1
//	cashback    subtract-transaction-amount (sum): pay the sum from the cashback balance
//	gift        subtract-point (sum)
//	coupon      redeem-coupon
//	discount, membership  (fall back to the default)
func DefaultRules() Rules {
	sum := func(m apiclient.Method) Rule { return Rule{Method: m, QuantityFromPurchase: true} }
	one := func(m apiclient.Method) Rule { return Rule{Method: m, Quantity: 1} }
	return Rules{
		ByType: map[apiclient.CardType]Rule{
			apiclient.Stamp:      one(apiclient.AddStamp),
			apiclient.Cashback:   sum(apiclient.AddTransactionAmount),
			apiclient.Multipass:  one(apiclient.SubtractVisit),
			apiclient.Coupon:     {Method: apiclient.RedeemCoupon},
			apiclient.Discount:   sum(apiclient.AddPoint),
			apiclient.Gift:       sum(apiclient.SubtractPoint),
			apiclient.Membership: one(apiclient.AddVisit),
			apiclient.Reward:     one(apiclient.AddScores),
		},
		Modes: map[string]ModeRules{
			ModeRedeem: {ByType: map[apiclient.CardType]Rule{
				apiclient.Stamp:     one(apiclient.SubtractReward),
				apiclient.Reward:    {Method: apiclient.ReceiveReward},
				apiclient.Multipass: one(apiclient.SubtractVisit),
				apiclient.Cashback:  sum(apiclient.SubtractTransactionAmount),
				apiclient.Gift:      sum(apiclient.SubtractPoint),
				apiclient.Coupon:    {Method: apiclient.RedeemCoupon},
			}},
		},
	}
}

// Validate checks every rule: the action exists and the vendor lists it for
// the card type, quantities are positive (and whole where the API wants a
// whole number), mechanics and mode names are known. It reports every
// problem, each saying where it is.
func (r Rules) Validate() error {
	var errs []error
	check := func(where string, t *apiclient.CardType, rule Rule) {
		if err := checkRule(t, rule); err != nil {
			errs = append(errs, fmt.Errorf("pos: rules: %s: %w", where, err))
		}
	}
	checkSet := func(prefix string, byType map[apiclient.CardType]Rule, byTemplate map[int]Rule) {
		for _, t := range sortedKeys(byType) {
			if !t.Valid() {
				errs = append(errs, fmt.Errorf("pos: rules: %s%s: not a card type", prefix, t))
				continue
			}
			check(prefix+t.String(), &t, byType[t])
		}
		for _, id := range sortedKeys(byTemplate) {
			check(fmt.Sprintf("%stemplate %d", prefix, id), nil, byTemplate[id])
		}
	}
	checkSet("", r.ByType, r.ByTemplate)
	for _, name := range sortedKeys(r.Modes) {
		if name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
			errs = append(errs, fmt.Errorf("pos: rules: mode %q: a mode name must be one word", name))
		}
		m := r.Modes[name]
		checkSet("mode "+name+": ", m.ByType, m.ByTemplate)
	}
	for _, id := range sortedKeys(r.Mechanics) {
		if m, err := ParseMechanics(string(r.Mechanics[id])); err != nil || m != r.Mechanics[id] {
			errs = append(errs, fmt.Errorf("pos: rules: template %d: unknown mechanics %q (want stamps, points, visits, spend or limited)", id, r.Mechanics[id]))
		}
	}
	if strings.ContainsAny(r.Comment, "\r\n") || len(r.Comment) > 200 {
		errs = append(errs, fmt.Errorf("pos: rules: comment must be one line of at most 200 bytes"))
	}
	return errors.Join(errs...)
}

func checkRule(t *apiclient.CardType, r Rule) error {
	if !slices.Contains(apiclient.Methods(), r.Method) {
		if _, err := apiclient.ParseMethod(string(r.Method)); err != nil {
			return err
		}
		return fmt.Errorf("action %q must be written in lower case", r.Method)
	}
	if t != nil && !r.Method.AppliesTo(*t) {
		return fmt.Errorf("%s is not an action for %s cards", r.Method, t)
	}
	if t == nil && !slices.ContainsFunc(apiclient.CardTypes(), r.Method.AppliesTo) {
		return fmt.Errorf("%s is not listed for any card type", r.Method)
	}
	switch {
	case r.Method == apiclient.ReceiveReward:
		if r.RewardTier < 0 {
			return fmt.Errorf("reward tier %d must be a tier id, or 0 for the best affordable tier", r.RewardTier)
		}
	case r.Method.Field() == "":
	case r.QuantityFromPurchase:
	case math.IsNaN(r.Quantity) || math.IsInf(r.Quantity, 0) || r.Quantity <= 0:
		return fmt.Errorf("%s: quantity %v must be a positive number", r.Method, r.Quantity)
	case r.Method.IntegerQuantity() && r.Quantity != math.Trunc(r.Quantity):
		return fmt.Errorf("%s: quantity %v must be a whole number", r.Method, r.Quantity)
	}
	return nil
}

// rule finds the rule for a card: the mode's template rule, the mode's
// type rule, then the default template rule and the default type rule.
func (r Rules) rule(t apiclient.CardType, templateID int, mode string) (Rule, error) {
	if mode != "" {
		m, ok := r.Modes[mode]
		if !ok {
			return Rule{}, fmt.Errorf("pos: mode %q: %w", mode, ErrUnknownMode)
		}
		if rule, ok := m.ByTemplate[templateID]; ok {
			return rule, nil
		}
		if rule, ok := m.ByType[t]; ok {
			return rule, nil
		}
	}
	if rule, ok := r.ByTemplate[templateID]; ok {
		return rule, nil
	}
	if rule, ok := r.ByType[t]; ok {
		return rule, nil
	}
	return Rule{}, fmt.Errorf("pos: %s card of template %d: %w", t, templateID, ErrNoRule)
}

// needsBalance reports whether the rule for a card needs its current
// balance (receive-reward choosing the best affordable tier), so the worker
// must GET the card even when the cache knows it.
func (r Rules) needsBalance(t apiclient.CardType, templateID int, mode string) bool {
	rule, err := r.rule(t, templateID, mode)
	return err == nil && rule.Method == apiclient.ReceiveReward && rule.RewardTier == 0
}

// HasMode reports whether mode is "" (the default) or has rules.
func (r Rules) HasMode(mode string) bool {
	_, ok := r.Modes[mode]
	return mode == "" || ok
}

// Decide returns the action for card in mode ("" for the default), given
// the template's mechanics (from config, learned, or "" if unknown: then
// the rule's own action is the first guess) and the purchase sum entered
// before the scan, if any. The action's Comment is left for the caller.
//
// On Stamp, Reward and Membership cards an accrual rule (add-stamp,
// add-visit, add-purchase, add-scores; subtract-visit on a membership)
// follows the mechanics: a "2 stamps" rule on a visits template sends
// add-visit 2, any accrual on a spend template sends add-purchase with the
// purchase sum, and a membership visit on a limited tier is subtract-visit.
func (r Rules) Decide(card apiclient.Card, mech Mechanics, mode string, purchaseSum *float64) (apiclient.Action, error) {
	rule, err := r.rule(card.Type, card.TemplateID, mode)
	if err != nil {
		return apiclient.Action{}, err
	}
	if _, isAccrual := mechanicsOf(card.Type, rule.Method); isAccrual && mech != "" {
		m, ok := accrualMethod(card.Type, mech)
		if !ok {
			return apiclient.Action{}, fmt.Errorf("pos: %s mechanics on a %s card: %w", mech, card.Type, ErrMechanics)
		}
		rule = withMechanics(rule, m, mech)
	}
	a := apiclient.Action{Card: card.ID, Method: rule.Method, PurchaseSum: purchaseSum}
	switch {
	case rule.Method == apiclient.ReceiveReward:
		tier := rule.RewardTier
		if tier == 0 {
			if tier, err = bestTier(card); err != nil {
				return apiclient.Action{}, err
			}
		}
		a.Quantity = float64(tier)
	case rule.Method.Field() == "":
	case rule.QuantityFromPurchase:
		if purchaseSum == nil {
			return apiclient.Action{}, fmt.Errorf("pos: %s on a %s card: %w", rule.Method, card.Type, ErrNeedPurchaseSum)
		}
		a.Quantity = *purchaseSum
		if rule.Method.IntegerQuantity() && a.Quantity != math.Trunc(a.Quantity) {
			whole, ok := r.Rounding.round(a.Quantity)
			if !ok || strings.HasPrefix(string(rule.Method), "subtract-") {
				return apiclient.Action{}, fmt.Errorf("pos: %s of %v (rounding %s): %w", rule.Method, a.Quantity, cmp.Or(r.Rounding, RoundDown), ErrWholeAmount)
			}
			a.Quantity = whole
		}
	default:
		a.Quantity = rule.Quantity
	}
	if err := a.Validate(); err != nil {
		return apiclient.Action{}, fmt.Errorf("pos: %s card: %w", card.Type, err)
	}
	return a, nil
}

// bestTier picks the most expensive reward tier the card can afford.
func bestTier(card apiclient.Card) (int, error) {
	best, bestAt := 0, math.Inf(-1)
	points := card.Balance.BonusBalance
	for _, t := range card.AvailableRewardTiers {
		th := 0.0
		if t.Threshold != nil {
			th = *t.Threshold
		}
		if points != nil && th > *points {
			continue
		}
		if th > bestAt {
			best, bestAt = t.ID, th
		}
	}
	if best == 0 {
		have := "unknown"
		if points != nil {
			have = fmtNum(*points)
		}
		return 0, fmt.Errorf("pos: card %s has %s points and %d reward tiers listed: %w",
			card.ID, have, len(card.AvailableRewardTiers), ErrNoReward)
	}
	return best, nil
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
