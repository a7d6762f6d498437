package apiclient

// The push endpoints: GET and POST /pushes, GET /pushes/{id}.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

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
