package sandbox_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestActions_Rules drives every action against the demo cards: applied
// actions and their new balance, and every rule that rejects one.
func TestActions_Rules(t *testing.T) {
	type check func(t *testing.T, c sandbox.Card)
	bal := func(get func(sandbox.Balance) float64, want float64) check {
		return func(t *testing.T, c sandbox.Card) {
			t.Helper()
			if got := get(c.Balance); got != want {
				t.Errorf("card %s balance = %+v; want the checked field %v", c.ID, c.Balance, want)
			}
		}
	}
	stamps := func(b sandbox.Balance) float64 { return b.CurrentNumberOfUses }
	points := func(b sandbox.Balance) float64 { return b.BonusBalance }
	money := func(b sandbox.Balance) float64 { return b.Balance }
	rewards := func(b sandbox.Balance) float64 { return b.NumberRewardsUnused }

	tests := []struct {
		name   string
		card   string
		action string
		body   any
		status int    // 200 or the rejection
		msg    string // part of the rejection's message
		check  check
	}{
		// Stamp, stamps mechanics, 7/10.
		{"stamp add", sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 2}, 200, "", bal(stamps, 9)},
		{"stamp add converts to a reward", sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 4}, 200, "",
			func(t *testing.T, c sandbox.Card) {
				b := c.Balance
				if b.CurrentNumberOfUses != 1 || b.NumberRewardsUnused != 1 || b.StampsBeforeReward != 9 || b.NumberStampsTotal != 10 {
					t.Errorf("balance = %+v; want 1 stamp, 1 reward, 9 before reward, 10 total", b)
				}
			}},
		{"stamp add many at once", sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1000004}, 200, "",
			func(t *testing.T, c sandbox.Card) {
				if c.Balance.NumberRewardsUnused != 100001 || c.Balance.CurrentNumberOfUses != 1 || *c.TotalRewardsEarned != 100001 {
					t.Errorf("balance = %+v, earned %d; want 100001 rewards and 1 stamp", c.Balance, *c.TotalRewardsEarned)
				}
			}},
		{"huge quantity", sandbox.DemoGiftCard, "add-point", `{"points": 1e12}`, 422, "at most", nil},
		{"huge visits", sandbox.DemoMultipassCard, "add-visit", `{"visits": 9223372036854775807}`, 422, "at most", nil},
		{"stamp subtract", sandbox.DemoStampCard, "subtract-stamp", map[string]any{"stamps": 7}, 200, "", bal(stamps, 0)},
		{"stamp subtract too many", sandbox.DemoStampCard, "subtract-stamp", map[string]any{"stamps": 8}, 400, "not enough", nil},
		{"stamp add-reward", sandbox.DemoStampCard, "add-reward", map[string]any{"rewards": 2}, 200, "", bal(rewards, 2)},
		{"stamp subtract-reward none", sandbox.DemoStampCard, "subtract-reward", map[string]any{"rewards": 1}, 400, "not enough", nil},
		{"stamp add-visit irrelevant", sandbox.DemoStampCard, "add-visit", map[string]any{"visits": 1}, 400, "Irrelevant accrual type", nil},
		{"stamp add-purchase irrelevant", sandbox.DemoStampCard, "add-purchase", map[string]any{"amount": 12.5}, 400, "Irrelevant accrual type", nil},
		{"stamp add-point irrelevant", sandbox.DemoStampCard, "add-point", map[string]any{"points": 1}, 400, "Irrelevant accrual type", nil},
		{"stamp 1.5 stamps", sandbox.DemoStampCard, "add-stamp", `{"stamps": 1.5}`, 422, "integer", nil},
		{"stamp stamps as string", sandbox.DemoStampCard, "add-stamp", `{"stamps": "1"}`, 422, "integer", nil},
		{"stamp missing stamps", sandbox.DemoStampCard, "add-stamp", `{"comment": "x"}`, 422, "stamps", nil},
		{"stamp zero stamps", sandbox.DemoStampCard, "add-stamp", `{"stamps": 0}`, 422, "positive", nil},
		{"stamp comment not a string", sandbox.DemoStampCard, "add-stamp", `{"stamps": 1, "comment": 5}`, 422, "comment", nil},
		{"malformed body", sandbox.DemoStampCard, "add-stamp", `{"stamps": `, 400, "Invalid JSON", nil},
		{"array body", sandbox.DemoStampCard, "add-stamp", `[1]`, 400, "Invalid JSON", nil},
		{"unknown card", "999999-999-999", "add-stamp", map[string]any{"stamps": 1}, 404, "Card not found", nil},
		{"unknown action", sandbox.DemoStampCard, "add-beans", map[string]any{"beans": 1}, 404, "No route", nil},

		{"stamp subtract-scores irrelevant", sandbox.DemoStampCard, "subtract-scores", map[string]any{"scores": 1}, 400, "Irrelevant accrual type", nil},
		{"stamp subtract-purchase irrelevant", sandbox.DemoStampCard, "subtract-purchase", map[string]any{"amount": 1}, 400, "Irrelevant accrual type", nil},

		// Stamp, visits mechanics, 2/8, 1 visit a day.
		{"visits subtract-stamp corrects", sandbox.DemoStampVisitsCard, "subtract-stamp", map[string]any{"stamps": 2}, 200, "", bal(stamps, 0)},
		{"visits add-visit", sandbox.DemoStampVisitsCard, "add-visit", map[string]any{"visits": 1}, 200, "", bal(stamps, 3)},
		{"visits two at once over the daily limit", sandbox.DemoStampVisitsCard, "add-visit", map[string]any{"visits": 2}, 400, "visit has already been registered", nil},
		{"visits add-stamp irrelevant", sandbox.DemoStampVisitsCard, "add-stamp", map[string]any{"stamps": 1}, 400, "Irrelevant accrual type", nil},
		{"visits add-purchase irrelevant", sandbox.DemoStampVisitsCard, "add-purchase", map[string]any{"amount": 10}, 400, "Irrelevant accrual type", nil},

		// Cashback 5 %: 12.50 balance, 40 points.
		{"cashback amount", sandbox.DemoCashbackCard, "add-transaction-amount", map[string]any{"amount": 20}, 200, "", bal(money, 13.50)},
		{"cashback amount fraction", sandbox.DemoCashbackCard, "add-transaction-amount", `{"amount": 20.5}`, 422, "integer", nil},
		{"cashback spend", sandbox.DemoCashbackCard, "subtract-transaction-amount", map[string]any{"amount": 12}, 200, "", bal(money, 0.50)},
		{"cashback overspend", sandbox.DemoCashbackCard, "subtract-transaction-amount", map[string]any{"amount": 13}, 400, "not enough", nil},
		{"cashback points", sandbox.DemoCashbackCard, "add-point", map[string]any{"points": 2.5}, 200, "", bal(points, 42.5)},
		{"cashback points too many", sandbox.DemoCashbackCard, "subtract-point", map[string]any{"points": 41}, 400, "not enough", nil},
		{"cashback add-stamp irrelevant", sandbox.DemoCashbackCard, "add-stamp", map[string]any{"stamps": 1}, 400, "Irrelevant accrual type", nil},

		// Multipass: 5 visits available.
		{"multipass add-visit adds", sandbox.DemoMultipassCard, "add-visit", map[string]any{"visits": 10}, 200, "", bal(stamps, 15)},
		{"multipass subtract-visit uses", sandbox.DemoMultipassCard, "subtract-visit", map[string]any{"visits": 1}, 200, "", bal(stamps, 4)},
		{"multipass no visits left", sandbox.DemoMultipassCard, "subtract-visit", map[string]any{"visits": 6}, 400, "not enough", nil},
		{"multipass scores", sandbox.DemoMultipassCard, "add-scores", map[string]any{"scores": 3}, 200, "", bal(points, 3)},
		{"multipass add-stamp irrelevant", sandbox.DemoMultipassCard, "add-stamp", map[string]any{"stamps": 1}, 400, "Irrelevant accrual type", nil},

		// Coupon.
		{"coupon redeem", sandbox.DemoCouponCard, "redeem-coupon", `{}`, 200, "", func(t *testing.T, c sandbox.Card) {
			if !c.CouponRedeemed {
				t.Errorf("couponRedeemed = false after redeem-coupon")
			}
		}},
		{"coupon redeem empty body", sandbox.DemoCouponCard, "redeem-coupon", nil, 200, "", nil},
		{"coupon subtract-point irrelevant", sandbox.DemoCouponCard, "subtract-point", map[string]any{"points": 1}, 400, "Irrelevant accrual type", nil},
		{"coupon subtract-reward irrelevant", sandbox.DemoCouponCard, "subtract-reward", map[string]any{"rewards": 1}, 400, "Irrelevant accrual type", nil},
		{"coupon subtract-stamp irrelevant", sandbox.DemoCouponCard, "subtract-stamp", map[string]any{"stamps": 1}, 400, "Irrelevant accrual type", nil},
		{"coupon add-point irrelevant", sandbox.DemoCouponCard, "add-point", map[string]any{"points": 1}, 400, "Irrelevant accrual type", nil},
		{"redeem-coupon on a stamp card", sandbox.DemoStampCard, "redeem-coupon", `{}`, 400, "Irrelevant accrual type", nil},

		// Discount and gift: points.
		{"discount points", sandbox.DemoDiscountCard, "add-point", map[string]any{"points": 10}, 200, "", bal(points, 10)},
		{"discount add-visit irrelevant", sandbox.DemoDiscountCard, "add-visit", map[string]any{"visits": 1}, 400, "Irrelevant accrual type", nil},
		{"gift spend", sandbox.DemoGiftCard, "subtract-point", map[string]any{"points": 20}, 200, "", bal(points, 30)},
		{"gift overspend", sandbox.DemoGiftCard, "subtract-point", map[string]any{"points": 51}, 400, "not enough", nil},

		// Membership with a daily limit of 1: subtract-visit registers a visit.
		{"membership visit", sandbox.DemoMembershipCard, "subtract-visit", map[string]any{"visits": 1}, 200, "", func(t *testing.T, c sandbox.Card) {
			if c.CountVisits == nil || *c.CountVisits != 1 || c.Balance.CurrentNumberOfUses != 0 {
				t.Errorf("countVisits = %v, visits left = %v; want 1 and 0", c.CountVisits, c.Balance.CurrentNumberOfUses)
			}
		}},
		{"membership add-visit irrelevant with limits", sandbox.DemoMembershipCard, "add-visit", map[string]any{"visits": 1}, 400, "Irrelevant accrual type", nil},

		// Reward, points mechanics: 120 points, tiers 901 (100) and 902 (250).
		{"reward scores", sandbox.DemoRewardPointsCard, "add-scores", map[string]any{"scores": 30}, 200, "", bal(points, 150)},
		{"reward receive", sandbox.DemoRewardPointsCard, "receive-reward", map[string]any{"id": 901}, 200, "", bal(points, 20)},
		{"reward receive not enough", sandbox.DemoRewardPointsCard, "receive-reward", map[string]any{"id": 902}, 400, "not enough", nil},
		{"reward receive unknown tier", sandbox.DemoRewardPointsCard, "receive-reward", map[string]any{"id": 7}, 400, "not found", nil},
		{"reward receive without id", sandbox.DemoRewardPointsCard, "receive-reward", `{}`, 422, "id", nil},
		{"reward subtract-scores", sandbox.DemoRewardPointsCard, "subtract-scores", map[string]any{"scores": 20}, 200, "", bal(points, 100)},
		{"reward subtract-scores too many", sandbox.DemoRewardPointsCard, "subtract-scores", map[string]any{"scores": 121}, 400, "not enough", nil},
		{"reward subtract-purchase irrelevant", sandbox.DemoRewardPointsCard, "subtract-purchase", map[string]any{"amount": 1}, 400, "Irrelevant accrual type", nil},
		{"reward add-visit irrelevant", sandbox.DemoRewardPointsCard, "add-visit", map[string]any{"visits": 1}, 400, "Irrelevant accrual type", nil},
		{"reward add-purchase irrelevant", sandbox.DemoRewardPointsCard, "add-purchase", map[string]any{"amount": 5}, 400, "Irrelevant accrual type", nil},
		{"reward add-stamp irrelevant", sandbox.DemoRewardPointsCard, "add-stamp", map[string]any{"stamps": 1}, 400, "Irrelevant accrual type", nil},

		// Reward, spend mechanics: 30 points, 1 point per unit.
		{"spend purchase", sandbox.DemoRewardSpendCard, "add-purchase", map[string]any{"amount": 12.99}, 200, "", bal(points, 42)},
		{"spend reverse purchase", sandbox.DemoRewardSpendCard, "subtract-purchase", map[string]any{"amount": 10}, 200, "", bal(points, 20)},
		{"spend add-scores irrelevant", sandbox.DemoRewardSpendCard, "add-scores", map[string]any{"scores": 5}, 400, "Irrelevant accrual type", nil},
		{"spend reverse too much", sandbox.DemoRewardSpendCard, "subtract-purchase", map[string]any{"amount": 31}, 400, "not enough", nil},
		{"spend receive", sandbox.DemoRewardSpendCard, "receive-reward", map[string]any{"id": 1001}, 400, "not enough", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sandbox.Options{})
			before := s.API.Stats().Applied[tt.card]
			r := s.act(tt.card, tt.action, tt.body)
			if tt.status != http.StatusOK {
				r.fail(t, tt.status, tt.msg)
				if got := s.API.Stats().Applied[tt.card]; got != before {
					t.Errorf("Applied[%s] = %d after a rejection, want %d", tt.card, got, before)
				}
				if n := len(s.API.Operations()); n != 0 {
					t.Errorf("operations log has %d entries after a rejection, want 0", n)
				}
				return
			}
			var c sandbox.Card
			r.ok(t, &c)
			if c.ID != tt.card {
				t.Fatalf("answer card id = %q, want %q", c.ID, tt.card)
			}
			if tt.check != nil {
				tt.check(t, c)
				tt.check(t, s.card(tt.card)) // the answer and GET agree
			}
			if got := s.API.Stats().Applied[tt.card]; got != before+1 {
				t.Errorf("Applied[%s] = %d, want %d", tt.card, got, before+1)
			}
		})
	}
}

