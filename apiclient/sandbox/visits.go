package sandbox

// Visits: add-visit and subtract-visit, and the per-day and per-period
// visit limits of Stamp, Reward and Membership cards.

import (
	"math"
	"net/http"
	"slices"
	"time"
)

// addVisit registers visits on a visits-mechanics Stamp (one stamp per
// visit) or Reward card (PointsPerVisit each), adds available visits to a
// Multipass, and registers visits on a Membership whose tier has no limits
// (limited memberships use subtract-visit: docs/api.md, "Card actions").
func addVisit(x *actx) (float64, *rejection) {
	b := &x.c.bal
	switch {
	case x.t.Type == typeMultipass:
		b.CurrentNumberOfUses += x.q
		return b.CurrentNumberOfUses, nil
	case x.t.Type == typeMembership:
		if limitedTier(tierByID(x.t, x.c.tierID)) {
			return 0, irrelevant()
		}
		x.registerVisits(int(x.q))
		return float64(x.c.countVisits), nil
	case (x.t.Type == typeStamp || x.t.Type == typeReward) && mechanics(x.t) == "visits":
		// The per-day limit is a template setting; days are UTC days here
		// (the real API presumably uses the company's time zone: UNKNOWN).
		if lim := x.t.VisitsPerDay; lim > 0 && x.visitsSince(periodStart(x.now, "day"))+int(x.q) > lim {
			return 0, visitTaken()
		}
		x.registerVisits(int(x.q))
		if x.t.Type == typeStamp {
			return x.addStamps(x.q), nil
		}
		b.BonusBalance += x.q * pointsPerVisit(x.t)
		return b.BonusBalance, nil
	}
	return 0, irrelevant()
}

// subtractVisit consumes available visits of a Multipass, or registers
// visits on a Membership whose tier has limits, refusing a visit beyond the
// limit of any active period.
func subtractVisit(x *actx) (float64, *rejection) {
	b := &x.c.bal
	switch x.t.Type {
	case typeMultipass:
		if rej := take(&b.CurrentNumberOfUses, x.q, "visits"); rej != nil {
			return 0, rej
		}
		x.registerVisits(int(x.q))
		return b.CurrentNumberOfUses, nil
	case typeMembership:
		tier := tierByID(x.t, x.c.tierID)
		if !limitedTier(tier) {
			return 0, irrelevant()
		}
		for _, p := range tierPeriods(tier) {
			if x.visitsSince(periodStart(x.now, p.period))+int(x.q) > *p.params.Limit {
				return 0, visitTaken()
			}
		}
		x.registerVisits(int(x.q))
		return x.a.membershipLeftLocked(x.c, x.t, x.now), nil
	}
	return 0, irrelevant()
}

func visitTaken() *rejection {
	return &rejection{http.StatusBadRequest, "visit has already been registered"}
}

func (x *actx) registerVisits(n int) {
	// Keep a year of visits: enough for every limit period.
	x.c.visits = slices.DeleteFunc(x.c.visits, func(v visit) bool { return x.now.Sub(v.at) >= 367*24*time.Hour })
	x.c.visits = append(x.c.visits, visit{at: x.now, n: n})
	x.c.countVisits += n
}

func (x *actx) visitsSince(start time.Time) int { return visitsSince(x.c, start) }

func visitsSince(c *cardState, start time.Time) int {
	n := 0
	for _, v := range c.visits {
		if !v.at.Before(start) {
			n += v.n
		}
	}
	return n
}

// periodStart is the start of the UTC day, ISO week, month or year of now.
func periodStart(now time.Time, period string) time.Time {
	now = now.UTC()
	y, m, d := now.Date()
	switch period {
	case "week":
		wd := (int(now.Weekday()) + 6) % 7 // Monday = 0
		return time.Date(y, m, d-wd, 0, 0, 0, 0, time.UTC)
	case "month":
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	case "year":
		return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

type tierPeriod struct {
	period string
	params *TierParameters
}

// tierPeriods lists the tier's active limits.
func tierPeriods(t *MembershipTier) []tierPeriod {
	if t == nil {
		return nil
	}
	var out []tierPeriod
	for _, p := range []tierPeriod{
		{"day", t.DailyParameters}, {"week", t.WeeklyParameters},
		{"month", t.MonthlyParameters}, {"year", t.YearlyParameters},
	} {
		if p.params != nil && p.params.Active && p.params.Limit != nil {
			out = append(out, p)
		}
	}
	return out
}

func limitedTier(t *MembershipTier) bool { return len(tierPeriods(t)) > 0 }

// membershipLeftLocked is the number of visits a limited membership card has
// left now: the smallest allowance over its active periods. The sandbox
// shows it as balance.currentNumberOfUses (INVENTED).
func (a *API) membershipLeftLocked(c *cardState, t *Template, now time.Time) float64 {
	left := math.Inf(1)
	for _, p := range tierPeriods(tierByID(t, c.tierID)) {
		left = math.Min(left, float64(max(0, *p.params.Limit-visitsSince(c, periodStart(now, p.period)))))
	}
	if math.IsInf(left, 1) {
		return 0
	}
	return left
}
