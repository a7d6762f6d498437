package apiclient

// GET /operations: the log of actions applied to cards, which reconciliation
// reads to find a request's comment marker.

import (
	"context"
	"net/http"
	"time"
)

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

// OperationsQuery filters GET /operations. Zero fields are not sent. Dates
// are day-granular on the wire (Y-m-d).
type OperationsQuery struct {
	CardID       string
	CustomerID   string
	TemplateID   int
	StartDate    time.Time
	EndDate      time.Time
	Page         int
	ItemsPerPage int
}
