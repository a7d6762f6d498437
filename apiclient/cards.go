package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

// CustomFieldValue sets one custom field of a new card.
type CustomFieldValue struct {
	ID    int    `json:"id"`
	Value string `json:"value"`
}

// CustomField is a custom field as a card carries it.
type CustomField struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Order    int    `json:"order"`
	Value    any    `json:"value"`
	Required bool   `json:"required"`
	Unique   bool   `json:"unique"`
}

// NewCard is the body of POST /cards.
type NewCard struct {
	CustomerID   string             `json:"customerId"`
	TemplateID   int                `json:"templateId"`
	CustomFields []CustomFieldValue `json:"customFields,omitempty"`
}

// CardsQuery filters GET /cards. Zero fields are not sent.
type CardsQuery struct {
	Page          int
	ItemsPerPage  int
	TemplateID    int
	CustomerID    string
	CustomerPhone string
	CustomerEmail string
}

func (q CardsQuery) values() url.Values {
	v := pageValues(q.Page, q.ItemsPerPage)
	setInt(v, "templateId", q.TemplateID)
	setStr(v, "customerId", q.CustomerID)
	setStr(v, "customerPhone", q.CustomerPhone)
	setStr(v, "customerEmail", q.CustomerEmail)
	return v
}

// plausibleCard accepts the serials the API issues ("544256-439-856") and,
// leniently, other short alphanumeric serials; it refuses anything that could
// change the request path or query.
var plausibleCard = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]{3,40}$`)

// ValidCardNumber returns an error wrapping ErrRejected if s cannot be a card
// number. It is checked before any request is made.
func ValidCardNumber(s string) error {
	if !plausibleCard.MatchString(s) {
		return fmt.Errorf("apiclient: %q is not a card number: %w", s, ErrRejected)
	}
	return nil
}

// cardPath is /cards/{number}: the number is checked, then escaped.
func cardPath(number string) (string, error) {
	if err := ValidCardNumber(number); err != nil {
		return "", err
	}
	return "/cards/" + url.PathEscape(number), nil
}

// GetCard returns the card with the given number (GET /cards/{number}).
func (c *Client) GetCard(ctx context.Context, number string) (*Card, error) {
	p, err := cardPath(number)
	if err != nil {
		return nil, err
	}
	var card Card
	if err := c.do(ctx, &call{op: "get card " + number, method: http.MethodGet, path: p, out: &card, needData: true}); err != nil {
		return nil, err
	}
	return &card, nil
}

// Apply sends one card action (POST /cards/{number}/{method}) and returns
// the updated card. The action is validated first; an invalid one is
// refused with ErrRejected before any request. On error the card is nil.
func (c *Client) Apply(ctx context.Context, a Action) (*Card, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	p, err := cardPath(a.Card)
	if err != nil {
		return nil, err
	}
	var card Card
	cl := &call{
		op:     string(a.Method) + " " + a.Card,
		method: http.MethodPost,
		path:   p + "/" + url.PathEscape(string(a.Method)),
		body:   actionBody(a),
		out:    &card, needData: true,
	}
	if err := c.do(ctx, cl); err != nil {
		return nil, err
	}
	return &card, nil
}

// actionBody is the JSON body of a validated action: the quantity field
// named by Method.Field() (a JSON integer where the API's schema says
// integer), plus comment and purchaseSum when set. redeem-coupon sends only
// the optional fields, "{}" without them; receive-reward sends {"id": tier}.
func actionBody(a Action) map[string]any {
	b := map[string]any{}
	if f := a.Method.Field(); f != "" {
		b[f] = number(a.Quantity, a.Method.IntegerQuantity())
	}
	if a.Comment != "" {
		b["comment"] = a.Comment
	}
	if a.PurchaseSum != nil {
		b["purchaseSum"] = number(*a.PurchaseSum, false)
	}
	return b
}

// number writes v without an exponent, as an integer when asked (Validate
// has checked it is whole and bounded).
func number(v float64, integer bool) json.Number {
	if integer {
		return json.Number(strconv.FormatInt(int64(v), 10))
	}
	return json.Number(strconv.FormatFloat(v, 'f', -1, 64))
}

// ListCards returns one page of GET /cards.
func (c *Client) ListCards(ctx context.Context, q CardsQuery) ([]Card, Meta, error) {
	var cards []Card
	var meta Meta
	err := c.do(ctx, &call{op: "list cards", method: http.MethodGet, path: "/cards", query: q.values(), out: &cards, meta: &meta})
	if err != nil {
		return nil, Meta{}, err
	}
	return cards, meta, nil
}

// CreateCard issues a card of a template to a customer (POST /cards).
func (c *Client) CreateCard(ctx context.Context, nc NewCard) (*Card, error) {
	if err := validID("customer", nc.CustomerID); err != nil {
		return nil, err
	}
	if nc.TemplateID <= 0 {
		return nil, fmt.Errorf("apiclient: create card: template id %d is not positive: %w", nc.TemplateID, ErrRejected)
	}
	var card Card
	if err := c.do(ctx, &call{op: "create card", method: http.MethodPost, path: "/cards", body: nc, out: &card, needData: true}); err != nil {
		return nil, err
	}
	return &card, nil
}

// DeleteCard deletes a card (DELETE /cards/{number}).
func (c *Client) DeleteCard(ctx context.Context, number string) error {
	p, err := cardPath(number)
	if err != nil {
		return err
	}
	return c.do(ctx, &call{op: "delete card " + number, method: http.MethodDelete, path: p})
}
