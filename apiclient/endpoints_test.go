package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
)

// sampleCard is a card as the API sends it (docs/api.md), with nulls.
var sampleCard = map[string]any{
	"id": "544256-439-856", "templateId": 11, "companyId": 3, "customerId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
	"type": "stamp", "status": "installed",
	"balance": map[string]any{"currentNumberOfUses": 8, "numberStampsTotal": 10, "stampsBeforeReward": 2,
		"numberRewardsUnused": 0, "balance": nil, "bonusBalance": nil},
	"availableRewardTiers": []any{}, "couponRedeemed": false, "countVisits": nil,
	"customFields": []any{map[string]any{"id": 1, "name": "Loyalty no.", "type": "text", "value": "A1"}},
	"createdAt":    "2026-01-01T10:00:00+00:00",
}

func TestEndpoints_Wire(t *testing.T) {
	sum := 9.99
	day := time.Date(2026, 11, 25, 23, 30, 0, 0, time.UTC)
	customer := map[string]any{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "firstName": "Ada", "surname": "Lovelace",
		"email": "ada@example.com", "phone": "+441234567890", "gender": 2, "segments": []any{}}
	template := map[string]any{"id": 11, "companyId": 3, "name": "Coffee", "type": 0,
		"rewardTiers": []any{map[string]any{"id": 5, "name": "Free coffee", "threshold": 10}}}
	push := map[string]any{"id": "77", "templateId": 11, "message": "Hello", "status": "sent", "type": "push",
		"sentAmount": 3, "deliveredAmount": 2, "cardId": nil}
	operation := map[string]any{"id": 9001, "cardId": "544256-439-856", "templateId": 11, "eventId": 1,
		"amount": 1, "balance": 8, "purchaseSum": nil, "comment": "tillscan:till-1:42", "createdAt": "2026-11-25T12:00:00+00:00"}
	meta := map[string]any{"currentPage": 2, "itemsPerPage": 5, "totalItems": 11}

	tests := []struct {
		name                string
		call                func(context.Context, *apiclient.Client) (any, error)
		method, path, query string
		body                string // JSON; "" for none
		status              int
		data, meta          any
		want                any
	}{
		{
			name:   "get card",
			call:   func(ctx context.Context, c *apiclient.Client) (any, error) { return c.GetCard(ctx, "544256-439-856") },
			method: "GET", path: "/api/v2/cards/544256-439-856",
			data: sampleCard,
			want: &apiclient.Card{ID: "544256-439-856", TemplateID: 11, CompanyID: 3, CustomerID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
				Type: apiclient.Stamp, Status: "installed",
				Balance: apiclient.Balance{CurrentNumberOfUses: ptr(8.0), NumberStampsTotal: ptr(10.0), StampsBeforeReward: ptr(2.0),
					NumberRewardsUnused: ptr(0.0)},
				AvailableRewardTiers: []apiclient.RewardTier{},
				CustomFields:         []apiclient.CustomField{{ID: 1, Name: "Loyalty no.", Type: "text", Value: "A1"}},
				CreatedAt:            "2026-01-01T10:00:00+00:00"},
		},
		{
			name: "add-stamp with comment and purchase sum",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.Apply(ctx, apiclient.Action{Card: "544256-439-856", Method: apiclient.AddStamp, Quantity: 1,
					Comment: "tillscan:till-1:42", PurchaseSum: &sum})
			},
			method: "POST", path: "/api/v2/cards/544256-439-856/add-stamp",
			body: `{"stamps":1,"comment":"tillscan:till-1:42","purchaseSum":9.99}`,
			data: sampleCard,
		},
		{
			name: "redeem-coupon sends {}",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.Apply(ctx, apiclient.Action{Card: "612001-100-203", Method: apiclient.RedeemCoupon})
			},
			method: "POST", path: "/api/v2/cards/612001-100-203/redeem-coupon", body: `{}`,
			data: sampleCard,
		},
		{
			name: "receive-reward sends the tier id",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.Apply(ctx, apiclient.Action{Card: "612001-100-207", Method: apiclient.ReceiveReward, Quantity: 5})
			},
			method: "POST", path: "/api/v2/cards/612001-100-207/receive-reward", body: `{"id":5}`,
			data: sampleCard,
		},
		{
			name: "add-point with a decimal",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.Apply(ctx, apiclient.Action{Card: "612001-100-201", Method: apiclient.AddPoint, Quantity: 2.5})
			},
			method: "POST", path: "/api/v2/cards/612001-100-201/add-point", body: `{"points":2.5}`,
			data: sampleCard,
		},
		{
			name: "list cards with every filter",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				cards, m, err := c.ListCards(ctx, apiclient.CardsQuery{Page: 2, ItemsPerPage: 5, TemplateID: 11,
					CustomerID: "abc", CustomerPhone: "+44 1234", CustomerEmail: "a@b.c"})
				return []any{len(cards), m}, err
			},
			method: "GET", path: "/api/v2/cards",
			query: "customerEmail=a%40b.c&customerId=abc&customerPhone=%2B44+1234&itemsPerPage=5&page=2&templateId=11",
			data:  []any{sampleCard, sampleCard}, meta: meta,
			want: []any{2, apiclient.Meta{CurrentPage: 2, ItemsPerPage: 5, TotalItems: 11}},
		},
		{
			name: "create card",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.CreateCard(ctx, apiclient.NewCard{CustomerID: "cust-1", TemplateID: 11,
					CustomFields: []apiclient.CustomFieldValue{{ID: 1, Value: "A1"}}})
			},
			method: "POST", path: "/api/v2/cards", body: `{"customerId":"cust-1","templateId":11,"customFields":[{"id":1,"value":"A1"}]}`,
			status: http.StatusCreated, data: sampleCard,
		},
		{
			name: "delete card",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return nil, c.DeleteCard(ctx, "544256-439-856")
			},
			method: "DELETE", path: "/api/v2/cards/544256-439-856",
			data: map[string]any{"id": "544256-439-856"},
		},
		{
			name: "list customers",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				cs, _, err := c.ListCustomers(ctx, apiclient.CustomersQuery{Page: 1, ItemsPerPage: 50, Email: "ada@example.com", Phone: "+441234567890"})
				return cs, err
			},
			method: "GET", path: "/api/v2/customers", query: "email=ada%40example.com&itemsPerPage=50&page=1&phone=%2B441234567890",
			data: []any{customer}, meta: meta,
			want: []apiclient.Customer{{ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", FirstName: "Ada", Surname: "Lovelace",
				Email: "ada@example.com", Phone: "+441234567890", Gender: 2}},
		},
		{
			name: "get customer",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.GetCustomer(ctx, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
			},
			method: "GET", path: "/api/v2/customers/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
			data: customer,
		},
		{
			name: "create customer",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.CreateCustomer(ctx, apiclient.Customer{ID: "ignored", FirstName: "Ada", Email: "ada@example.com", Phone: "+441234567890"})
			},
			method: "POST", path: "/api/v2/customers", body: `{"firstName":"Ada","email":"ada@example.com","phone":"+441234567890"}`,
			data: customer,
		},
		{
			name: "update customer repeats the id and drops phone",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.UpdateCustomer(ctx, apiclient.Customer{ID: "cust-1", Surname: "Byron", Phone: "+44999"})
			},
			method: "PATCH", path: "/api/v2/customers/cust-1", body: `{"id":"cust-1","surname":"Byron"}`,
			data: customer,
		},
		{
			name: "delete customer",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return nil, c.DeleteCustomer(ctx, "cust-1")
			},
			method: "DELETE", path: "/api/v2/customers/cust-1",
			data: map[string]any{"id": "cust-1"},
		},
		{
			name: "list templates",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				ts, _, err := c.ListTemplates(ctx, apiclient.PageQuery{ItemsPerPage: 100})
				return ts, err
			},
			method: "GET", path: "/api/v2/templates", query: "itemsPerPage=100",
			data: []any{template}, meta: meta,
			want: []apiclient.Template{{ID: 11, CompanyID: 3, Name: "Coffee", Type: apiclient.Stamp,
				RewardTiers: []apiclient.RewardTier{{ID: 5, Name: "Free coffee", Threshold: ptr(10.0)}}}},
		},
		{
			name:   "get template",
			call:   func(ctx context.Context, c *apiclient.Client) (any, error) { return c.GetTemplate(ctx, 11) },
			method: "GET", path: "/api/v2/templates/11",
			data: map[string]any{"id": 11, "name": "Coffee", "type": 7},
			want: &apiclient.Template{ID: 11, Name: "Coffee", Type: apiclient.Reward},
		},
		{
			name: "list operations with every filter",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				ops, _, err := c.ListOperations(ctx, apiclient.OperationsQuery{CardID: "544256-439-856", CustomerID: "cust-1",
					TemplateID: 11, StartDate: day, EndDate: day.Add(24 * time.Hour), Page: 1, ItemsPerPage: 1000})
				return ops, err
			},
			method: "GET", path: "/api/v2/operations",
			query: "cardId=544256-439-856&customerId=cust-1&endDate=2026-11-26&itemsPerPage=1000&page=1&startDate=2026-11-25&templateId=11",
			data:  []any{operation}, meta: meta,
			want: []apiclient.Operation{{ID: 9001, CardID: "544256-439-856", TemplateID: 11, EventID: 1, Amount: 1,
				Balance: ptr(8.0), Comment: ptr("tillscan:till-1:42"), CreatedAt: "2026-11-25T12:00:00+00:00"}},
		},
		{
			name: "list pushes",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				ps, _, err := c.ListPushes(ctx, apiclient.PageQuery{Page: 3})
				return ps, err
			},
			method: "GET", path: "/api/v2/pushes", query: "page=3",
			data: []any{push, map[string]any{"id": 78, "cardId": "544256-439-856"}}, meta: meta,
			want: []apiclient.Push{{ID: "77", TemplateID: 11, Message: "Hello", Status: "sent", Type: "push", SentAmount: 3, DeliveredAmount: 2},
				{ID: "78", CardID: ptr("544256-439-856")}},
		},
		{
			name:   "get push",
			call:   func(ctx context.Context, c *apiclient.Client) (any, error) { return c.GetPush(ctx, "77") },
			method: "GET", path: "/api/v2/pushes/77",
			data: push,
		},
		{
			name: "send push to one card, scheduled",
			call: func(ctx context.Context, c *apiclient.Client) (any, error) {
				return c.SendPush(ctx, apiclient.NewPush{Message: "Hello", TemplateID: 11, CardID: "544256-439-856", ScheduledAt: day})
			},
			method: "POST", path: "/api/v2/pushes",
			body: `{"cardId":"544256-439-856","message":"Hello","scheduledAt":"2026-11-25T23:30:00+00:00","templateId":11}`,
			data: push,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) { envelope(w, status, tt.data, tt.meta) })
			c, logs := newClient(t, f.base(), nil)
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call = %v; want nil error", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests; want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path || r.Query != tt.query || r.Key != testKey {
				t.Errorf("request = %s %s ?%s key-ok=%v; want %s %s ?%s with the key",
					r.Method, r.Path, r.Query, r.Key == testKey, tt.method, tt.path, tt.query)
			}
			if !sameJSON(r.Body, tt.body) {
				t.Errorf("body = %s; want %s", r.Body, tt.body)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result = %s; want %s", dump(got), dump(tt.want))
			}
			noKey(t, "log", logs.String())
		})
	}
}

