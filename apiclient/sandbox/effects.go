package sandbox

// What each card action does to a card's state: the table of actions and
// their effects (visits are in visits.go). The HTTP side is in
// actionrequest.go.

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"time"
)

// rejection is a rule violation answered with status and the API's message.
type rejection struct {
	status int
	msg    string
}

func irrelevant() *rejection { return &rejection{http.StatusBadRequest, "Irrelevant accrual type"} }

func notEnough(what string) *rejection {
	return &rejection{http.StatusBadRequest, "not enough " + what + " on the card"}
}

// take removes n from the balance field *from, or refuses with notEnough
// (what) and changes nothing when it holds less: the rule every
// subtraction shares.
func take(from *float64, n float64, what string) *rejection {
	if *from < n {
		return notEnough(what)
	}
	*from -= n
	return nil
}

func invalid(format string, args ...any) *rejection {
	return &rejection{http.StatusUnprocessableEntity, fmt.Sprintf(format, args...)}
}

// quantity is the JSON type of an action's quantity field.
type quantity int

const (
	qNone    quantity = iota // no quantity (redeem-coupon)
	qInteger                 // "integer" in the API's schema: 1.5 or "1" is a 422
	qNumber                  // "number": decimals allowed
)

// action is one POST /cards/{id}/{name} card action. An action on a card
// type or mechanics it does not apply to answers 400 "Irrelevant accrual
// type": confirmed for accruals (docs/api.md), INVENTED for the others
// (subtractions, receive-reward, redeem-coupon).
type action struct {
	field string   // the quantity's body field
	kind  quantity // its JSON type
	// event is the operation's eventId. The real code table is undocumented
	// and sources disagree (docs/api.md, "Exactly once"); this one is
	// INVENTED, taking one integrator's labels where they exist (1 stamp, 4 purchase, 5 points, 6 amount,
	// 7 visit, 42 reward redeemed, 43 coupon redeemed).
	event int
	// sign of the logged amount: subtractions are logged negative. Whether
	// the real API does so is UNKNOWN (S7 assumed it).
	sign  float64
	apply func(x *actx) (balance float64, rej *rejection)
}

// actx is what an action's apply sees; a.mu is held.
type actx struct {
	a   *API
	c   *cardState
	t   *Template
	q   float64 // the quantity; for receive-reward the reward-tier id
	now time.Time
}

var actions = map[string]action{
	"add-stamp":                   {"stamps", qInteger, 1, +1, addStamp},
	"subtract-stamp":              {"stamps", qInteger, 2, -1, subtractStamp},
	"add-purchase":                {"amount", qNumber, 4, +1, addPurchase},
	"subtract-purchase":           {"amount", qNumber, 14, -1, subtractPurchase},
	"add-point":                   {"points", qNumber, 5, +1, addPoint},
	"subtract-point":              {"points", qNumber, 15, -1, subtractPoint},
	"add-transaction-amount":      {"amount", qInteger, 6, +1, addAmount},
	"subtract-transaction-amount": {"amount", qInteger, 16, -1, subtractAmount},
	"add-visit":                   {"visits", qInteger, 7, +1, addVisit},
	"subtract-visit":              {"visits", qInteger, 17, -1, subtractVisit},
	"add-reward":                  {"rewards", qInteger, 8, +1, addReward},
	"subtract-reward":             {"rewards", qInteger, 42, -1, subtractReward},
	"add-scores":                  {"scores", qInteger, 9, +1, addScores},
	"subtract-scores":             {"scores", qInteger, 19, -1, subtractScores},
	"receive-reward":              {"id", qInteger, 44, -1, receiveReward},
	"redeem-coupon":               {"", qNone, 43, -1, redeemCoupon},
}

// mechanics returns a Stamp or Reward template's accrual mechanics.
func mechanics(t *Template) string {
	switch {
	case t.Mechanics != "":
		return t.Mechanics
	case t.Type == typeStamp:
		return "stamps"
	default:
		return "points"
	}
}

