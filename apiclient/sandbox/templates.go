package sandbox

// GET /templates and /templates/{id}, and the template lookups the card
// actions share.

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
)

// wireTemplate is t as the API sends it: without the sandbox-only settings.
func wireTemplate(t *Template) Template {
	out := Template{
		ID: t.ID, CompanyID: t.CompanyID, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		Name: t.Name, Type: t.Type, InstallLink: t.InstallLink, QRLink: t.QRLink,
		CustomFields:    slices.Clone(t.CustomFields),
		MembershipTiers: make([]MembershipTier, 0, len(t.MembershipTiers)),
		RewardTiers:     make([]RewardTier, 0, len(t.RewardTiers)),
	}
	if out.CustomFields == nil {
		out.CustomFields = []CustomField{}
	}
	for _, mt := range t.MembershipTiers {
		out.MembershipTiers = append(out.MembershipTiers, cloneMembershipTier(mt))
	}
	for _, rt := range t.RewardTiers {
		out.RewardTiers = append(out.RewardTiers, cloneRewardTier(rt))
	}
	return out
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request) {
	page, per, err := paging(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.mu.Lock()
	items := make([]Template, 0, len(a.templates))
	for _, t := range a.templates {
		items = append(items, wireTemplate(t))
	}
	a.mu.Unlock()
	slices.SortFunc(items, func(x, y Template) int { return cmp.Compare(x.ID, y.ID) })
	replyPageOf(a, w, items, page, per)
}

func (a *API) getTemplate(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	t, ok := a.templates[id]
	var out Template
	if ok && err == nil {
		out = wireTemplate(t)
	}
	a.mu.Unlock()
	a.replyFound(w, out, ok && err == nil, "Template not found")
}

func tierByID(t *Template, id int) *MembershipTier {
	for i := range t.MembershipTiers {
		if t.MembershipTiers[i].ID == id {
			return &t.MembershipTiers[i]
		}
	}
	return nil
}

func cloneRewardTier(rt RewardTier) RewardTier {
	if rt.ValueLimit != nil {
		rt.ValueLimit = ptr(*rt.ValueLimit)
	}
	if rt.UsageLimit != nil {
		rt.UsageLimit = ptr(*rt.UsageLimit)
	}
	return rt
}

func cloneMembershipTier(mt MembershipTier) MembershipTier {
	mt.Benefits = slices.Clone(mt.Benefits)
	if mt.Benefits == nil {
		mt.Benefits = []string{}
	}
	for _, p := range []**TierParameters{&mt.DailyParameters, &mt.WeeklyParameters, &mt.MonthlyParameters, &mt.YearlyParameters} {
		if *p != nil {
			c := **p
			if c.Limit != nil {
				c.Limit = ptr(*c.Limit)
			}
			if c.PerFilialLimit != nil {
				c.PerFilialLimit = ptr(*c.PerFilialLimit)
			}
			if c.Price != nil {
				c.Price = ptr(*c.Price)
			}
			*p = &c
		}
	}
	return mt
}