// sameJSON compares two JSON texts by value; "" matches only an empty body.
func sameJSON(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// Bad input is refused before any request.
func TestRefusedBeforeSending(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, sampleCard, nil) })
	c, _ := newClient(t, f.base(), nil)
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"card with a slash", func() error { _, err := c.GetCard(ctx, "544256/../../customers"); return err }},
		{"card with a query", func() error { _, err := c.GetCard(ctx, "544256-439-856?x=1"); return err }},
		{"empty card", func() error { _, err := c.GetCard(ctx, ""); return err }},
		{"url as card", func() error { _, err := c.GetCard(ctx, "https://x.y/544256-439-856"); return err }},
		{"unknown action", func() error {
			_, err := c.Apply(ctx, apiclient.Action{Card: "544256-439-856", Method: "add-everything", Quantity: 1})
			return err
		}},
		{"zero stamps", func() error {
			_, err := c.Apply(ctx, apiclient.Action{Card: "544256-439-856", Method: apiclient.AddStamp})
			return err
		}},
		{"fractional stamps", func() error {
			_, err := c.Apply(ctx, apiclient.Action{Card: "544256-439-856", Method: apiclient.AddStamp, Quantity: 1.5})
			return err
		}},
		{"huge quantity", func() error {
			_, err := c.Apply(ctx, apiclient.Action{Card: "544256-439-856", Method: apiclient.AddPoint, Quantity: 1e300})
			return err
		}},
		{"bad card in operations filter", func() error {
			_, _, err := c.ListOperations(ctx, apiclient.OperationsQuery{CardID: "x/y"})
			return err
		}},
		{"bad customer id", func() error { _, err := c.GetCustomer(ctx, "../cards"); return err }},
		{"customer without a first name", func() error { _, err := c.CreateCustomer(ctx, apiclient.Customer{}); return err }},
		{"template 0", func() error { _, err := c.GetTemplate(ctx, 0); return err }},
		{"empty push", func() error { _, err := c.SendPush(ctx, apiclient.NewPush{TemplateID: 1}); return err }},
		{"card without template", func() error { _, err := c.CreateCard(ctx, apiclient.NewCard{CustomerID: "c"}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, apiclient.ErrRejected) {
				t.Errorf("err = %v; want ErrRejected", err)
			}
		})
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("server got %d requests; want 0", n)
	}
}
