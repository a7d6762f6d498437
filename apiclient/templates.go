package apiclient

// The template endpoints: GET /templates and /templates/{id}.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
)

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