func stampsPerReward(t *Template) int { return cmp.Or(t.StampsPerReward, 10) }

// --- stamp cards -----------------------------------------------------------

// addStamps adds n stamps; each full set of stampsPerReward becomes an
// unused reward and the count restarts (balance meanings: docs/api.md).
func (x *actx) addStamps(n float64) float64 {
	b, per := &x.c.bal, float64(stampsPerReward(x.t))
	if n > 0 {
		x.c.lastStamp = ptr(x.now)
	}
	b.CurrentNumberOfUses += n
	if full := math.Floor(b.CurrentNumberOfUses / per); full > 0 {
		b.CurrentNumberOfUses -= full * per
		b.NumberRewardsUnused += full
		x.c.rewardsEarned += int(full)
		x.c.lastReward = ptr(x.now)
	}
	b.NumberStampsTotal = per
	b.StampsBeforeReward = per - b.CurrentNumberOfUses
	return b.CurrentNumberOfUses
}

func (x *actx) takeStamps(n float64) (float64, *rejection) {
	if rej := take(&x.c.bal.CurrentNumberOfUses, n, "stamps"); rej != nil {
		return 0, rej
	}
	return x.addStamps(0), nil
}

func addStamp(x *actx) (float64, *rejection) {
	if x.t.Type != typeStamp || mechanics(x.t) != "stamps" {
		return 0, irrelevant()
	}
	return x.addStamps(x.q), nil
}

// subtractStamp corrects a stamp card of any mechanics (INVENTED: the notes
// do not say whether visits/spend stamp cards accept it).
func subtractStamp(x *actx) (float64, *rejection) {
	if x.t.Type != typeStamp {
		return 0, irrelevant()
	}
	return x.takeStamps(x.q)
}

func addReward(x *actx) (float64, *rejection) {
	if x.t.Type != typeStamp {
		return 0, irrelevant()
	}
	x.c.bal.NumberRewardsUnused += x.q
	x.c.rewardsEarned += int(x.q)
	x.c.lastReward = ptr(x.now)
	return x.c.bal.NumberRewardsUnused, nil
}

// subtractReward redeems ready rewards of a stamp card.
func subtractReward(x *actx) (float64, *rejection) {
	if x.t.Type != typeStamp {
		return 0, irrelevant()
	}
	if rej := take(&x.c.bal.NumberRewardsUnused, x.q, "rewards"); rej != nil {
		return 0, rej
	}
	x.c.rewardsRedeem += int(x.q)
	x.c.lastRedeem = ptr(x.now)
	return x.c.bal.NumberRewardsUnused, nil
}

// --- spend -----------------------------------------------------------------

// addPurchase accrues a purchase on a spend-mechanics Stamp card (one stamp
// per SpendPerStamp spent, the remainder dropped) or Reward card
// (PointsPerUnit points per unit, rounded down). The rounding is INVENTED.
func addPurchase(x *actx) (float64, *rejection) {
	if mechanics(x.t) != "spend" || (x.t.Type != typeStamp && x.t.Type != typeReward) {
		return 0, irrelevant()
	}
	if x.t.Type == typeStamp {
		return x.addStamps(math.Floor(x.q / spendPerStamp(x.t))), nil
	}
	x.c.bal.BonusBalance += math.Floor(x.q * pointsPerUnit(x.t))
	return x.c.bal.BonusBalance, nil
}

// subtractPurchase reverses addPurchase. Its real semantics are UNKNOWN
// (docs/api.md: path and body confirmed only).
func subtractPurchase(x *actx) (float64, *rejection) {
	if mechanics(x.t) != "spend" || (x.t.Type != typeStamp && x.t.Type != typeReward) {
		return 0, irrelevant()
	}
	if x.t.Type == typeStamp {
		return x.takeStamps(math.Floor(x.q / spendPerStamp(x.t)))
	}
	return x.takePoints(math.Floor(x.q * pointsPerUnit(x.t)))
}

