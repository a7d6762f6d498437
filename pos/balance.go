package pos

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tillscan/tillscan/apiclient"
)

// BalanceText is the short balance of a card as the cashier and the job's
// result show it: "stamp 8/10", "points 130", "visits left 4",
// "coupon redeemed", "balance £13.10", "discount 5%". currency prefixes
// money amounts ("" for none). It is "" when the card says nothing useful.
func BalanceText(c apiclient.Card, currency string) string {
	b := c.Balance
	switch c.Type {
	case apiclient.Stamp:
		if b.CurrentNumberOfUses == nil {
			return ""
		}
		s := "stamp " + fmtNum(*b.CurrentNumberOfUses)
		if b.NumberStampsTotal != nil && *b.NumberStampsTotal > 0 {
			s += "/" + fmtNum(*b.NumberStampsTotal)
		}
		return s
	case apiclient.Reward:
		return labelled("points ", b.BonusBalance)
	case apiclient.Multipass:
		return labelled("visits left ", b.CurrentNumberOfUses)
	case apiclient.Coupon:
		if c.CouponRedeemed {
			return "coupon redeemed"
		}
		return "coupon not redeemed"
	case apiclient.Cashback:
		if b.Balance == nil {
			return ""
		}
		return "balance " + money(currency, *b.Balance)
	case apiclient.Gift:
		if b.BonusBalance == nil {
			return ""
		}
		return "balance " + money(currency, *b.BonusBalance)
	case apiclient.Discount:
		if b.DiscountPercentage == nil {
			return ""
		}
		return "discount " + fmtNum(*b.DiscountPercentage) + "%"
	case apiclient.Membership:
		if c.CountVisits != nil {
			return "visits " + strconv.Itoa(*c.CountVisits)
		}
		return labelled("visits left ", b.CurrentNumberOfUses)
	}
	return ""
}

// cashierLine is the one friendly line of an applied action, e.g.
// "544256-439-856: stamp added — 8/10, 2 to go".
func cashierLine(a apiclient.Action, c *apiclient.Card, currency string) string {
	line := a.Card + ": " + actionText(a, currency)
	if c == nil {
		return line
	}
	if d := detailText(*c, currency); d != "" {
		line += " — " + d
	}
	return line
}

// detailText is BalanceText with what the customer wants to hear next.
func detailText(c apiclient.Card, currency string) string {
	b := c.Balance
	if c.Type == apiclient.Coupon {
		return "" // the action already said "coupon redeemed"
	}
	if c.Type != apiclient.Stamp || b.CurrentNumberOfUses == nil {
		return BalanceText(c, currency)
	}
	var parts []string
	s := fmtNum(*b.CurrentNumberOfUses)
	if b.NumberStampsTotal != nil && *b.NumberStampsTotal > 0 {
		s += "/" + fmtNum(*b.NumberStampsTotal)
	}
	parts = append(parts, s)
	if b.StampsBeforeReward != nil && *b.StampsBeforeReward > 0 {
		parts = append(parts, fmtNum(*b.StampsBeforeReward)+" to go")
	}
	if b.NumberRewardsUnused != nil && *b.NumberRewardsUnused > 0 {
		parts = append(parts, plural(*b.NumberRewardsUnused, "reward")+" ready")
	}
	return strings.Join(parts, ", ")
}

// actionText says what an action did, in the cashier's words.
func actionText(a apiclient.Action, currency string) string {
	q := a.Quantity
	switch a.Method {
	case apiclient.AddStamp:
		return plural(q, "stamp") + " added"
	case apiclient.SubtractStamp:
		return plural(q, "stamp") + " taken off"
	case apiclient.AddVisit:
		return plural(q, "visit") + " added"
	case apiclient.SubtractVisit:
		return plural(q, "visit") + " used"
	case apiclient.AddPurchase:
		return "purchase of " + money(currency, q) + " added"
	case apiclient.SubtractPurchase:
		return "purchase of " + money(currency, q) + " taken off"
	case apiclient.AddScores, apiclient.AddPoint:
		return plural(q, "point") + " added"
	case apiclient.SubtractScores:
		return plural(q, "point") + " taken off"
	case apiclient.SubtractPoint:
		return money(currency, q) + " paid from the card"
	case apiclient.AddTransactionAmount:
		if a.PurchaseSum != nil && *a.PurchaseSum != q { // the API takes whole amounts: say what counted
			return "purchase of " + money(currency, *a.PurchaseSum) + " added (" + fmtNum(q) + " counted)"
		}
		return "purchase of " + money(currency, q) + " added"
	case apiclient.SubtractTransactionAmount:
		return money(currency, q) + " paid from the card"
	case apiclient.AddReward:
		return plural(q, "reward") + " added"
	case apiclient.SubtractReward:
		return plural(q, "reward") + " handed out"
	case apiclient.ReceiveReward:
		return "reward redeemed"
	case apiclient.RedeemCoupon:
		return "coupon redeemed"
	}
	return string(a.Method) + " done"
}

func labelled(label string, v *float64) string {
	if v == nil {
		return ""
	}
	return label + fmtNum(*v)
}

// plural writes "1 stamp", "2 stamps".
func plural(n float64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmtNum(n) + " " + noun + "s"
}

func money(currency string, v float64) string {
	return currency + strconv.FormatFloat(v, 'f', 2, 64)
}

// fmtNum writes a number the short way: 8, 12.5, not 8.000000.
func fmtNum(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
