package sandbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// cardState is a card as the sandbox stores it; render builds the wire Card.
type cardState struct {
	id             string
	templateID     int
	customerID     string
	status         string
	bal            Balance
	couponRedeemed bool
	expiresAt      *time.Time
	tierID         int    // membership tier, 0 for none
	period         string // membership subscription period, "" for none
	custom         map[int]string
	countVisits    int
	rewardsEarned  int
	rewardsRedeem  int
	lastStamp      *time.Time
	lastReward     *time.Time
	lastRedeem     *time.Time
	visits         []visit // registered visits of the last year, for the visit limits
	createdAt      time.Time
	updatedAt      time.Time
}

// visit is n visits registered at once.
type visit struct {
	at time.Time
	n  int
}

func (a *API) templateOfLocked(c *cardState) *Template { return a.templates[c.templateID] }

// renderLocked builds the wire form of c. full is false in list answers,
// whose counters are null (docs/api.md, "The card").
func (a *API) renderLocked(c *cardState, full bool) Card {
	t := a.templateOfLocked(c)
	link := "https://sandbox.highlightcards.invalid/c/" + c.id
	out := Card{
		ID:                   c.id,
		TemplateID:           c.templateID,
		CompanyID:            t.CompanyID,
		CustomerID:           c.customerID,
		Type:                 cardTypeNames[t.Type],
		Status:               c.status,
		Balance:              c.bal,
		AvailableRewardTiers: []RewardTier{},
		CustomFields:         []CardCustomField{},
		CouponRedeemed:       c.couponRedeemed,
		ExpiresAt:            fmtTimePtr(c.expiresAt),
		CreatedAt:            fmtTime(c.createdAt),
		UpdatedAt:            fmtTime(c.updatedAt),
		InstallLink:          link,
		ShareLink:            link + "/share",
		QRLink:               link + "/qr.png",
		DirectInstallLink: DirectInstallLink{
			Universal: link, Apple: link + "/apple", Google: link + "/google", PWA: link + "/pwa",
		},
	}
	if cu, ok := a.customers[c.customerID]; ok {
		cc := *cu
		cc.Segments = slices.Clone(cu.Segments)
		out.Customer = &cc
	}
	if t.Type == typeReward {
		// Tiers the card can afford now. Whether the API lists all tiers or
		// only affordable ones is UNKNOWN; affordable ones are more useful.
		for _, rt := range t.RewardTiers {
			if rt.Threshold <= c.bal.BonusBalance {
				out.AvailableRewardTiers = append(out.AvailableRewardTiers, cloneRewardTier(rt))
			}
		}
	}
	if t.Type == typeMembership && limitedTier(tierByID(t, c.tierID)) {
		out.Balance.CurrentNumberOfUses = a.membershipLeftLocked(c, t, a.now())
	}
	if mt := tierByID(t, c.tierID); mt != nil {
		m := cloneMembershipTier(*mt)
		out.MembershipTier = &m
		if c.period != "" {
			out.CustomerSubscription = &CustomerSubscription{
				ID: 1, CustomerID: c.customerID, TemplateID: c.templateID, Period: c.period, Status: 1,
				MembershipTierID: c.tierID, CreatedAt: c.createdAt.Unix(), UpdatedAt: c.updatedAt.Unix(),
			}
		}
	}
	for _, f := range t.CustomFields {
		out.CustomFields = append(out.CustomFields, CardCustomField{
			ID: f.ID, Name: f.Name, Type: f.Type, Order: f.Order, Value: c.custom[f.ID], Required: f.Required, Unique: f.Unique,
		})
	}
	if full {
		out.CountVisits = ptr(c.countVisits)
		out.TotalRewardsEarned = ptr(c.rewardsEarned)
		out.TotalRewardsRedeemed = ptr(c.rewardsRedeem)
		out.TotalStampsEarnedByReferral = ptr(0)
		out.TotalPointsEarnedByReferral = ptr(0)
		out.LastStampEarnedAt = fmtTimePtr(c.lastStamp)
		out.LastRewardEarnedAt = fmtTimePtr(c.lastReward)
		out.LastRewardRedeemedAt = fmtTimePtr(c.lastRedeem)
	}
	return out
}

// Card returns the card with the given number as GET /cards/{id} shows it.
func (a *API) Card(number string) (Card, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.cards[number]
	if !ok {
		return Card{}, false
	}
	return a.renderLocked(c, true), true
}

// Cards returns every card, sorted by number.
func (a *API) Cards() []Card {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Card, 0, len(a.cards))
	for _, c := range a.sortedCardsLocked() {
		out = append(out, a.renderLocked(c, true))
	}
	return out
}

func (a *API) sortedCardsLocked() []*cardState {
	cs := make([]*cardState, 0, len(a.cards))
	for _, c := range a.cards {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(x, y *cardState) int { return cmp.Compare(x.id, y.id) })
	return cs
}

