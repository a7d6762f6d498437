package pos

import (
	"errors"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient"
)

func ptr[T any](v T) *T { return &v }

func testCard(t apiclient.CardType, template int) apiclient.Card {
	return apiclient.Card{ID: "544256-439-856", Type: t, TemplateID: template}
}

func rewardCard(points float64) apiclient.Card {
	c := testCard(apiclient.Reward, 7)
	c.Balance.BonusBalance = ptr(points)
	c.AvailableRewardTiers = []apiclient.RewardTier{
		{ID: 11, Threshold: ptr(100.0)}, {ID: 12, Threshold: ptr(250.0)},
	}
	return c
}

func TestRules_Decide(t *testing.T) {
	sum := ptr(12.5)
	five := ptr(5.0)
	def := DefaultRules()
	over := DefaultRules()
	over.ByTemplate = map[int]Rule{42: {Method: apiclient.AddStamp, Quantity: 2}}
	rounded := func(r Rounding) Rules { rules := DefaultRules(); rules.Rounding = r; return rules }
	half := ptr(0.5)
	tests := []struct {
		name    string
		rules   Rules
		card    apiclient.Card
		mech    Mechanics
		mode    string
		sum     *float64
		want    apiclient.Method
		wantQ   float64
		wantErr error
	}{
		// stamp
		{"stamp default", def, testCard(apiclient.Stamp, 1), "", "", nil, apiclient.AddStamp, 1, nil},
		{"stamp stamps", def, testCard(apiclient.Stamp, 1), MechStamps, "", nil, apiclient.AddStamp, 1, nil},
		{"stamp visits", def, testCard(apiclient.Stamp, 1), MechVisits, "", nil, apiclient.AddVisit, 1, nil},
		{"stamp spend", def, testCard(apiclient.Stamp, 1), MechSpend, "", sum, apiclient.AddPurchase, 12.5, nil},
		{"stamp spend without sum", def, testCard(apiclient.Stamp, 1), MechSpend, "", nil, "", 0, ErrNeedPurchaseSum},
		{"stamp points is wrong", def, testCard(apiclient.Stamp, 1), MechPoints, "", nil, "", 0, ErrMechanics},
		{"stamp redeem", def, testCard(apiclient.Stamp, 1), "", "redeem", nil, apiclient.SubtractReward, 1, nil},
		{"stamp redeem visits", def, testCard(apiclient.Stamp, 1), MechVisits, "redeem", nil, apiclient.SubtractReward, 1, nil},
		{"stamp template override", over, testCard(apiclient.Stamp, 42), "", "", nil, apiclient.AddStamp, 2, nil},
		{"stamp template override on visits", over, testCard(apiclient.Stamp, 42), MechVisits, "", nil, apiclient.AddVisit, 2, nil},
		// cashback
		{"cashback rounds down by default", def, testCard(apiclient.Cashback, 2), "", "", sum, apiclient.AddTransactionAmount, 12, nil},
		{"cashback rounding down", rounded(RoundDown), testCard(apiclient.Cashback, 2), "", "", sum, apiclient.AddTransactionAmount, 12, nil},
		{"cashback rounding nearest", rounded(RoundNearest), testCard(apiclient.Cashback, 2), "", "", sum, apiclient.AddTransactionAmount, 13, nil},
		{"cashback rounding refuse", rounded(RoundRefuse), testCard(apiclient.Cashback, 2), "", "", sum, "", 0, ErrWholeAmount},
		{"cashback whole sum with refuse", rounded(RoundRefuse), testCard(apiclient.Cashback, 2), "", "", five, apiclient.AddTransactionAmount, 5, nil},
		{"cashback under 1 rounded down", def, testCard(apiclient.Cashback, 2), "", "", half, "", 0, ErrWholeAmount},
		{"cashback without sum", def, testCard(apiclient.Cashback, 2), "", "", nil, "", 0, ErrNeedPurchaseSum},
		{"cashback redeem", def, testCard(apiclient.Cashback, 2), "", "redeem", five, apiclient.SubtractTransactionAmount, 5, nil},
		{"cashback redeem of a fraction", def, testCard(apiclient.Cashback, 2), "", "redeem", sum, "", 0, ErrWholeAmount},
		// multipass
		{"multipass", def, testCard(apiclient.Multipass, 3), "", "", nil, apiclient.SubtractVisit, 1, nil},
		{"multipass redeem", def, testCard(apiclient.Multipass, 3), "", "redeem", nil, apiclient.SubtractVisit, 1, nil},
		// coupon
		{"coupon", def, testCard(apiclient.Coupon, 4), "", "", nil, apiclient.RedeemCoupon, 0, nil},
		{"coupon redeem", def, testCard(apiclient.Coupon, 4), "", "redeem", sum, apiclient.RedeemCoupon, 0, nil},
		// discount
		{"discount", def, testCard(apiclient.Discount, 5), "", "", sum, apiclient.AddPoint, 12.5, nil},
		{"discount redeem falls back", def, testCard(apiclient.Discount, 5), "", "redeem", sum, apiclient.AddPoint, 12.5, nil},
		// gift
		{"gift", def, testCard(apiclient.Gift, 6), "", "", five, apiclient.SubtractPoint, 5, nil},
		{"gift redeem", def, testCard(apiclient.Gift, 6), "", "redeem", five, apiclient.SubtractPoint, 5, nil},
		{"gift without sum", def, testCard(apiclient.Gift, 6), "", "", nil, "", 0, ErrNeedPurchaseSum},
		// membership
		{"membership", def, testCard(apiclient.Membership, 8), "", "", nil, apiclient.AddVisit, 1, nil},
		{"membership limited", def, testCard(apiclient.Membership, 8), MechLimited, "", nil, apiclient.SubtractVisit, 1, nil},
		{"membership redeem falls back", def, testCard(apiclient.Membership, 8), "", "redeem", nil, apiclient.AddVisit, 1, nil},
		{"membership redeem limited", def, testCard(apiclient.Membership, 8), MechLimited, "redeem", nil, apiclient.SubtractVisit, 1, nil},
		{"membership spend is wrong", def, testCard(apiclient.Membership, 8), MechSpend, "", sum, "", 0, ErrMechanics},
		// reward
		{"reward default", def, rewardCard(120), "", "", nil, apiclient.AddScores, 1, nil},
		{"reward points", def, rewardCard(120), MechPoints, "", nil, apiclient.AddScores, 1, nil},
		{"reward visits", def, rewardCard(120), MechVisits, "", nil, apiclient.AddVisit, 1, nil},
		{"reward spend", def, rewardCard(120), MechSpend, "", sum, apiclient.AddPurchase, 12.5, nil},
		{"reward stamps is wrong", def, rewardCard(120), MechStamps, "", nil, "", 0, ErrMechanics},
		{"reward redeem best tier", def, rewardCard(120), "", "redeem", nil, apiclient.ReceiveReward, 11, nil},
		{"reward redeem richer", def, rewardCard(300), MechSpend, "redeem", nil, apiclient.ReceiveReward, 12, nil},
		{"reward redeem too poor", def, rewardCard(50), "", "redeem", nil, "", 0, ErrNoReward},
		// errors
		{"unknown mode", def, testCard(apiclient.Stamp, 1), "", "refund", nil, "", 0, ErrUnknownMode},
		{"no rule", Rules{}, testCard(apiclient.Stamp, 1), "", "", nil, "", 0, ErrNoRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.rules.Decide(tt.card, tt.mech, tt.mode, tt.sum)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Decide() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if a.Method != tt.want || a.Quantity != tt.wantQ {
				t.Errorf("Decide() = %s %v, want %s %v", a.Method, a.Quantity, tt.want, tt.wantQ)
			}
			if a.Card != tt.card.ID || a.PurchaseSum != tt.sum {
				t.Errorf("Decide() card, sum = %q, %v; want %q, %v", a.Card, a.PurchaseSum, tt.card.ID, tt.sum)
			}
		})
	}
}

