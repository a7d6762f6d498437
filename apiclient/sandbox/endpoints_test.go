package sandbox_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

func TestAuth(t *testing.T) {
	s := newServer(t, sandbox.Options{APIKeys: []string{"k1"}})
	routes := []struct{ method, path string }{
		{"GET", "/cards"}, {"POST", "/cards"}, {"GET", "/cards/" + sandbox.DemoStampCard},
		{"PATCH", "/cards/" + sandbox.DemoStampCard}, {"DELETE", "/cards/" + sandbox.DemoStampCard},
		{"POST", "/cards/" + sandbox.DemoStampCard + "/add-stamp"}, {"GET", "/customers"},
		{"GET", "/templates"}, {"GET", "/operations"}, {"GET", "/pushes"}, {"POST", "/pushes"},
	}
	for _, rt := range routes {
		for _, key := range []string{"", "wrong", sandbox.DemoAPIKey} {
			s.reqKey(key, rt.method, rt.path, `{"stamps": 1}`).fail(t, http.StatusUnauthorized, "API key")
		}
	}
	if n := len(s.API.Operations()); n != 0 {
		t.Errorf("%d operations after unauthorised requests, want 0", n)
	}
	s.reqKey("k1", "GET", "/templates", nil).ok(t, nil)
	// Header names are case-insensitive, as the notes say integrators rely on.
	r, _ := http.NewRequest("GET", s.URL+"/templates", nil)
	r.Header["X-API-KEY"] = []string{"k1"}
	resp, err := s.hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("X-API-KEY: status %d, want 200", resp.StatusCode)
	}
}

// An id the API does not know is a 404 with the entity's own wording, on
// every route that takes one.
func TestRoutes_UnknownID(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	for _, tt := range []struct {
		method, path string
		body         any
		want         string
	}{
		{"GET", "/cards/000000-000-000", nil, "Card not found"},
		{"DELETE", "/cards/000000-000-000", nil, "Card not found"},
		{"GET", "/customers/nobody", nil, "Customer not found"},
		{"PATCH", "/customers/nobody", map[string]any{"id": "nobody"}, "Customer not found"},
		{"DELETE", "/customers/nobody", nil, "Customer not found"},
		{"GET", "/templates/999", nil, "Template not found"},
		{"GET", "/templates/x", nil, "Template not found"},
		{"GET", "/pushes/999", nil, "Push not found"},
		{"GET", "/pushes/x", nil, "Push not found"},
	} {
		s.req(tt.method, tt.path, tt.body).fail(t, http.StatusNotFound, tt.want)
	}
}

func TestRoutes_NotFoundAndBodies(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.req("PUT", "/cards/"+sandbox.DemoStampCard, `{}`).fail(t, http.StatusNotFound, "No route found")
	s.req("GET", "/customers/x/cards", nil).fail(t, http.StatusNotFound, "No route found") // does not exist in the API
	s.req("GET", "/nothing", nil).fail(t, http.StatusNotFound, "")
	s.req("GET", "/cards/"+sandbox.DemoStampCard+"/add-stamp", nil).fail(t, http.StatusNotFound, "")

	huge := `{"stamps": 1, "comment": "` + strings.Repeat("x", 2<<20) + `"}`
	s.act(sandbox.DemoStampCard, "add-stamp", huge).fail(t, http.StatusRequestEntityTooLarge, "larger")
	s.req("POST", "/customers", huge).fail(t, http.StatusRequestEntityTooLarge, "")
	for _, bad := range []string{`{`, `nul`, `"x"`, `{"firstName": 5}`, "\x00\xff"} {
		s.req("POST", "/customers", bad).fail(t, http.StatusBadRequest, "")
	}
	if n := len(s.API.Operations()); n != 0 {
		t.Errorf("%d operations, want 0", n)
	}
}