// listCards serves GET /cards: filters templateId, customerId,
// customerPhone, customerEmail; sorted by number (the real order is UNKNOWN).
func (a *API) listCards(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, per, tid, err := listParams(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.mu.Lock()
	var items []Card
	for _, c := range a.sortedCardsLocked() {
		cu := a.customers[c.customerID]
		switch {
		case tid != 0 && c.templateID != tid,
			q.Get("customerId") != "" && c.customerID != q.Get("customerId"),
			q.Get("customerPhone") != "" && (cu == nil || cu.Phone != q.Get("customerPhone")),
			q.Get("customerEmail") != "" && (cu == nil || cu.Email != q.Get("customerEmail")):
			continue
		}
		items = append(items, a.renderLocked(c, false))
	}
	a.mu.Unlock()
	replyPageOf(a, w, items, page, per)
}

func (a *API) getCard(w http.ResponseWriter, r *http.Request) {
	c, ok := a.Card(r.PathValue("id"))
	a.replyFound(w, c, ok, "Card not found")
}

type cardCustomFieldValue struct {
	ID    int    `json:"id"`
	Value string `json:"value"`
}

// createCard serves POST /cards {customerId, templateId, customFields}.
func (a *API) createCard(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CustomerID   *string                `json:"customerId"`
		TemplateID   *int                   `json:"templateId"`
		CustomFields []cardCustomFieldValue `json:"customFields"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.CustomerID == nil || *body.CustomerID == "" || body.TemplateID == nil {
		writeError(w, http.StatusUnprocessableEntity, "customerId and templateId are required")
		return
	}
	out, rej := a.addCard(*body.CustomerID, *body.TemplateID, body.CustomFields)
	if rej != nil {
		writeError(w, rej.status, rej.msg)
		return
	}
	a.reply(w, out, nil)
}

// addCard issues a new card of a template to a customer.
func (a *API) addCard(customerID string, templateID int, fields []cardCustomFieldValue) (Card, *rejection) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.templates[templateID]
	if !ok {
		return Card{}, &rejection{http.StatusNotFound, "Template not found"}
	}
	if _, ok := a.customers[customerID]; !ok {
		return Card{}, &rejection{http.StatusNotFound, "Customer not found"}
	}
	c := &cardState{
		id: a.newCardNumberLocked(), templateID: t.ID, customerID: customerID,
		status: "not_installed", custom: map[int]string{}, createdAt: now, updatedAt: now,
	}
	initBalance(c, t)
	if msg := setCustomFields(c, t, fields); msg != "" {
		return Card{}, &rejection{http.StatusUnprocessableEntity, msg}
	}
	a.cards[c.id] = c
	return a.renderLocked(c, true), nil
}

// patchCard serves PATCH /cards/{id}: only customFields can change;
// balances and status cannot be edited this way (docs/api.md), so other
// fields are ignored.
func (a *API) patchCard(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CustomFields []cardCustomFieldValue `json:"customFields"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	a.mu.Lock()
	c, ok := a.cards[r.PathValue("id")]
	if !ok {
		a.mu.Unlock()
		writeError(w, http.StatusNotFound, "Card not found")
		return
	}
	if msg := setCustomFields(c, a.templateOfLocked(c), body.CustomFields); msg != "" {
		a.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	c.updatedAt = a.now()
	out := a.renderLocked(c, true)
	a.mu.Unlock()
	a.reply(w, out, nil)
}

func setCustomFields(c *cardState, t *Template, vals []cardCustomFieldValue) string {
	for _, v := range vals {
		if !slices.ContainsFunc(t.CustomFields, func(f CustomField) bool { return f.ID == v.ID }) {
			return fmt.Sprintf("custom field %d does not belong to template %d", v.ID, t.ID)
		}
	}
	for _, v := range vals {
		c.custom[v.ID] = v.Value
	}
	return ""
}

// deleteCard serves DELETE /cards/{id}; data is {id}.
func (a *API) deleteCard(w http.ResponseWriter, r *http.Request) {
	deleteByID(a, w, r, a.cards, "Card not found")
}

// newCardNumberLocked draws an unused serial in the API's NNNNNN-NNN-NNN form.
func (a *API) newCardNumberLocked() string {
	for {
		n := fmt.Sprintf("%06d-%03d-%03d", 100000+a.rng.IntN(900000), a.rng.IntN(1000), a.rng.IntN(1000))
		if _, taken := a.cards[n]; !taken {
			return n
		}
	}
}

// initBalance sets the derived parts of a new or seeded card's balance.
func initBalance(c *cardState, t *Template) {
	if t.Type == typeStamp {
		per := float64(stampsPerReward(t))
		c.bal.NumberStampsTotal = per
		c.bal.StampsBeforeReward = per - c.bal.CurrentNumberOfUses
	}
	if t.Type == typeMembership && c.tierID == 0 && len(t.MembershipTiers) > 0 {
		c.tierID = t.MembershipTiers[0].ID
	}
}

// decodeBody decodes a JSON object body (empty means {}), answering 413 if
// it is too large and 400 if it is not JSON or a field has the wrong type.
// It reports whether the caller should go on.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, ok := readBody(w, r)
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// readBody reads at most maxBody bytes; an empty body reads as "{}".
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	buf, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBody))
		return nil, false
	} else if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read request body: "+err.Error())
		return nil, false
	}
	buf = bytes.TrimSpace(buf)
	if len(buf) == 0 {
		return []byte("{}"), true
	}
	if buf[0] != '{' {
		writeError(w, http.StatusBadRequest, "Invalid JSON body: want an object")
		return nil, false
	}
	return buf, true
}
