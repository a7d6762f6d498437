package sandbox

// Demo card numbers (sandbox-api.md); the README and `tillscan demo` refer
// to them.
const (
	DemoStampCard        = "544256-439-856" // stamp, stamps mechanics, 10 per reward, at 7/10
	DemoStampVisitsCard  = "544256-439-857" // stamp, visits mechanics, 1 visit/day, at 2/8
	DemoCashbackCard     = "612001-100-201" // cashback 5 %: balance 12.50, 40 points
	DemoMultipassCard    = "612001-100-202" // multipass: 5 visits available
	DemoCouponCard       = "612001-100-203" // coupon, not redeemed
	DemoDiscountCard     = "612001-100-204" // discount 5 %
	DemoGiftCard         = "612001-100-205" // gift certificate: 50 points
	DemoMembershipCard   = "612001-100-206" // membership, tier with a daily limit of 1 visit
	DemoRewardPointsCard = "612001-100-207" // reward, points mechanics, tiers at 100 and 250: 120 points
	DemoRewardSpendCard  = "612001-100-208" // reward, spend mechanics: 30 points
	DemoCompanyID        = 4211
	demoCreated          = "2026-09-01T09:00:00+00:00"

	// Tier ids of the demo templates, for receive-reward and
	// set-membership-tier.
	DemoMembershipTierStandard  = 801 // 1 visit a day (the demo membership card's tier)
	DemoMembershipTierUnlimited = 802 // no limits
	DemoRewardTierCoffee        = 901 // 100 points, on DemoRewardPointsCard's template
	DemoRewardTierVoucher       = 902 // 250 points
)

// DemoSeed returns the built-in demo data set: a card of every type (two
// stamp and two reward cards, for the mechanics), their templates and
// customers. Each call returns a fresh copy.
func DemoSeed() *Seed {
	tpl := func(id, typ int, name string) Template {
		return Template{ID: id, CompanyID: DemoCompanyID, Name: name, Type: typ, CreatedAt: demoCreated, UpdatedAt: demoCreated}
	}
	stamp := tpl(1, typeStamp, "Daily Grind Coffee Card")
	stamp.Mechanics, stamp.StampsPerReward = "stamps", 10
	visits := tpl(2, typeStamp, "Crumb & Co Bakery Visits")
	visits.Mechanics, visits.StampsPerReward, visits.VisitsPerDay = "visits", 8, 1
	cashback := tpl(3, typeCashback, "Green Basket Cashback")
	cashback.CashbackPercent = 5
	multipass := tpl(4, typeMultipass, "FitHub 10-Visit Pass")
	coupon := tpl(5, typeCoupon, "Welcome 10% Off Coupon")
	discount := tpl(6, typeDiscount, "Loyal Friends Discount")
	gift := tpl(7, typeGift, "Harbour Books Gift Certificate")
	membership := tpl(8, typeMembership, "Studio 9 Yoga Membership")
	membership.MembershipTiers = []MembershipTier{
		{ID: DemoMembershipTierStandard, Name: "Standard", Description: "One class a day", Benefits: []string{"1 class per day", "Mat hire"},
			DailyParameters: &TierParameters{Active: true, Limit: ptr(1), Price: ptr(39.0), Recommended: true}},
		{ID: DemoMembershipTierUnlimited, Name: "Unlimited", Description: "As many classes as you like", Benefits: []string{"Unlimited classes"},
			MonthlyParameters: &TierParameters{Active: false, Price: ptr(69.0)}},
	}
	rewardPoints := tpl(9, typeReward, "Harbour Books Rewards")
	rewardPoints.Mechanics = "points"
	rewardPoints.RewardTiers = []RewardTier{
		{ID: DemoRewardTierCoffee, Type: 0, Name: "Free coffee", Threshold: 100, Value: 0},
		{ID: DemoRewardTierVoucher, Type: 1, Name: "£5 off your next book", Threshold: 250, Value: 5},
	}
	rewardSpend := tpl(10, typeReward, "Corner Deli Spend & Earn")
	rewardSpend.Mechanics, rewardSpend.PointsPerUnit = "spend", 1
	rewardSpend.RewardTiers = []RewardTier{
		{ID: 1001, Type: 0, Name: "Free sandwich", Threshold: 50, Value: 0},
		{ID: 1002, Type: 2, Name: "10% off", Threshold: 150, Value: 10},
	}

	cust := func(id, first, surname, email, phone string, gender int) Customer {
		return Customer{ID: id, FirstName: first, Surname: surname, Email: email, Phone: phone, Gender: gender,
			Segments: []Segment{}, CreatedAt: demoCreated, UpdatedAt: demoCreated}
	}
	customers := []Customer{
		cust("0199a0e0-1c2b-7a01-8b3c-4d5e6f708101", "Amelia", "Hughes", "amelia.hughes@example.co.uk", "+447700900101", 2),
		cust("0199a0e0-1c2b-7a02-8b3c-4d5e6f708102", "Oliver", "Patel", "oliver.patel@example.co.uk", "+447700900102", 1),
		cust("0199a0e0-1c2b-7a03-8b3c-4d5e6f708103", "Isla", "MacLeod", "isla.macleod@example.co.uk", "+447700900103", 2),
		cust("0199a0e0-1c2b-7a04-8b3c-4d5e6f708104", "Noah", "Evans", "noah.evans@example.co.uk", "+447700900104", 1),
		cust("0199a0e0-1c2b-7a05-8b3c-4d5e6f708105", "Priya", "Sharma", "priya.sharma@example.co.uk", "+447700900105", 2),
		cust("0199a0e0-1c2b-7a06-8b3c-4d5e6f708106", "George", "O'Brien", "george.obrien@example.co.uk", "+447700900106", 0),
	}
	card := func(id string, tid int, customer string, b Balance) Card {
		return Card{ID: id, TemplateID: tid, CustomerID: customers[customer[0]-'a'].ID, Status: "installed", Balance: b, CreatedAt: demoCreated}
	}
	cards := []Card{
		card(DemoStampCard, 1, "a", Balance{CurrentNumberOfUses: 7, NumberRewardsUnused: 0}),
		card(DemoStampVisitsCard, 2, "b", Balance{CurrentNumberOfUses: 2}),
		card(DemoCashbackCard, 3, "c", Balance{Balance: 12.50, BonusBalance: 40}),
		card(DemoMultipassCard, 4, "d", Balance{CurrentNumberOfUses: 5}),
		card(DemoCouponCard, 5, "e", Balance{}),
		card(DemoDiscountCard, 6, "f", Balance{DiscountPercentage: 5}),
		card(DemoGiftCard, 7, "a", Balance{BonusBalance: 50}),
		card(DemoMembershipCard, 8, "b", Balance{}),
		card(DemoRewardPointsCard, 9, "c", Balance{BonusBalance: 120}),
		card(DemoRewardSpendCard, 10, "d", Balance{BonusBalance: 30}),
	}
	cards[7].MembershipTier = &MembershipTier{ID: DemoMembershipTierStandard}
	cards[7].CustomerSubscription = &CustomerSubscription{Period: "month"}
	return &Seed{
		Templates: []Template{stamp, visits, cashback, multipass, coupon, discount, gift, membership, rewardPoints, rewardSpend},
		Customers: customers,
		Cards:     cards,
	}
}
