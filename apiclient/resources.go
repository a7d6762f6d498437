package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// PageQuery selects one page of a list. Pages are 1-based; zero fields are
// not sent (the server's defaults apply).
type PageQuery struct {
	Page         int
	ItemsPerPage int
}

func pageValues(page, perPage int) url.Values {
	v := url.Values{}
	setInt(v, "page", page)
	setInt(v, "itemsPerPage", perPage)
	return v
}

func setInt(v url.Values, k string, n int) {
	if n != 0 {
		v.Set(k, strconv.Itoa(n))
	}
}

func setStr(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// plausibleID accepts the uuids and numeric ids the API uses in paths.
var plausibleID = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$`)

func validID(what, id string) error {
	if !plausibleID.MatchString(id) {
		return fmt.Errorf("apiclient: %q is not a %s id: %w", id, what, ErrRejected)
	}
	return nil
}

// ListCustomers returns one page of GET /customers, optionally filtered by
// email or phone.
func (c *Client) ListCustomers(ctx context.Context, q CustomersQuery) ([]Customer, Meta, error) {
	v := pageValues(q.Page, q.ItemsPerPage)
	setStr(v, "email", q.Email)
	setStr(v, "phone", q.Phone)
	var out []Customer
	var meta Meta
	if err := c.do(ctx, &call{op: "list customers", method: http.MethodGet, path: "/customers", query: v, out: &out, meta: &meta}); err != nil {
		return nil, Meta{}, err
	}
	return out, meta, nil
}

// CustomersQuery filters GET /customers. Zero fields are not sent.
type CustomersQuery struct {
	Page         int
	ItemsPerPage int
	Email        string
	Phone        string
}

// GetCustomer returns one customer (GET /customers/{id}).
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	if err := validID("customer", id); err != nil {
		return nil, err
	}
	var out Customer
	if err := c.do(ctx, &call{op: "get customer " + id, method: http.MethodGet, path: "/customers/" + url.PathEscape(id), out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateCustomer creates a customer (POST /customers); FirstName is
// required, ID and the timestamps are ignored.
func (c *Client) CreateCustomer(ctx context.Context, cu Customer) (*Customer, error) {
	if cu.FirstName == "" {
		return nil, fmt.Errorf("apiclient: create customer: first name is required: %w", ErrRejected)
	}
	body := cu
	body.ID, body.CreatedAt, body.UpdatedAt = "", "", ""
	var out Customer
	if err := c.do(ctx, &call{op: "create customer", method: http.MethodPost, path: "/customers", body: body, out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// customerUpdate is the body of PATCH /customers/{id}: the API's update
// schema repeats the id and has no phone (notes/api.md §2), so Phone is not
// sent.
type customerUpdate struct {
	ID             string `json:"id"`
	FirstName      string `json:"firstName,omitempty"`
	Surname        string `json:"surname,omitempty"`
	Email          string `json:"email,omitempty"`
	Gender         int    `json:"gender,omitempty"`
	DateOfBirth    string `json:"dateOfBirth,omitempty"`
	ExternalUserID string `json:"externalUserId,omitempty"`
}

// UpdateCustomer changes the non-empty fields of customer cu.ID
// (PATCH /customers/{id}). The API cannot change a phone number this way.
func (c *Client) UpdateCustomer(ctx context.Context, cu Customer) (*Customer, error) {
	if err := validID("customer", cu.ID); err != nil {
		return nil, err
	}
	body := customerUpdate{ID: cu.ID, FirstName: cu.FirstName, Surname: cu.Surname, Email: cu.Email,
		Gender: cu.Gender, DateOfBirth: cu.DateOfBirth, ExternalUserID: cu.ExternalUserID}
	var out Customer
	if err := c.do(ctx, &call{op: "update customer " + cu.ID, method: http.MethodPatch, path: "/customers/" + url.PathEscape(cu.ID), body: body, out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteCustomer deletes a customer (DELETE /customers/{id}).
func (c *Client) DeleteCustomer(ctx context.Context, id string) error {
	if err := validID("customer", id); err != nil {
		return err
	}
	return c.do(ctx, &call{op: "delete customer " + id, method: http.MethodDelete, path: "/customers/" + url.PathEscape(id)})
}

// ListTemplates returns one page of GET /templates.
func (c *Client) ListTemplates(ctx context.Context, q PageQuery) ([]Template, Meta, error) {
	var out []Template
	var meta Meta
	if err := c.do(ctx, &call{op: "list templates", method: http.MethodGet, path: "/templates", query: pageValues(q.Page, q.ItemsPerPage), out: &out, meta: &meta}); err != nil {
		return nil, Meta{}, err
	}
	return out, meta, nil
}

// GetTemplate returns one template (GET /templates/{id}).
func (c *Client) GetTemplate(ctx context.Context, id int) (*Template, error) {
	if id <= 0 {
		return nil, fmt.Errorf("apiclient: template id %d is not positive: %w", id, ErrRejected)
	}
	var out Template
	if err := c.do(ctx, &call{op: "get template " + strconv.Itoa(id), method: http.MethodGet, path: "/templates/" + strconv.Itoa(id), out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListOperations returns one page of GET /operations. Dates are sent as
// Y-m-d in the location of the given time.
func (c *Client) ListOperations(ctx context.Context, q OperationsQuery) ([]Operation, Meta, error) {
	v := pageValues(q.Page, q.ItemsPerPage)
	if q.CardID != "" {
		if err := ValidCardNumber(q.CardID); err != nil {
			return nil, Meta{}, err
		}
	}
	setStr(v, "cardId", q.CardID)
	setStr(v, "customerId", q.CustomerID)
	setInt(v, "templateId", q.TemplateID)
	if !q.StartDate.IsZero() {
		v.Set("startDate", q.StartDate.Format(time.DateOnly))
	}
	if !q.EndDate.IsZero() {
		v.Set("endDate", q.EndDate.Format(time.DateOnly))
	}
	var out []Operation
	var meta Meta
	if err := c.do(ctx, &call{op: "list operations", method: http.MethodGet, path: "/operations", query: v, out: &out, meta: &meta}); err != nil {
		return nil, Meta{}, err
	}
	return out, meta, nil
}

// FlexID is an id the API documents as a string but may send as a number
// (push ids); it decodes both.
type FlexID string

// UnmarshalJSON accepts a JSON string or number.
func (id *FlexID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = FlexID(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("apiclient: id is neither a string nor an integer: %s", b)
	}
	*id = FlexID(strconv.FormatInt(n, 10))
	return nil
}

// Push is a push message sent to the wallet cards of a template.
type Push struct {
	ID              FlexID  `json:"id"`
	TemplateID      int     `json:"templateId"`
	CardID          *string `json:"cardId"` // set when sent to one card
	Message         string  `json:"message"`
	Status          string  `json:"status"`
	Type            string  `json:"type"`
	SentAmount      int     `json:"sentAmount"`
	DeliveredAmount int     `json:"deliveredAmount"`
	ScheduledAt     string  `json:"scheduledAt"`
	CreatedAt       string  `json:"createdAt"`
}

// NewPush is a push message to send: to every card of TemplateID, or to
// CardID only; at ScheduledAt if set, else now.
type NewPush struct {
	Message     string
	TemplateID  int
	CardID      string
	ScheduledAt time.Time
}

// ListPushes returns one page of GET /pushes.
func (c *Client) ListPushes(ctx context.Context, q PageQuery) ([]Push, Meta, error) {
	var out []Push
	var meta Meta
	if err := c.do(ctx, &call{op: "list pushes", method: http.MethodGet, path: "/pushes", query: pageValues(q.Page, q.ItemsPerPage), out: &out, meta: &meta}); err != nil {
		return nil, Meta{}, err
	}
	return out, meta, nil
}

// GetPush returns one push message (GET /pushes/{id}).
func (c *Client) GetPush(ctx context.Context, id string) (*Push, error) {
	if err := validID("push", id); err != nil {
		return nil, err
	}
	var out Push
	if err := c.do(ctx, &call{op: "get push " + id, method: http.MethodGet, path: "/pushes/" + url.PathEscape(id), out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendPush sends or schedules a push message (POST /pushes).
func (c *Client) SendPush(ctx context.Context, p NewPush) (*Push, error) {
	switch {
	case p.Message == "":
		return nil, fmt.Errorf("apiclient: send push: empty message: %w", ErrRejected)
	case p.TemplateID <= 0:
		return nil, fmt.Errorf("apiclient: send push: template id %d is not positive: %w", p.TemplateID, ErrRejected)
	}
	body := map[string]any{"message": p.Message, "templateId": p.TemplateID}
	if p.CardID != "" {
		if err := ValidCardNumber(p.CardID); err != nil {
			return nil, err
		}
		body["cardId"] = p.CardID
	}
	if !p.ScheduledAt.IsZero() {
		// PHP's Y-m-dTH:i:sP: always a numeric offset, "+00:00" rather
		// than RFC 3339's "Z", which older PHP parsers refuse.
		body["scheduledAt"] = p.ScheduledAt.Format("2006-01-02T15:04:05-07:00")
	}
	var out Push
	if err := c.do(ctx, &call{op: "send push", method: http.MethodPost, path: "/pushes", body: body, out: &out, needData: true}); err != nil {
		return nil, err
	}
	return &out, nil
}
