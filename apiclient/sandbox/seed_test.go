package sandbox_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestLoadSeed_Example loads the committed example and serves it.
func TestLoadSeed_Example(t *testing.T) {
	seed, err := sandbox.LoadSeed(filepath.Join("..", "..", "configs", "sandbox-seed.yaml"))
	if err != nil {
		t.Fatalf("LoadSeed(configs/sandbox-seed.yaml) = %v", err)
	}
	if len(seed.Templates) != 6 || len(seed.Customers) != 2 || len(seed.Cards) != 6 {
		t.Errorf("seed has %d templates, %d customers, %d cards; want 6, 2, 6", len(seed.Templates), len(seed.Customers), len(seed.Cards))
	}
	s := newServer(t, sandbox.Options{Seed: seed})
	c := s.card("730114-220-501")
	if c.Type != "stamp" || c.Balance.CurrentNumberOfUses != 8 || c.Balance.NumberStampsTotal != 9 || c.Balance.StampsBeforeReward != 1 ||
		len(c.CustomFields) != 1 || c.CustomFields[0].Value != "Oat flat white" || c.Customer == nil || c.Customer.FirstName != "Harriet" {
		t.Errorf("card 730114-220-501 = %+v, want a stamp card at 8/9 with its custom field and customer", c)
	}
	// The example's mechanics work: 9 stamps per reward, spend 5 per stamp, 20 points a visit.
	s.act("730114-220-501", "add-stamp", map[string]any{"stamps": 1}).ok(t, &c)
	if c.Balance.NumberRewardsUnused != 2 || c.Balance.CurrentNumberOfUses != 0 {
		t.Errorf("after the 9th stamp: %+v, want 2 rewards and 0 stamps", c.Balance)
	}
	s.act("730114-220-502", "add-purchase", map[string]any{"amount": 12.40}).ok(t, &c)
	if c.Balance.CurrentNumberOfUses != 4 {
		t.Errorf("after spending 12.40 at 5 per stamp: %v stamps, want 4", c.Balance.CurrentNumberOfUses)
	}
	s.act("730114-220-502", "subtract-purchase", map[string]any{"amount": 10}).ok(t, &c)
	if c.Balance.CurrentNumberOfUses != 2 {
		t.Errorf("after reversing a 10 purchase: %v stamps, want 2", c.Balance.CurrentNumberOfUses)
	}
	s.act("730114-220-502", "subtract-purchase", map[string]any{"amount": 15}).fail(t, 400, "not enough stamps")
	s.act("730114-220-503", "add-visit", map[string]any{"visits": 1}).ok(t, &c)
	if c.Balance.BonusBalance != 200 || len(c.AvailableRewardTiers) != 2 {
		t.Errorf("after a visit: %v points, %d tiers available; want 200 and 2", c.Balance.BonusBalance, len(c.AvailableRewardTiers))
	}
	s.act("730114-220-505", "subtract-visit", map[string]any{"visits": 1}).ok(t, nil)
	s.act("730114-220-505", "subtract-visit", map[string]any{"visits": 1}).fail(t, 400, "visit has already been registered")
	s.act("730114-220-504", "add-transaction-amount", map[string]any{"amount": 10}).ok(t, &c)
	if c.Balance.Balance != 4.50 {
		t.Errorf("cashback balance = %v, want 4.50 (4.20 + 3%% of 10)", c.Balance.Balance)
	}
}