func TestCards_GetShape(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	r := s.req("GET", "/cards/"+sandbox.DemoRewardPointsCard, nil)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"responseId", "createdAt", "code", "data"} {
		if _, ok := top[k]; !ok {
			t.Errorf("envelope has no %q: %s", k, r.body)
		}
	}
	if _, ok := top["meta"]; ok {
		t.Errorf("single-object envelope has meta: %s", r.body)
	}
	var card map[string]any
	r.ok(t, &card)
	for _, k := range []string{"id", "templateId", "companyId", "customerId", "customer", "type", "status", "balance",
		"availableRewardTiers", "membershipTier", "customerSubscription", "customFields", "countVisits", "totalRewardsEarned",
		"couponRedeemed", "expiresAt", "createdAt", "updatedAt", "installLink", "shareLink", "qrLink", "directInstallLink"} {
		if _, ok := card[k]; !ok {
			t.Errorf("card has no %q", k)
		}
	}
	bal, _ := card["balance"].(map[string]any)
	for _, k := range []string{"balance", "bonusBalance", "currentNumberOfUses", "discountAmount", "discountPercentage",
		"numberRewardsUnused", "numberStampsTotal", "stampsBeforeReward"} {
		if _, ok := bal[k].(float64); !ok {
			t.Errorf("balance.%s = %v, want a number", k, bal[k])
		}
	}
	if card["type"] != "reward" || card["countVisits"] == nil {
		t.Errorf("type = %v, countVisits = %v; want reward and a number", card["type"], card["countVisits"])
	}
	if ts, _ := card["createdAt"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`).MatchString(ts) {
		t.Errorf("createdAt = %q, want PHP Y-m-dTH:i:sP", ts)
	}
	s.req("GET", "/cards/000000-000-000", nil).fail(t, http.StatusNotFound, "Card not found")
}

func TestCards_List(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	stamp := s.card(sandbox.DemoStampCard)
	tests := []struct {
		query string
		want  []string
		total int
	}{
		{"templateId=1", []string{sandbox.DemoStampCard}, 1},
		{"customerId=" + stamp.CustomerID, []string{sandbox.DemoStampCard, sandbox.DemoGiftCard}, 2},
		{"customerEmail=" + stamp.Customer.Email, []string{sandbox.DemoStampCard, sandbox.DemoGiftCard}, 2},
		{"customerPhone=%2B447700900102", []string{sandbox.DemoStampVisitsCard, sandbox.DemoMembershipCard}, 2},
		{"customerEmail=nobody@example.com", nil, 0},
		{"itemsPerPage=3&page=2", []string{"612001-100-202", "612001-100-203", "612001-100-204"}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var cards []map[string]any
			e := s.req("GET", "/cards?"+tt.query, nil).ok(t, &cards)
			var got []string
			for _, c := range cards {
				got = append(got, c["id"].(string))
				if c["countVisits"] != nil {
					t.Errorf("list item countVisits = %v, want null in lists", c["countVisits"])
				}
			}
			if !slices.Equal(got, tt.want) || e.Meta == nil || e.Meta.TotalItems != tt.total {
				t.Errorf("GET /cards?%s = %v (meta %+v), want %v (total %d)", tt.query, got, e.Meta, tt.want, tt.total)
			}
		})
	}
	s.req("GET", "/cards?templateId=x", nil).fail(t, http.StatusBadRequest, "templateId")
}

func TestCards_CreatePatchDelete(t *testing.T) {
	s := newServer(t, sandbox.Options{Seed: func() *sandbox.Seed {
		seed := sandbox.DemoSeed()
		seed.Templates[0].CustomFields = []sandbox.CustomField{{ID: 7, Name: "Drink", Type: "text"}}
		return seed
	}()})
	stamp := s.card(sandbox.DemoStampCard)

	var c sandbox.Card
	s.req("POST", "/cards", map[string]any{"customerId": stamp.CustomerID, "templateId": 1,
		"customFields": []map[string]any{{"id": 7, "value": "Latte"}}}).ok(t, &c)
	if !regexp.MustCompile(`^\d{6}-\d{3}-\d{3}$`).MatchString(c.ID) || c.Type != "stamp" || c.Status != "not_installed" ||
		c.Balance.CurrentNumberOfUses != 0 || c.Balance.StampsBeforeReward != 10 || len(c.CustomFields) != 1 || c.CustomFields[0].Value != "Latte" {
		t.Errorf("created card = %+v, want a new empty stamp card with its custom field", c)
	}
	s.act(c.ID, "add-stamp", map[string]any{"stamps": 1}).ok(t, nil)
	if got := s.card(c.ID); got.Balance.CurrentNumberOfUses != 1 {
		t.Errorf("new card stamps = %v, want 1", got.Balance.CurrentNumberOfUses)
	}

	s.req("POST", "/cards", map[string]any{"templateId": 1}).fail(t, http.StatusUnprocessableEntity, "required")
	s.req("POST", "/cards", map[string]any{"customerId": stamp.CustomerID, "templateId": 99}).fail(t, http.StatusNotFound, "Template not found")
	s.req("POST", "/cards", map[string]any{"customerId": "nobody", "templateId": 1}).fail(t, http.StatusNotFound, "Customer not found")
	s.req("POST", "/cards", map[string]any{"customerId": stamp.CustomerID, "templateId": 1,
		"customFields": []map[string]any{{"id": 8, "value": "x"}}}).fail(t, http.StatusUnprocessableEntity, "custom field 8")

	// PATCH changes only custom fields; a balance in the body is ignored.
	s.req("PATCH", "/cards/"+c.ID, map[string]any{"customFields": []map[string]any{{"id": 7, "value": "Mocha"}},
		"balance": map[string]any{"currentNumberOfUses": 9}}).ok(t, &c)
	if c.CustomFields[0].Value != "Mocha" || c.Balance.CurrentNumberOfUses != 1 {
		t.Errorf("patched card = %+v, want Mocha and still 1 stamp", c)
	}
	s.req("PATCH", "/cards/000000-000-000", `{}`).fail(t, http.StatusNotFound, "Card not found")

	var del map[string]string
	s.req("DELETE", "/cards/"+c.ID, nil).ok(t, &del)
	if del["id"] != c.ID {
		t.Errorf("DELETE data = %v, want {id: %s}", del, c.ID)
	}
	s.req("GET", "/cards/"+c.ID, nil).fail(t, http.StatusNotFound, "Card not found")
	s.req("DELETE", "/cards/"+c.ID, nil).fail(t, http.StatusNotFound, "Card not found")
	s.act(c.ID, "add-stamp", map[string]any{"stamps": 1}).fail(t, http.StatusNotFound, "Card not found")
}

func TestCards_SetActions(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	var c sandbox.Card
	s.act(sandbox.DemoCouponCard, "set-expiration-date", map[string]any{"expiresAt": "2027-01-31T23:59:59+01:00"}).ok(t, &c)
	if c.ExpiresAt == nil || *c.ExpiresAt != "2027-01-31T22:59:59+00:00" {
		t.Errorf("expiresAt = %v, want 2027-01-31T22:59:59+00:00", c.ExpiresAt)
	}
	s.act(sandbox.DemoCouponCard, "set-expiration-date", `{"expiresAt": null}`).ok(t, &c)
	if c.ExpiresAt != nil {
		t.Errorf("expiresAt = %v after null, want null", *c.ExpiresAt)
	}
	s.act(sandbox.DemoCouponCard, "set-expiration-date", map[string]any{"expiresAt": "31/01/2027"}).fail(t, 422, "expiresAt")
	s.act("000000-000-000", "set-expiration-date", `{}`).fail(t, 404, "Card not found")

	s.act(sandbox.DemoMembershipCard, "set-membership-tier", map[string]any{"period": "year", "tierId": 802}).ok(t, &c)
	if c.MembershipTier == nil || c.MembershipTier.ID != 802 || c.CustomerSubscription == nil || c.CustomerSubscription.Period != "year" {
		t.Errorf("membership = %+v / %+v, want tier 802 yearly", c.MembershipTier, c.CustomerSubscription)
	}
	// The new tier has no limits: add-visit now registers visits, subtract-visit is irrelevant.
	s.act(sandbox.DemoMembershipCard, "add-visit", map[string]any{"visits": 1}).ok(t, nil)
	s.act(sandbox.DemoMembershipCard, "add-visit", map[string]any{"visits": 1}).ok(t, nil)
	s.act(sandbox.DemoMembershipCard, "subtract-visit", map[string]any{"visits": 1}).fail(t, 400, "Irrelevant accrual type")

	s.act(sandbox.DemoMembershipCard, "set-membership-tier", map[string]any{"period": "fortnight", "tierId": 801}).fail(t, 422, "period")
	s.act(sandbox.DemoMembershipCard, "set-membership-tier", map[string]any{"period": "day"}).fail(t, 422, "required")
	s.act(sandbox.DemoMembershipCard, "set-membership-tier", map[string]any{"period": "day", "tierId": 5}).fail(t, 400, "tier 5")
	s.act(sandbox.DemoStampCard, "set-membership-tier", map[string]any{"period": "day", "tierId": 801}).fail(t, 400, "membership")
	if n := len(s.API.Operations()); n != 2 {
		t.Errorf("%d operations, want 2 (set-* actions are not logged)", n)
	}
}

func TestCustomers(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	var list []sandbox.Customer
	e := s.req("GET", "/customers", nil).ok(t, &list)
	if len(list) != 6 || e.Meta.TotalItems != 6 {
		t.Fatalf("GET /customers = %d (meta %+v), want 6", len(list), e.Meta)
	}
	s.req("GET", "/customers?email="+list[2].Email, nil).ok(t, &list)
	if len(list) != 1 || list[0].FirstName != "Isla" {
		t.Errorf("by email = %+v, want Isla", list)
	}
	s.req("GET", "/customers?phone=%2B447700900104", nil).ok(t, &list)
	if len(list) != 1 || list[0].FirstName != "Noah" {
		t.Errorf("by phone = %+v, want Noah", list)
	}

	var c sandbox.Customer
	s.req("POST", "/customers", map[string]any{"firstName": "Maya", "surname": "Jones", "email": "maya@example.co.uk",
		"phone": "+447700900999", "gender": 2, "dateOfBirth": "1990-02-03", "externalUserId": "pos-77"}).ok(t, &c)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c.ID) ||
		c.FirstName != "Maya" || c.Phone != "+447700900999" || c.ExternalUserID != "pos-77" {
		t.Errorf("created = %+v, want Maya with a UUIDv7 id", c)
	}
	var got sandbox.Customer
	s.req("GET", "/customers/"+c.ID, nil).ok(t, &got)
	if got.Email != "maya@example.co.uk" {
		t.Errorf("GET = %+v", got)
	}
	s.req("PATCH", "/customers/"+c.ID, map[string]any{"id": c.ID, "surname": "Jones-Smith", "phone": "+440000"}).ok(t, &got)
	if got.Surname != "Jones-Smith" || got.Phone != "+447700900999" || got.FirstName != "Maya" {
		t.Errorf("patched = %+v, want the new surname and the old phone (no phone in the update schema)", got)
	}
	s.req("PATCH", "/customers/"+c.ID, map[string]any{"surname": "X"}).fail(t, 422, "id")
	s.req("PATCH", "/customers/nobody", map[string]any{"id": "nobody"}).fail(t, 404, "Customer not found")
	s.req("POST", "/customers", map[string]any{"surname": "NoFirst"}).fail(t, 422, "firstName")
	s.req("POST", "/customers", map[string]any{"firstName": "G", "gender": 5}).fail(t, 422, "gender")
	s.req("POST", "/customers", map[string]any{"firstName": "D", "dateOfBirth": "3 May"}).fail(t, 422, "dateOfBirth")

	// A card for the new customer, found through GET /cards?customerId=.
	var card sandbox.Card
	s.req("POST", "/cards", map[string]any{"customerId": c.ID, "templateId": 5}).ok(t, &card)
	var cards []sandbox.Card
	s.req("GET", "/cards?customerId="+c.ID, nil).ok(t, &cards)
	if len(cards) != 1 || cards[0].ID != card.ID || cards[0].Type != "coupon" {
		t.Errorf("cards of the new customer = %+v, want the coupon %s", cards, card.ID)
	}

	var del map[string]string
	s.req("DELETE", "/customers/"+c.ID, nil).ok(t, &del)
	if del["id"] != c.ID {
		t.Errorf("DELETE data = %v", del)
	}
	s.req("GET", "/customers/"+c.ID, nil).fail(t, 404, "Customer not found")
	s.req("DELETE", "/customers/"+c.ID, nil).fail(t, 404, "Customer not found")
	if got := s.card(card.ID); got.Customer != nil || got.CustomerID != c.ID {
		t.Errorf("card of a deleted customer = customer %+v, id %q; want null customer, id kept", got.Customer, got.CustomerID)
	}
}

func TestTemplates(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	r := s.req("GET", "/templates", nil)
	for _, secret := range []string{"mechanics", "stampsPerReward", "visitsPerDay", "pointsPerUnit", "cashbackPercent"} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("GET /templates leaks the sandbox-only %q: %s", secret, r.body)
		}
	}
	var list []sandbox.Template
	e := r.ok(t, &list)
	if len(list) != 10 || e.Meta.TotalItems != 10 || list[0].ID != 1 || list[0].Name == "" {
		t.Fatalf("GET /templates = %d (meta %+v)", len(list), e.Meta)
	}
	for i, tp := range list {
		if tp.Type < 0 || tp.Type > 7 || tp.CompanyID != sandbox.DemoCompanyID || tp.InstallLink == "" {
			t.Errorf("template %d = %+v", i, tp)
		}
	}
	var tp sandbox.Template
	s.req("GET", "/templates/9", nil).ok(t, &tp)
	if tp.Type != 7 || len(tp.RewardTiers) != 2 || tp.RewardTiers[1].Threshold != 250 || tp.RewardTiers[1].TemplateID != 9 {
		t.Errorf("template 9 = %+v, want the reward template with tiers at 100 and 250", tp)
	}
	s.req("GET", "/templates/8", nil).ok(t, &tp)
	if len(tp.MembershipTiers) != 2 || tp.MembershipTiers[0].DailyParameters == nil {
		t.Errorf("template 8 = %+v, want membership tiers", tp)
	}
	s.req("GET", "/templates/99", nil).fail(t, 404, "Template not found")
	s.req("GET", "/templates/abc", nil).fail(t, 404, "Template not found")
	s.req("GET", "/templates?itemsPerPage=4&page=3", nil).ok(t, &list)
	if len(list) != 2 || list[0].ID != 9 {
		t.Errorf("page 3 of 4 = %+v, want templates 9 and 10", list)
	}
}

func TestPushes(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	var p sandbox.Push
	s.req("POST", "/pushes", map[string]any{"message": "Double stamps today!", "templateId": 1}).ok(t, &p)
	if p.ID != 1 || p.Status != "sent" || p.Recipients != 1 || p.CardID != nil {
		t.Errorf("push = %+v, want id 1 sent to the template's 1 card", p)
	}
	s.req("POST", "/pushes", map[string]any{"message": "Hi", "templateId": 2, "cardId": sandbox.DemoStampVisitsCard,
		"scheduledAt": "2026-12-24T09:00:00+00:00"}).ok(t, &p)
	if p.ID != 2 || p.Status != "scheduled" || p.CardID == nil || *p.CardID != sandbox.DemoStampVisitsCard {
		t.Errorf("push = %+v, want a scheduled push to one card", p)
	}
	var list []sandbox.Push
	s.req("GET", "/pushes", nil).ok(t, &list)
	if len(list) != 2 {
		t.Errorf("GET /pushes = %+v, want 2", list)
	}
	s.req("GET", "/pushes/2", nil).ok(t, &p)
	if p.Message != "Hi" {
		t.Errorf("GET /pushes/2 = %+v", p)
	}
	s.req("GET", "/pushes/3", nil).fail(t, 404, "Push not found")
	s.req("POST", "/pushes", map[string]any{"templateId": 1}).fail(t, 422, "message")
	s.req("POST", "/pushes", map[string]any{"message": "x", "templateId": 77}).fail(t, 404, "Template not found")
	s.req("POST", "/pushes", map[string]any{"message": "x", "templateId": 1, "cardId": sandbox.DemoGiftCard}).fail(t, 422, "template 1")
	s.req("POST", "/pushes", map[string]any{"message": "x", "templateId": 1, "scheduledAt": "soon"}).fail(t, 422, "scheduledAt")
}
