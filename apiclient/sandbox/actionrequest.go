package sandbox

// The HTTP side of POST /cards/{id}/{action}: decoding and checking the
// body, applying the action (effects.go) and logging the operation; also
// set-expiration-date and set-membership-tier.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"
)

// actionBody is a decoded action body.
type actionBody struct {
	q           float64
	comment     *string
	purchaseSum *float64
}

// maxQuantity bounds an action's quantity so that counters cannot overflow
// and balances stay finite (INVENTED: the spec declares no maximum).
const maxQuantity = 1_000_000_000

// parseActionBody checks an action body against the API's schema: the
// quantity is required and of its JSON type; comment and purchaseSum are
// optional and nullable. Zero and negative quantities are refused with 422
// (INVENTED: the notes say this is UNKNOWN). Unknown fields are ignored.
func parseActionBody(ac action, fields map[string]json.RawMessage) (actionBody, *rejection) {
	var out actionBody
	if raw, ok := fields["comment"]; ok && !isNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return out, invalid("comment must be a string")
		}
		out.comment = &s
	}
	if raw, ok := fields["purchaseSum"]; ok && !isNull(raw) {
		f, rej := number(raw, "purchaseSum", qNumber)
		if rej != nil {
			return out, rej
		}
		out.purchaseSum = &f
	}
	if ac.kind == qNone {
		return out, nil
	}
	raw, ok := fields[ac.field]
	if !ok || isNull(raw) {
		return out, invalid("%s: this value should not be null", ac.field)
	}
	q, rej := number(raw, ac.field, ac.kind)
	if rej != nil {
		return out, rej
	}
	if q <= 0 {
		return out, invalid("%s: this value should be positive", ac.field)
	}
	if q > maxQuantity {
		return out, invalid("%s: this value should be at most %d", ac.field, maxQuantity)
	}
	out.q = q
	return out, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// number decodes a JSON number, refusing strings, booleans and (for
// integer fields) fractions such as 1.5.
func number(raw json.RawMessage, field string, kind quantity) (float64, *rejection) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return 0, invalid("%s: this value should be a number", field)
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, invalid("%s: this value should be of type %s", field, kindName(kind))
	}
	if kind == qInteger {
		i, err := n.Int64()
		if err != nil {
			return 0, invalid("%s: this value should be of type integer", field)
		}
		return float64(i), nil
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) {
		return 0, invalid("%s: this value should be a finite number", field)
	}
	return f, nil
}

func kindName(k quantity) string {
	if k == qInteger {
		return "integer"
	}
	return "number"
}

// cardAction serves POST /cards/{id}/{action}.
func (a *API) cardAction(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("action"), r.PathValue("id")
	switch name {
	case "set-expiration-date":
		a.setExpirationDate(w, r)
		return
	case "set-membership-tier":
		a.setMembershipTier(w, r)
		return
	}
	ac, ok := actions[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No route found for \"POST %s\"", r.URL.Path))
		return
	}
	fields, ok := decodeFields(w, r)
	if !ok {
		return
	}
	body, rej := parseActionBody(ac, fields)
	now := a.now()
	a.mu.Lock()
	c, found := a.cards[id]
	switch {
	case !found:
		rej = &rejection{http.StatusNotFound, "Card not found"}
	case rej == nil:
		x := &actx{a: a, c: c, t: a.templateOfLocked(c), q: body.q, now: now}
		var bal float64
		if bal, rej = ac.apply(x); rej == nil {
			c.updatedAt = now
			a.logLocked(c, ac.event, ac.sign*x.q, bal, body, now)
		}
	}
	if rej != nil {
		a.mu.Unlock()
		writeError(w, rej.status, rej.msg)
		return
	}
	after := a.afterApplyLocked()
	out := a.renderLocked(c, true)
	a.mu.Unlock()
	switch after {
	case -1:
		a.reply(w, out, nil)
	case 0:
		drop(w)
	default:
		writeFault(w, after)
	}
}

// decodeFields reads an action body as a JSON object of raw fields.
func decodeFields(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	var fields map[string]json.RawMessage
	return fields, decodeBody(w, r, &fields)
}

// setExpirationDate serves set-expiration-date {"expiresAt": "Y-m-dTH:i:sP"}
// for any card; null or absent clears it. It is not an operation (no
// comment field, no balance change), so it is not logged.
func (a *API) setExpirationDate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ExpiresAt *string `json:"expiresAt"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	var at *time.Time
	if body.ExpiresAt != nil {
		t, err := time.Parse(phpTime, *body.ExpiresAt)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "expiresAt: want Y-m-dTH:i:sP, e.g. 2027-01-31T23:59:59+00:00")
			return
		}
		at = &t
	}
	a.mutateCard(w, r.PathValue("id"), func(c *cardState, _ *Template) *rejection {
		c.expiresAt = at
		return nil
	})
}

// setMembershipTier serves set-membership-tier {"period", "tierId"} for a
// Membership card; it is not logged (see setExpirationDate).
func (a *API) setMembershipTier(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Period *string `json:"period"`
		TierID *int    `json:"tierId"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Period == nil || body.TierID == nil {
		writeError(w, http.StatusUnprocessableEntity, "period and tierId are required")
		return
	}
	switch *body.Period {
	case "day", "week", "month", "year":
	default:
		writeError(w, http.StatusUnprocessableEntity, "period: want day, week, month or year")
		return
	}
	a.mutateCard(w, r.PathValue("id"), func(c *cardState, t *Template) *rejection {
		if t.Type != typeMembership {
			return &rejection{http.StatusBadRequest, "card is not a membership card"}
		}
		if tierByID(t, *body.TierID) == nil {
			return &rejection{http.StatusBadRequest, fmt.Sprintf("membership tier %d not found", *body.TierID)}
		}
		c.tierID, c.period = *body.TierID, *body.Period
		return nil
	})
}

// mutateCard applies f to a card under the lock and answers the card.
func (a *API) mutateCard(w http.ResponseWriter, id string, f func(*cardState, *Template) *rejection) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cards[id]
	rej := &rejection{http.StatusNotFound, "Card not found"}
	if ok {
		rej = f(c, a.templateOfLocked(c))
	}
	if rej != nil {
		a.mu.Unlock()
		writeError(w, rej.status, rej.msg)
		return
	}
	c.updatedAt = now
	out := a.renderLocked(c, true)
	a.mu.Unlock()
	a.reply(w, out, nil)
}