func TestLoadSeed_Errors(t *testing.T) {
	const goodCard = "  - {id: 544256-439-856, templateId: 1}\n"
	const tmpl = "templates:\n  - {id: 1, name: Coffee, type: 0}\ncards:\n"
	tests := []struct {
		name, file, content string
		want                []string // all must appear in the error
	}{
		{"yaml unknown key", "s.yaml", tmpl + goodCard + "  - id: 544256-439-857\n    templateId: 1\n    stampz: 3\n",
			[]string{"s.yaml:7:5", "stampz"}},
		{"yaml unknown top-level key", "s.yml", "templatez: []\n", []string{"s.yml:1:1", "templatez"}},
		{"yaml wrong type", "s.yaml", "templates:\n  - id: one\n", []string{"s.yaml:2:9"}},
		{"yaml syntax", "s.yaml", "templates: [\n", []string{"s.yaml:"}},
		{"json unknown key", "s.json", "{\n  \"templates\": [],\n  \"cardz\": []\n}", []string{"s.json:3:", "cardz"}},
		{"json wrong type", "s.json", "{\"templates\": [{\"id\": \"x\"}]}", []string{"s.json:1:", "string"}},
		{"json syntax", "s.json", "{\"templates\": [}", []string{"s.json:1:"}},
		{"json trailing data", "s.json", "{} {}", []string{"s.json:1:", "after"}},
		{"unknown template", "s.yaml", "cards:\n" + goodCard, []string{"cards[0]", "templateId 1"}},
		{"bad card number", "s.yaml", tmpl + "  - {id: ABC, templateId: 1}\n", []string{"cards[0]", "NNNNNN-NNN-NNN"}},
		{"duplicate card", "s.yaml", tmpl + goodCard + goodCard, []string{"cards[1]", "duplicate"}},
		{"unknown customer", "s.yaml", tmpl + "  - {id: 544256-439-856, templateId: 1, customerId: nobody}\n", []string{"customerId"}},
		{"wrong card type", "s.yaml", tmpl + "  - {id: 544256-439-856, templateId: 1, type: reward}\n", []string{"stamp"}},
		{"bad mechanics", "s.yaml", "templates:\n  - {id: 1, name: C, type: 1, mechanics: visits}\n", []string{"templates[0]", "mechanics"}},
		{"bad type", "s.yaml", "templates:\n  - {id: 1, name: C, type: 9}\n", []string{"type 9"}},
		{"full stamp card", "s.yaml", tmpl + "  - {id: 544256-439-856, templateId: 1, balance: {currentNumberOfUses: 10}}\n", []string{"at most 9"}},
		{"bad expiresAt", "s.yaml", tmpl + "  - {id: 544256-439-856, templateId: 1, expiresAt: tomorrow}\n", []string{"expiresAt"}},
		{"unknown extension", "s.toml", "", []string{"extension"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := sandbox.LoadSeed(path)
			if err == nil {
				t.Fatalf("LoadSeed(%q) = nil error, want one containing %q", tt.content, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadSeed error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
	if _, err := sandbox.LoadSeed(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadSeed(missing file) = nil error")
	}
}

// TestLoadSeed_JSON loads the demo set written as JSON.
func TestLoadSeed_JSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.json")
	content := `{"templates": [{"id": 3, "name": "Deli", "type": 7, "mechanics": "spend", "pointsPerUnit": 2,
	  "rewardTiers": [{"id": 5, "name": "Free soup", "threshold": 40}]}],
	 "customers": [{"id": "c1", "firstName": "Ann"}],
	 "cards": [{"id": "12345-678-901", "templateId": 3, "customerId": "c1", "balance": {"bonusBalance": 35}}]}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := sandbox.LoadSeed(path)
	if err != nil {
		t.Fatalf("LoadSeed = %v", err)
	}
	s := newServer(t, sandbox.Options{Seed: seed})
	var c sandbox.Card
	s.act("12345-678-901", "add-purchase", map[string]any{"amount": 2.75}).ok(t, &c)
	if c.Type != "reward" || c.Balance.BonusBalance != 40 || len(c.AvailableRewardTiers) != 1 || c.AvailableRewardTiers[0].TemplateID != 3 {
		t.Errorf("card = %+v, want a reward card at 40 points with tier 5 available", c)
	}
}

// TestDemoSeed checks the demo set matches the table the README refers to.
func TestDemoSeed(t *testing.T) {
	a, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	tests := []struct {
		number, typ string
		ok          func(sandbox.Card) bool
	}{
		{sandbox.DemoStampCard, "stamp", func(c sandbox.Card) bool {
			return c.Balance.CurrentNumberOfUses == 7 && c.Balance.NumberStampsTotal == 10 && c.Balance.StampsBeforeReward == 3
		}},
		{sandbox.DemoStampVisitsCard, "stamp", func(c sandbox.Card) bool {
			return c.Balance.CurrentNumberOfUses == 2 && c.Balance.NumberStampsTotal == 8
		}},
		{sandbox.DemoCashbackCard, "cashback", func(c sandbox.Card) bool { return c.Balance.Balance == 12.5 && c.Balance.BonusBalance == 40 }},
		{sandbox.DemoMultipassCard, "subscription", func(c sandbox.Card) bool { return c.Balance.CurrentNumberOfUses == 5 }},
		{sandbox.DemoCouponCard, "coupon", func(c sandbox.Card) bool { return !c.CouponRedeemed }},
		{sandbox.DemoDiscountCard, "discount", func(c sandbox.Card) bool { return c.Balance.DiscountPercentage == 5 }},
		{sandbox.DemoGiftCard, "gift", func(c sandbox.Card) bool { return c.Balance.BonusBalance == 50 }},
		{sandbox.DemoMembershipCard, "membership", func(c sandbox.Card) bool {
			return c.MembershipTier != nil && c.MembershipTier.DailyParameters != nil && *c.MembershipTier.DailyParameters.Limit == 1 &&
				c.Balance.CurrentNumberOfUses == 1
		}},
		{sandbox.DemoRewardPointsCard, "reward", func(c sandbox.Card) bool {
			return c.Balance.BonusBalance == 120 && len(c.AvailableRewardTiers) == 1 && c.AvailableRewardTiers[0].Threshold == 100
		}},
		{sandbox.DemoRewardSpendCard, "reward", func(c sandbox.Card) bool { return c.Balance.BonusBalance == 30 }},
	}
	for _, tt := range tests {
		c, ok := a.Card(tt.number)
		if !ok || c.Type != tt.typ || !tt.ok(c) || c.Customer == nil || c.Status != "installed" {
			t.Errorf("demo card %s = %+v (found %v), want type %s in its documented state", tt.number, c, ok, tt.typ)
		}
	}
	if got := len(a.Cards()); got != len(tests) {
		t.Errorf("Cards() has %d cards, want %d", got, len(tests))
	}
	// DemoSeed returns a fresh copy each time.
	s1 := sandbox.DemoSeed()
	s1.Cards[0].Balance.CurrentNumberOfUses = 1
	if sandbox.DemoSeed().Cards[0].Balance.CurrentNumberOfUses != 7 {
		t.Error("DemoSeed shares state between calls")
	}
}
