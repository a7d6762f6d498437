package sandbox

// GET, POST, PATCH and DELETE of /customers and /customers/{id}.

import (
	"cmp"
	"net/http"
	"slices"
	"time"
)

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
	a.replyFound(w, c, ok, "Customer not found")
}

// customerBody is the body of POST and PATCH /customers. The update schema
// has no phone (docs/api.md, "Endpoints"), so PATCH ignores it.
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
	out, _ := a.customer(id)
	a.replyFound(w, out, ok, "Customer not found")
}

// deleteCustomer serves DELETE /customers/{id}. The customer's cards stay
// (with a null customer); what the real API does with them is UNKNOWN.
func (a *API) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	deleteByID(a, w, r, a.customers, "Customer not found")
}