func TestRules_Decide_ModeTemplateOverride(t *testing.T) {
	r := DefaultRules()
	r.Modes["redeem"] = ModeRules{
		ByType:     r.Modes["redeem"].ByType,
		ByTemplate: map[int]Rule{9: {Method: apiclient.ReceiveReward, RewardTier: 77}},
	}
	if _, err := r.Decide(rewardCard(0), "", "redeem", nil); !errors.Is(err, ErrNoReward) {
		t.Fatalf("Decide(template 7, 0 points) = %v; want ErrNoReward from the type rule", err)
	}
	c := rewardCard(0)
	c.TemplateID = 9
	a, err := r.Decide(c, "", "redeem", nil)
	if err != nil || a.Quantity != 77 {
		t.Fatalf("Decide(template 9) = %s %v, %v; want receive-reward 77", a.Method, a.Quantity, err)
	}
}

func TestRules_Validate(t *testing.T) {
	if err := DefaultRules().Validate(); err != nil {
		t.Fatalf("DefaultRules().Validate() = %v", err)
	}
	tests := []struct {
		name string
		edit func(r *Rules)
		want string
	}{
		{"method not for type", func(r *Rules) { r.ByType[apiclient.Stamp] = Rule{Method: apiclient.AddPoint, Quantity: 1} },
			"stamp: add-point is not an action for stamp cards"},
		{"zero quantity", func(r *Rules) { r.ByType[apiclient.Stamp] = Rule{Method: apiclient.AddStamp} }, "must be a positive number"},
		{"fraction of a stamp", func(r *Rules) { r.ByType[apiclient.Stamp] = Rule{Method: apiclient.AddStamp, Quantity: 1.5} },
			"must be a whole number"},
		{"unknown action", func(r *Rules) { r.ByType[apiclient.Stamp] = Rule{Method: "add-stamps", Quantity: 1} }, "unknown action"},
		{"upper case action", func(r *Rules) { r.ByType[apiclient.Stamp] = Rule{Method: "Add-Stamp", Quantity: 1} }, "lower case"},
		{"bad card type", func(r *Rules) { r.ByType[apiclient.CardType(9)] = Rule{Method: apiclient.AddStamp, Quantity: 1} },
			"not a card type"},
		{"template rule listed nowhere", func(r *Rules) { r.ByTemplate = map[int]Rule{5: {Method: apiclient.SubtractPurchase, Quantity: 1}} },
			"template 5: subtract-purchase is not listed"},
		{"bad tier", func(r *Rules) {
			r.Modes["redeem"].ByType[apiclient.Reward] = Rule{Method: apiclient.ReceiveReward, RewardTier: -1}
		},
			"mode redeem: reward: reward tier -1"},
		{"bad mode name", func(r *Rules) { r.Modes["two words"] = ModeRules{} }, "mode \"two words\""},
		{"empty mode name", func(r *Rules) { r.Modes[""] = ModeRules{} }, "mode \"\""},
		{"bad mechanics", func(r *Rules) { r.Mechanics = map[int]Mechanics{3: "weekly"} }, "template 3: unknown mechanics"},
		{"comment with newline", func(r *Rules) { r.Comment = "a\nb" }, "comment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := DefaultRules()
			tt.edit(&r)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("reports every problem", func(t *testing.T) {
		r := DefaultRules()
		r.ByType[apiclient.Stamp] = Rule{Method: apiclient.AddStamp}
		r.Mechanics = map[int]Mechanics{3: "weekly"}
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), "stamp:") || !strings.Contains(err.Error(), "template 3") {
			t.Fatalf("Validate() = %v, want both problems", err)
		}
	})
}

