package pos

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tillscan/tillscan/apiclient"
)

// Mechanics is how a template accrues, which decides the endpoint of an
// accrual: Stamp and Reward templates run on stamps, points, visits or spend;
// a Membership tier is unlimited (add-visit) or limited (subtract-visit).
// The API does not expose it: it comes from config, or is learned from the
// API's "Irrelevant accrual type" answer.
type Mechanics string

// The mechanics.
const (
	MechStamps  Mechanics = "stamps"  // add-stamp (Stamp cards)
	MechPoints  Mechanics = "points"  // add-scores (Reward cards)
	MechVisits  Mechanics = "visits"  // add-visit (Stamp, Reward and unlimited Membership cards)
	MechSpend   Mechanics = "spend"   // add-purchase with the purchase sum (Stamp and Reward cards)
	MechLimited Mechanics = "limited" // subtract-visit: a Membership tier with visit limits
)

// accrual maps, per card type, each mechanics to its accrual action. The
// order is the order tillscan probes them when it has to learn (as
// integrators do: the plain accrual first, then visits, then spend).
var accrual = map[apiclient.CardType][]struct {
	mech   Mechanics
	method apiclient.Method
}{
	apiclient.Stamp:      {{MechStamps, apiclient.AddStamp}, {MechVisits, apiclient.AddVisit}, {MechSpend, apiclient.AddPurchase}},
	apiclient.Reward:     {{MechPoints, apiclient.AddScores}, {MechVisits, apiclient.AddVisit}, {MechSpend, apiclient.AddPurchase}},
	apiclient.Membership: {{MechVisits, apiclient.AddVisit}, {MechLimited, apiclient.SubtractVisit}},
}

// ParseMechanics checks a mechanics name from config.
func ParseMechanics(s string) (Mechanics, error) {
	m := Mechanics(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(mechanics, m) {
		return m, nil
	}
	names := make([]string, len(mechanics))
	for i, m := range mechanics {
		names[i] = string(m)
	}
	return "", fmt.Errorf("pos: unknown mechanics %q (want one of %s)", s, strings.Join(names, ", "))
}

// mechanics lists every Mechanics, for ParseMechanics and KnownMechanics.
var mechanics = []Mechanics{MechStamps, MechPoints, MechVisits, MechSpend, MechLimited}

// KnownMechanics returns every Mechanics ParseMechanics accepts.
func KnownMechanics() []Mechanics { return slices.Clone(mechanics) }

// MechanicsCandidates lists the mechanics a card type can run on, in the
// order tillscan probes them. Nil for types whose actions do not depend on
// the template.
func MechanicsCandidates(t apiclient.CardType) []Mechanics {
	var out []Mechanics
	for _, a := range accrual[t] {
		out = append(out, a.mech)
	}
	return out
}

// accrualMethod returns the action of mech on cards of type t.
func accrualMethod(t apiclient.CardType, mech Mechanics) (apiclient.Method, bool) {
	for _, a := range accrual[t] {
		if a.mech == mech {
			return a.method, true
		}
	}
	return "", false
}

// mechanicsOf returns the mechanics an action stands for on cards of type
// t; ok is false if the action does not depend on mechanics.
func mechanicsOf(t apiclient.CardType, m apiclient.Method) (Mechanics, bool) {
	for _, a := range accrual[t] {
		if a.method == m {
			return a.mech, true
		}
	}
	return "", false
}

// withMechanics turns an accrual rule into the accrual m of mech.
func withMechanics(r Rule, m apiclient.Method, mech Mechanics) Rule {
	out := Rule{Method: m, Quantity: r.Quantity}
	switch {
	case mech == MechSpend:
		out.QuantityFromPurchase = true
	case r.QuantityFromPurchase || r.Quantity <= 0:
		out.Quantity = 1 // a spend rule on a counting template counts one
	}
	return out
}