// TestActions_Once checks the rules that depend on what happened before:
// a coupon redeems once, visit limits per day and their reset.
func TestActions_Once(t *testing.T) {
	tests := []struct {
		name   string
		card   string
		action string
		body   any
		msg    string
	}{
		{"coupon", sandbox.DemoCouponCard, "redeem-coupon", `{}`, "coupon already redeemed"},
		{"stamp visits 1/day", sandbox.DemoStampVisitsCard, "add-visit", map[string]any{"visits": 1}, "visit has already been registered"},
		{"membership 1/day", sandbox.DemoMembershipCard, "subtract-visit", map[string]any{"visits": 1}, "visit has already been registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sandbox.Options{})
			s.act(tt.card, tt.action, tt.body).ok(t, nil)
			s.act(tt.card, tt.action, tt.body).fail(t, http.StatusBadRequest, tt.msg)
			if tt.action == "redeem-coupon" {
				s.clk.Add(48 * time.Hour)
				s.act(tt.card, tt.action, tt.body).fail(t, http.StatusBadRequest, tt.msg)
				return
			}
			s.clk.Add(24 * time.Hour) // a new day: the limit resets
			s.act(tt.card, tt.action, tt.body).ok(t, nil)
			if got := s.API.Stats().Applied[tt.card]; got != 2 {
				t.Errorf("Applied = %d, want 2", got)
			}
		})
	}
}

// TestActions_StampRewards redeems a stamp card's rewards.
func TestActions_StampRewards(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 3}).ok(t, nil) // 10/10: a reward
	s.act(sandbox.DemoStampCard, "add-reward", map[string]any{"rewards": 1}).ok(t, nil)
	var c sandbox.Card
	s.act(sandbox.DemoStampCard, "subtract-reward", map[string]any{"rewards": 2}).ok(t, &c)
	if c.Balance.NumberRewardsUnused != 0 || *c.TotalRewardsEarned != 2 || *c.TotalRewardsRedeemed != 2 || c.LastRewardRedeemedAt == nil {
		t.Errorf("card = %+v earned %d redeemed %d; want 0 unused, 2 earned, 2 redeemed", c.Balance, *c.TotalRewardsEarned, *c.TotalRewardsRedeemed)
	}
	s.act(sandbox.DemoStampCard, "subtract-reward", map[string]any{"rewards": 1}).fail(t, 400, "not enough rewards")
	ops := s.API.Operations()
	if len(ops) != 3 || ops[2].Amount != -2 || ops[2].EventID != 42 {
		t.Errorf("operations = %+v, want the redemption logged as -2 with eventId 42", ops)
	}
}
