package sandbox

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// --- customers -------------------------------------------------------------

func (a *API) sortedCustomersLocked() []Customer {
	out := make([]Customer, 0, len(a.customers))
	for _, c := range a.customers {
		cc := *c
		cc.Segments = slices.Clone(c.Segments)
		out = append(out, cc)
	}
	// By creation, then id (UUIDv7 ids sort by time anyway).
	slices.SortFunc(out, func(x, y Customer) int {
		return cmp.Or(cmp.Compare(x.CreatedAt, y.CreatedAt), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// listCustomers serves GET /customers with the filters email and phone.
func (a *API) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, per, err := paging(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.mu.Lock()
	all := a.sortedCustomersLocked()
	a.mu.Unlock()
	items := slices.DeleteFunc(all, func(c Customer) bool {
		return (q.Get("email") != "" && c.Email != q.Get("email")) ||
			(q.Get("phone") != "" && c.Phone != q.Get("phone"))
	})
	replyPageOf(a, w, items, page, per)
}

func (a *API) customer(id string) (Customer, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.customers[id]
	if !ok {
		return Customer{}, false
	}
	cc := *c
	cc.Segments = slices.Clone(c.Segments)
	return cc, true
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, ok := a.customer(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "Customer not found")
		return
	}
	a.reply(w, c, nil)
}

// customerBody is the body of POST and PATCH /customers. The update schema
// has no phone (notes/api.md §2), so PATCH ignores it.
type customerBody struct {
	ID             *string `json:"id"`
	FirstName      *string `json:"firstName"`
	Surname        *string `json:"surname"`
	Email          *string `json:"email"`
	Phone          *string `json:"phone"`
	DateOfBirth    *string `json:"dateOfBirth"`
	Gender         *int    `json:"gender"`
	ExternalUserID *string `json:"externalUserId"`
}

func (b customerBody) check() string {
	if b.Gender != nil && (*b.Gender < 0 || *b.Gender > 2) {
		return "gender: want 0 (unknown), 1 (male) or 2 (female)"
	}
	if b.DateOfBirth != nil && *b.DateOfBirth != "" {
		if _, err := time.Parse(dayFormat, *b.DateOfBirth); err != nil {
			return "dateOfBirth: want Y-m-d"
		}
	}
	return ""
}

func (b customerBody) applyTo(c *Customer, withPhone bool) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.FirstName, b.FirstName)
	set(&c.Surname, b.Surname)
	set(&c.Email, b.Email)
	set(&c.DateOfBirth, b.DateOfBirth)
	set(&c.ExternalUserID, b.ExternalUserID)
	if withPhone {
		set(&c.Phone, b.Phone)
	}
	if b.Gender != nil {
		c.Gender = *b.Gender
	}
}

// createCustomer serves POST /customers; firstName is required.
func (a *API) createCustomer(w http.ResponseWriter, r *http.Request) {
	var body customerBody
	if !decodeBody(w, r, &body) {
		return
	}
	if body.FirstName == nil || *body.FirstName == "" {
		writeError(w, http.StatusUnprocessableEntity, "firstName: this value should not be blank")
		return
	}
	if msg := body.check(); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	now := a.now()
	a.mu.Lock()
	c := &Customer{ID: a.uuidLocked(now), Segments: []Segment{}, CreatedAt: fmtTime(now), UpdatedAt: fmtTime(now)}
	body.applyTo(c, true)
	a.customers[c.ID] = c
	a.mu.Unlock()
	out, _ := a.customer(c.ID)
	a.reply(w, out, nil)
}

// patchCustomer serves PATCH /customers/{id}; the body must carry the same id.
func (a *API) patchCustomer(w http.ResponseWriter, r *http.Request) {
	var body customerBody
	if !decodeBody(w, r, &body) {
		return
	}
	id := r.PathValue("id")
	if body.ID == nil || *body.ID != id {
		writeError(w, http.StatusUnprocessableEntity, "id: the body must carry the customer's id")
		return
	}
	if msg := body.check(); msg != "" {
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	a.mu.Lock()
	c, ok := a.customers[id]
	if ok {
		body.applyTo(c, false)
		c.UpdatedAt = fmtTime(a.now())
	}
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Customer not found")
		return
	}
	out, _ := a.customer(id)
	a.reply(w, out, nil)
}

// deleteCustomer serves DELETE /customers/{id}. The customer's cards stay
// (with a null customer); what the real API does with them is UNKNOWN.
func (a *API) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	_, ok := a.customers[id]
	delete(a.customers, id)
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Customer not found")
		return
	}
	a.reply(w, map[string]string{"id": id}, nil)
}