func TestParseMechanics(t *testing.T) {
	for in, want := range map[string]Mechanics{"stamps": MechStamps, " Visits ": MechVisits, "SPEND": MechSpend, "points": MechPoints, "limited": MechLimited} {
		if got, err := ParseMechanics(in); got != want || err != nil {
			t.Errorf("ParseMechanics(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMechanics("stamp"); err == nil {
		t.Error("ParseMechanics(stamp) = nil error, want one")
	}
	for _, m := range KnownMechanics() {
		if got, err := ParseMechanics(string(m)); got != m || err != nil {
			t.Errorf("ParseMechanics(%q) = %q, %v; every known mechanics must parse", m, got, err)
		}
	}
	if n := len(KnownMechanics()); n != 5 {
		t.Errorf("KnownMechanics() has %d, want 5 (stamps, points, visits, spend, limited)", n)
	}
}

func TestBalanceText(t *testing.T) {
	withBal := func(tp apiclient.CardType, f func(b *apiclient.Balance)) apiclient.Card {
		c := testCard(tp, 1)
		f(&c.Balance)
		return c
	}
	tests := []struct {
		card apiclient.Card
		want string
	}{
		{withBal(apiclient.Stamp, func(b *apiclient.Balance) { b.CurrentNumberOfUses, b.NumberStampsTotal = ptr(8.0), ptr(10.0) }), "stamp 8/10"},
		{withBal(apiclient.Reward, func(b *apiclient.Balance) { b.BonusBalance = ptr(130.0) }), "points 130"},
		{withBal(apiclient.Multipass, func(b *apiclient.Balance) { b.CurrentNumberOfUses = ptr(4.0) }), "visits left 4"},
		{apiclient.Card{Type: apiclient.Coupon, CouponRedeemed: true}, "coupon redeemed"},
		{withBal(apiclient.Cashback, func(b *apiclient.Balance) { b.Balance = ptr(13.1) }), "balance £13.10"},
		{withBal(apiclient.Gift, func(b *apiclient.Balance) { b.BonusBalance = ptr(45.0) }), "balance £45.00"},
		{withBal(apiclient.Discount, func(b *apiclient.Balance) { b.DiscountPercentage = ptr(5.0) }), "discount 5%"},
		{apiclient.Card{Type: apiclient.Membership, CountVisits: ptr(3)}, "visits 3"},
		{testCard(apiclient.Stamp, 1), ""},
	}
	for _, tt := range tests {
		if got := BalanceText(tt.card, "£"); got != tt.want {
			t.Errorf("BalanceText(%s) = %q, want %q", tt.card.Type, got, tt.want)
		}
	}
	c := withBal(apiclient.Stamp, func(b *apiclient.Balance) {
		b.CurrentNumberOfUses, b.NumberStampsTotal, b.StampsBeforeReward = ptr(8.0), ptr(10.0), ptr(2.0)
	})
	a := apiclient.Action{Card: "544256-439-856", Method: apiclient.AddStamp, Quantity: 1}
	if got, want := cashierLine(a, &c, "£"), "544256-439-856: 1 stamp added — 8/10, 2 to go"; got != want {
		t.Errorf("cashierLine() = %q, want %q", got, want)
	}
	// A rounded sum says what counted, never a silently different number.
	rounded := apiclient.Action{Card: "612001-100-201", Method: apiclient.AddTransactionAmount, Quantity: 12, PurchaseSum: ptr(12.5)}
	if got, want := cashierLine(rounded, nil, "£"), "612001-100-201: purchase of £12.50 added (12 counted)"; got != want {
		t.Errorf("cashierLine(rounded) = %q, want %q", got, want)
	}
}

func TestRule_String(t *testing.T) {
	tests := []struct {
		r    Rule
		want string
	}{
		{Rule{Method: apiclient.AddStamp, Quantity: 2}, "add-stamp 2"},
		{Rule{Method: apiclient.AddPoint, QuantityFromPurchase: true}, "add-point purchase sum"},
		{Rule{Method: apiclient.RedeemCoupon}, "redeem-coupon"},
		{Rule{Method: apiclient.ReceiveReward}, "receive-reward best tier"},
		{Rule{Method: apiclient.ReceiveReward, RewardTier: 901}, "receive-reward tier 901"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Rule%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestParseRounding(t *testing.T) {
	for in, want := range map[string]Rounding{"": RoundDown, "down": RoundDown, "nearest": RoundNearest, "refuse": RoundRefuse} {
		if got, err := ParseRounding(in); got != want || err != nil {
			t.Errorf("ParseRounding(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseRounding("up"); err == nil {
		t.Error(`ParseRounding("up") = nil error`)
	}
}
