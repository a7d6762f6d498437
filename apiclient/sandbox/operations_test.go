package sandbox_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

func TestOperations_Fields(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1, "comment": "tillscan:till-2:1042", "purchaseSum": 4.5}).ok(t, nil)
	s.act(sandbox.DemoStampCard, "subtract-stamp", map[string]any{"stamps": 3}).ok(t, nil)
	s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1, "comment": nil}).ok(t, nil)

	r := s.req("GET", "/operations?cardId="+sandbox.DemoStampCard, nil)
	var raw []map[string]any
	e := r.ok(t, &raw)
	if e.Meta == nil || e.Meta.TotalItems != 3 || e.Meta.CurrentPage != 1 || e.Meta.ItemsPerPage != 30 {
		t.Fatalf("meta = %+v, want 3 items on page 1 of 30", e.Meta)
	}
	for _, k := range []string{"id", "cardId", "templateId", "companyId", "customerId", "customer", "eventId", "amount",
		"balance", "purchaseSum", "source", "comment", "cardDevice", "locationId", "managerId", "createdAt", "updatedAt"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("operation has no %q key: %v", k, raw[0])
		}
	}
	var ops []sandbox.Operation
	r.ok(t, &ops)
	want := []struct {
		event          int
		amount, bal    float64
		comment        *string
		purchaseSumNil bool
	}{
		{1, 1, 8, ptr("tillscan:till-2:1042"), false},
		{2, -3, 5, nil, true},
		{1, 1, 6, nil, true},
	}
	for i, w := range want {
		op := ops[i]
		if op.EventID != w.event || op.Amount != w.amount || op.Balance != w.bal || (op.PurchaseSum == nil) != w.purchaseSumNil {
			t.Errorf("op %d = event %d amount %v balance %v purchaseSum %v; want %d %v %v nil=%v",
				i, op.EventID, op.Amount, op.Balance, op.PurchaseSum, w.event, w.amount, w.bal, w.purchaseSumNil)
		}
		if (op.Comment == nil) != (w.comment == nil) || (op.Comment != nil && *op.Comment != *w.comment) {
			t.Errorf("op %d comment = %v, want %v", i, op.Comment, w.comment)
		}
		if op.Source != "api" || op.CardID != sandbox.DemoStampCard || op.TemplateID != 1 || op.CompanyID != sandbox.DemoCompanyID ||
			op.CustomerID == "" || op.Customer == nil || op.Customer.ID != op.CustomerID {
			t.Errorf("op %d = %+v: want source api, the card, template 1, the company and its customer", i, op)
		}
		if op.CreatedAt != "2026-11-25T10:00:00+00:00" || op.UpdatedAt != op.CreatedAt {
			t.Errorf("op %d createdAt = %q, updatedAt %q; want PHP-style 2026-11-25T10:00:00+00:00", i, op.CreatedAt, op.UpdatedAt)
		}
		if i > 0 && op.ID <= ops[i-1].ID {
			t.Errorf("op ids %d then %d: want increasing", ops[i-1].ID, op.ID)
		}
	}
	if *ops[0].PurchaseSum != 4.5 {
		t.Errorf("purchaseSum = %v, want 4.5", *ops[0].PurchaseSum)
	}
	if got := s.API.Operations(); len(got) != 3 || got[0].ID != ops[0].ID {
		t.Errorf("Operations() = %d entries starting at %v, want the same 3", len(got), got)
	}
}

func TestOperations_Filters(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	// Day 1 (2026-11-25): stamp card ×2, cashback ×1. Day 2: stamp card, gift.
	s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1}).ok(t, nil)
	s.act(sandbox.DemoCashbackCard, "add-point", map[string]any{"points": 1}).ok(t, nil)
	s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1}).ok(t, nil)
	s.clk.Add(24 * time.Hour)
	s.act(sandbox.DemoStampCard, "add-stamp", map[string]any{"stamps": 1}).ok(t, nil)
	s.act(sandbox.DemoGiftCard, "add-point", map[string]any{"points": 5}).ok(t, nil)
	stamp, _ := s.API.Card(sandbox.DemoStampCard)

	tests := []struct {
		query string
		cards []string // expected cardIds in order
		total int
	}{
		{"", []string{sandbox.DemoStampCard, sandbox.DemoCashbackCard, sandbox.DemoStampCard, sandbox.DemoStampCard, sandbox.DemoGiftCard}, 5},
		{"cardId=" + sandbox.DemoStampCard, []string{sandbox.DemoStampCard, sandbox.DemoStampCard, sandbox.DemoStampCard}, 3},
		{"cardId=000000-000-000", nil, 0},
		{"templateId=3", []string{sandbox.DemoCashbackCard}, 1},
		{"customerId=" + stamp.CustomerID, []string{sandbox.DemoStampCard, sandbox.DemoStampCard, sandbox.DemoStampCard, sandbox.DemoGiftCard}, 4},
		{"startDate=2026-11-26", []string{sandbox.DemoStampCard, sandbox.DemoGiftCard}, 2},
		{"endDate=2026-11-25", []string{sandbox.DemoStampCard, sandbox.DemoCashbackCard, sandbox.DemoStampCard}, 3},
		{"startDate=2026-11-25&endDate=2026-11-25&cardId=" + sandbox.DemoStampCard, []string{sandbox.DemoStampCard, sandbox.DemoStampCard}, 2},
		{"startDate=2026-11-27", nil, 0},
		{"itemsPerPage=2", []string{sandbox.DemoStampCard, sandbox.DemoCashbackCard}, 5},
		{"itemsPerPage=2&page=3", []string{sandbox.DemoGiftCard}, 5},
		{"itemsPerPage=2&page=4", nil, 5},
		{"page=99999999999999", nil, 5},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var ops []sandbox.Operation
			e := s.req("GET", "/operations?"+tt.query, nil).ok(t, &ops)
			var got []string
			for _, op := range ops {
				got = append(got, op.CardID)
			}
			if !slices.Equal(got, tt.cards) || e.Meta.TotalItems != tt.total {
				t.Errorf("GET /operations?%s = %v (total %d), want %v (total %d)", tt.query, got, e.Meta.TotalItems, tt.cards, tt.total)
			}
			if ops == nil && string(e.Data) != "[]" {
				t.Errorf("empty page data = %s, want []", e.Data)
			}
		})
	}
}

func TestOperations_Paging(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	for range 1005 {
		s.act(sandbox.DemoGiftCard, "add-point", map[string]any{"points": 1}).ok(t, nil)
	}
	tests := []struct {
		query     string
		n, per    int
		wantError bool
	}{
		{"", 30, 30, false},
		{"itemsPerPage=1000", 1000, 1000, false},
		{"itemsPerPage=5000", 1000, 1000, false}, // clamped
		{"itemsPerPage=1000&page=2", 5, 1000, false},
		{"page=0", 0, 0, true},
		{"page=x", 0, 0, true},
		{"itemsPerPage=-1", 0, 0, true},
		{"startDate=25/11/2026", 0, 0, true},
		{"endDate=2026-11-25T00:00:00", 0, 0, true},
		{"templateId=abc", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := s.req("GET", "/operations?"+tt.query, nil)
			if tt.wantError {
				r.fail(t, http.StatusBadRequest, "")
				return
			}
			var ops []json.RawMessage
			e := r.ok(t, &ops)
			if len(ops) != tt.n || e.Meta.ItemsPerPage != tt.per || e.Meta.TotalItems != 1005 {
				t.Errorf("got %d items, meta %+v; want %d items, itemsPerPage %d, total 1005", len(ops), e.Meta, tt.n, tt.per)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