// --- templates -------------------------------------------------------------

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
	if !ok || err != nil {
		writeError(w, http.StatusNotFound, "Template not found")
		return
	}
	a.reply(w, out, nil)
}

// --- pushes ----------------------------------------------------------------

func (a *API) listPushes(w http.ResponseWriter, r *http.Request) {
	page, per, err := paging(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.mu.Lock()
	items := slices.Clone(a.pushes)
	a.mu.Unlock()
	replyPageOf(a, w, items, page, per)
}

func (a *API) getPush(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	a.mu.Lock()
	i := slices.IndexFunc(a.pushes, func(p Push) bool { return p.ID == id })
	var out Push
	if i >= 0 && err == nil {
		out = a.pushes[i]
	}
	a.mu.Unlock()
	if i < 0 || err != nil {
		writeError(w, http.StatusNotFound, "Push not found")
		return
	}
	a.reply(w, out, nil)
}

// createPush serves POST /pushes {message, templateId, cardId?, scheduledAt?}.
// Nothing is delivered; the push is stored as "sent" or, with a future
// scheduledAt, "scheduled".
func (a *API) createPush(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Message     *string `json:"message"`
		TemplateID  *int    `json:"templateId"`
		CardID      *string `json:"cardId"`
		ScheduledAt *string `json:"scheduledAt"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Message == nil || *body.Message == "" || body.TemplateID == nil {
		writeError(w, http.StatusUnprocessableEntity, "message and templateId are required")
		return
	}
	now := a.now()
	status := "sent"
	if body.ScheduledAt != nil {
		at, err := time.Parse(time.RFC3339, *body.ScheduledAt)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "scheduledAt: want a date-time such as 2026-12-01T10:00:00+00:00")
			return
		}
		if at.After(now) {
			status = "scheduled"
		}
	}
	a.mu.Lock()
	rej := a.pushTargetLocked(*body.TemplateID, body.CardID)
	var p Push
	if rej == nil {
		recipients := 0
		for _, c := range a.cards {
			if c.templateID == *body.TemplateID && (body.CardID == nil || c.id == *body.CardID) {
				recipients++
			}
		}
		p = Push{ID: a.nextPushID, Message: *body.Message, TemplateID: *body.TemplateID, CardID: body.CardID,
			ScheduledAt: body.ScheduledAt, Status: status, Recipients: recipients, CreatedAt: fmtTime(now)}
		a.nextPushID++
		a.pushes = append(a.pushes, p)
	}
	a.mu.Unlock()
	if rej != nil {
		writeError(w, rej.status, rej.msg)
		return
	}
	a.reply(w, p, nil)
}

func (a *API) pushTargetLocked(templateID int, cardID *string) *rejection {
	if _, ok := a.templates[templateID]; !ok {
		return &rejection{http.StatusNotFound, "Template not found"}
	}
	if cardID != nil {
		c, ok := a.cards[*cardID]
		if !ok {
			return &rejection{http.StatusNotFound, "Card not found"}
		}
		if c.templateID != templateID {
			return &rejection{http.StatusUnprocessableEntity, fmt.Sprintf("card %s does not belong to template %d", c.id, templateID)}
		}
	}
	return nil
}

// --- small helpers ---------------------------------------------------------

func ptr[T any](v T) *T { return &v }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// fmtTime formats t as the API does (PHP "Y-m-d\TH:i:sP", UTC "+00:00").
func fmtTime(t time.Time) string { return t.UTC().Format(phpTime) }

func fmtTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	return ptr(fmtTime(*t))
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