func spendPerStamp(t *Template) float64  { return cmp.Or(t.SpendPerStamp, 10) }
func pointsPerUnit(t *Template) float64  { return cmp.Or(t.PointsPerUnit, 1) }
func pointsPerVisit(t *Template) float64 { return cmp.Or(t.PointsPerVisit, 10) }

// --- points, scores, money -------------------------------------------------

func pointsCard(t *Template) bool {
	return t.Type == typeCashback || t.Type == typeDiscount || t.Type == typeGift
}

func addPoint(x *actx) (float64, *rejection) {
	if !pointsCard(x.t) {
		return 0, irrelevant()
	}
	x.c.bal.BonusBalance += x.q
	return x.c.bal.BonusBalance, nil
}

func subtractPoint(x *actx) (float64, *rejection) {
	if !pointsCard(x.t) {
		return 0, irrelevant()
	}
	return x.takePoints(x.q)
}

func (x *actx) takePoints(n float64) (float64, *rejection) {
	if rej := take(&x.c.bal.BonusBalance, n, "points"); rej != nil {
		return 0, rej
	}
	return x.c.bal.BonusBalance, nil
}

// addScores adds points to a points-mechanics Reward card or a Multipass.
func addScores(x *actx) (float64, *rejection) {
	if x.t.Type != typeMultipass && (x.t.Type != typeReward || mechanics(x.t) != "points") {
		return 0, irrelevant()
	}
	x.c.bal.BonusBalance += x.q
	return x.c.bal.BonusBalance, nil
}

// subtractScores corrects a Reward card of any mechanics or a Multipass
// (INVENTED for visits/spend reward cards).
func subtractScores(x *actx) (float64, *rejection) {
	if x.t.Type != typeMultipass && x.t.Type != typeReward {
		return 0, irrelevant()
	}
	return x.takePoints(x.q)
}

// addAmount credits CashbackPercent of a purchase amount as money balance.
func addAmount(x *actx) (float64, *rejection) {
	if x.t.Type != typeCashback {
		return 0, irrelevant()
	}
	pct := cmp.Or(x.t.CashbackPercent, 5)
	x.c.bal.Balance = round2(x.c.bal.Balance + x.q*pct/100)
	return x.c.bal.Balance, nil
}

// subtractAmount spends money balance.
func subtractAmount(x *actx) (float64, *rejection) {
	if x.t.Type != typeCashback {
		return 0, irrelevant()
	}
	if rej := take(&x.c.bal.Balance, x.q, "balance"); rej != nil {
		return 0, rej
	}
	x.c.bal.Balance = round2(x.c.bal.Balance)
	return x.c.bal.Balance, nil
}

// receiveReward spends a Reward card's points on a reward tier (body
// {"id": tierId}); the logged amount is minus the tier's threshold.
func receiveReward(x *actx) (float64, *rejection) {
	if x.t.Type != typeReward {
		return 0, irrelevant()
	}
	for _, rt := range x.t.RewardTiers {
		if float64(rt.ID) != x.q {
			continue
		}
		if rej := take(&x.c.bal.BonusBalance, rt.Threshold, "points"); rej != nil {
			return 0, rej
		}
		x.c.rewardsRedeem++
		x.c.lastRedeem = ptr(x.now)
		x.q = rt.Threshold // logged as the points spent
		return x.c.bal.BonusBalance, nil
	}
	return 0, &rejection{http.StatusBadRequest, fmt.Sprintf("reward tier %v not found for this card", x.q)}
}

// redeemCoupon redeems a coupon once; the logged amount is -1 (INVENTED).
func redeemCoupon(x *actx) (float64, *rejection) {
	if x.t.Type != typeCoupon {
		return 0, irrelevant()
	}
	if x.c.couponRedeemed {
		return 0, &rejection{http.StatusBadRequest, "coupon already redeemed"}
	}
	x.c.couponRedeemed = true
	x.c.lastRedeem = ptr(x.now)
	x.q = 1
	return 0, nil
}
