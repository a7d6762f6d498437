package apiclient_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// newSandbox serves the demo data on loopback with testKey as the only key;
// rate < 0 means no server-side limit.
func newSandbox(t testing.TB, rate float64) *sandbox.Server {
	t.Helper()
	srv, err := sandbox.NewServer(sandbox.Options{APIKeys: []string{testKey}, RateLimit: rate})
	if err != nil {
		t.Fatalf("sandbox.NewServer() = %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func balance(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// Every card type gets the actions the vendor lists for it, through the real
// client against the sandbox; the sandbox's rules come back as the right
// outcome classes, and each applied action is logged with its comment.
func TestSandbox_CardActions(t *testing.T) {
	srv := newSandbox(t, -1)
	c, logs := newClient(t, srv.URL, nil)
	ctx := t.Context()
	type step struct {
		a       apiclient.Action
		want    error                        // nil: applied
		check   func(*apiclient.Card) string // "" if fine
		comment string
	}
	act := func(card string, m apiclient.Method, q float64) apiclient.Action {
		return apiclient.Action{Card: card, Method: m, Quantity: q}
	}
	tests := []struct {
		name  string
		typ   apiclient.CardType
		steps []step
	}{
		{"stamp (stamps mechanics)", apiclient.Stamp, []step{
			{a: act(sandbox.DemoStampCard, apiclient.AddStamp, 1), check: func(c *apiclient.Card) string {
				if got := balance(c.Balance.CurrentNumberOfUses); got != 8 {
					return fmt.Sprintf("stamps = %v; want 8", got)
				}
				return ""
			}},
			{a: act(sandbox.DemoStampCard, apiclient.AddVisit, 1), want: apiclient.ErrRejected}, // irrelevant accrual type
			{a: act(sandbox.DemoStampCard, apiclient.SubtractStamp, 1)},
			{a: act(sandbox.DemoStampCard, apiclient.AddReward, 1)},
			{a: act(sandbox.DemoStampCard, apiclient.SubtractReward, 1)},
		}},
		{"stamp (visits mechanics, 1 a day)", apiclient.Stamp, []step{
			{a: act(sandbox.DemoStampVisitsCard, apiclient.AddStamp, 1), want: apiclient.ErrRejected},
			{a: act(sandbox.DemoStampVisitsCard, apiclient.AddVisit, 1)},
			{a: act(sandbox.DemoStampVisitsCard, apiclient.AddVisit, 1), want: apiclient.ErrRejected}, // already registered today
		}},
		{"cashback", apiclient.Cashback, []step{
			{a: act(sandbox.DemoCashbackCard, apiclient.AddTransactionAmount, 20)},
			{a: act(sandbox.DemoCashbackCard, apiclient.SubtractTransactionAmount, 1)},
			{a: act(sandbox.DemoCashbackCard, apiclient.AddPoint, 2.5)},
			{a: act(sandbox.DemoCashbackCard, apiclient.SubtractPoint, 100000), want: apiclient.ErrRejected}, // not enough
			{a: act(sandbox.DemoCashbackCard, apiclient.AddStamp, 1), want: apiclient.ErrRejected},
		}},
		{"multipass", apiclient.Multipass, []step{
			{a: act(sandbox.DemoMultipassCard, apiclient.SubtractVisit, 1), check: func(c *apiclient.Card) string {
				if got := balance(c.Balance.CurrentNumberOfUses); got != 4 {
					return fmt.Sprintf("visits left = %v; want 4", got)
				}
				return ""
			}},
			{a: act(sandbox.DemoMultipassCard, apiclient.AddVisit, 2)},
			{a: act(sandbox.DemoMultipassCard, apiclient.AddScores, 3)},
		}},
		{"coupon", apiclient.Coupon, []step{
			{a: act(sandbox.DemoCouponCard, apiclient.RedeemCoupon, 0), check: func(c *apiclient.Card) string {
				if !c.CouponRedeemed {
					return "couponRedeemed = false; want true"
				}
				return ""
			}},
			{a: act(sandbox.DemoCouponCard, apiclient.RedeemCoupon, 0), want: apiclient.ErrRejected}, // redeems once
		}},
		{"discount", apiclient.Discount, []step{
			{a: act(sandbox.DemoDiscountCard, apiclient.AddPoint, 1)},
		}},
		{"gift", apiclient.Gift, []step{
			{a: act(sandbox.DemoGiftCard, apiclient.SubtractPoint, 10), check: func(c *apiclient.Card) string {
				if got := balance(c.Balance.BonusBalance); got != 40 {
					return fmt.Sprintf("points = %v; want 40", got)
				}
				return ""
			}},
		}},
		{"membership (1 visit a day)", apiclient.Membership, []step{
			{a: act(sandbox.DemoMembershipCard, apiclient.SubtractVisit, 1)},
			{a: act(sandbox.DemoMembershipCard, apiclient.SubtractVisit, 1), want: apiclient.ErrRejected},
		}},
		{"reward (points mechanics)", apiclient.Reward, []step{
			{a: act(sandbox.DemoRewardPointsCard, apiclient.AddScores, 10)},
			{a: act(sandbox.DemoRewardPointsCard, apiclient.ReceiveReward, 901)},                              // the 100-point tier
			{a: act(sandbox.DemoRewardPointsCard, apiclient.ReceiveReward, 902), want: apiclient.ErrRejected}, // 250 points: not enough
			{a: act(sandbox.DemoRewardPointsCard, apiclient.ReceiveReward, 424242), want: apiclient.ErrRejected},
		}},
		{"reward (spend mechanics)", apiclient.Reward, []step{
			{a: act(sandbox.DemoRewardSpendCard, apiclient.AddPurchase, 12.5)},
			{a: act(sandbox.DemoRewardSpendCard, apiclient.AddScores, 1), want: apiclient.ErrRejected},
		}},
		{"unknown card", 0, []step{
			{a: act("999999-999-999", apiclient.AddStamp, 1), want: apiclient.ErrRejected},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range tt.steps {
				s.a.Comment = fmt.Sprintf("tillscan:test:%s:%d", s.a.Card, i)
				card, err := c.Apply(ctx, s.a)
				if s.want != nil {
					checkClass(t, err, s.want)
					se, ok := errors.AsType[*apiclient.StatusError](err)
					if !ok || se.Message == "" {
						t.Errorf("step %d %s: err = %v; want a StatusError with the API's message", i, s.a.Method, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: Apply(%s %s) = %v; want applied", i, s.a.Method, s.a.Card, err)
				}
				if card.ID != s.a.Card || card.Type != tt.typ {
					t.Errorf("step %d: card %s of type %v; want %s of type %v", i, card.ID, card.Type, s.a.Card, tt.typ)
				}
				if s.check != nil {
					if msg := s.check(card); msg != "" {
						t.Errorf("step %d %s: %s", i, s.a.Method, msg)
					}
				}
				ops, _, err := c.ListOperations(ctx, apiclient.OperationsQuery{CardID: s.a.Card, StartDate: time.Now(), ItemsPerPage: 1000})
				if err != nil {
					t.Fatalf("ListOperations() = %v", err)
				}
				if !slices.ContainsFunc(ops, func(o apiclient.Operation) bool { return o.Comment != nil && *o.Comment == s.a.Comment }) {
					t.Errorf("step %d: operations of %s lack comment %q", i, s.a.Card, s.a.Comment)
				}
			}
		})
	}
	noKey(t, "log", logs.String())
}

// The card's type string and its template's numeric type decode to the same
// CardType for every card of the demo set; reads and paging work.
func TestSandbox_CardsAndTemplates(t *testing.T) {
	srv := newSandbox(t, -1)
	c, _ := newClient(t, srv.URL, nil)
	ctx := t.Context()
	cards, meta, err := c.ListCards(ctx, apiclient.CardsQuery{ItemsPerPage: 100})
	if err != nil {
		t.Fatalf("ListCards() = %v", err)
	}
	if len(cards) != len(srv.API.Cards()) || meta.TotalItems != len(cards) {
		t.Fatalf("ListCards() = %d cards, meta %+v; want %d", len(cards), meta, len(srv.API.Cards()))
	}
	types := map[apiclient.CardType]bool{}
	for _, lc := range cards {
		card, err := c.GetCard(ctx, lc.ID)
		if err != nil {
			t.Fatalf("GetCard(%s) = %v", lc.ID, err)
		}
		tpl, err := c.GetTemplate(ctx, card.TemplateID)
		if err != nil {
			t.Fatalf("GetTemplate(%d) = %v", card.TemplateID, err)
		}
		if card.Type != tpl.Type {
			t.Errorf("card %s has type %v, its template %d type %v", card.ID, card.Type, tpl.ID, tpl.Type)
		}
		types[card.Type] = true
	}
	if len(types) != 8 {
		t.Errorf("demo cards cover types %v; want all 8", types)
	}
	page1, m1, err := c.ListCards(ctx, apiclient.CardsQuery{Page: 1, ItemsPerPage: 3})
	page2, m2, err2 := c.ListCards(ctx, apiclient.CardsQuery{Page: 2, ItemsPerPage: 3})
	if err != nil || err2 != nil || len(page1) != 3 || len(page2) != 3 || page1[0].ID == page2[0].ID || m1.CurrentPage != 1 || m2.CurrentPage != 2 {
		t.Errorf("paging: %d, %d cards, metas %+v %+v, errs %v %v; want 3 and 3 different", len(page1), len(page2), m1, m2, err, err2)
	}
	byTpl, _, err := c.ListCards(ctx, apiclient.CardsQuery{TemplateID: 1})
	if err != nil || len(byTpl) != 1 || byTpl[0].ID != sandbox.DemoStampCard {
		t.Errorf("ListCards(templateId=1) = %d cards, %v; want the stamp card", len(byTpl), err)
	}
	tpls, _, err := c.ListTemplates(ctx, apiclient.PageQuery{ItemsPerPage: 100})
	if err != nil || len(tpls) != 10 {
		t.Errorf("ListTemplates() = %d, %v; want 10", len(tpls), err)
	}
	if _, err := c.GetTemplate(ctx, 999); !errors.Is(err, apiclient.ErrRejected) {
		t.Errorf("GetTemplate(999) = %v; want ErrRejected", err)
	}
}

// Customers and cards: create, read, update, list by filter, delete.
func TestSandbox_CustomersAndCardLifecycle(t *testing.T) {
	srv := newSandbox(t, -1)
	c, _ := newClient(t, srv.URL, nil)
	ctx := t.Context()
	cu, err := c.CreateCustomer(ctx, apiclient.Customer{FirstName: "Ada", Surname: "Lovelace", Email: "ada@example.com", Phone: "+447700900999"})
	if err != nil || cu.ID == "" || cu.FirstName != "Ada" {
		t.Fatalf("CreateCustomer() = %+v, %v", cu, err)
	}
	got, err := c.GetCustomer(ctx, cu.ID)
	if err != nil || got.Email != "ada@example.com" {
		t.Fatalf("GetCustomer() = %+v, %v", got, err)
	}
	upd, err := c.UpdateCustomer(ctx, apiclient.Customer{ID: cu.ID, Surname: "Byron"})
	if err != nil || upd.Surname != "Byron" || upd.FirstName != "Ada" {
		t.Errorf("UpdateCustomer() = %+v, %v; want surname Byron, first name kept", upd, err)
	}
	list, _, err := c.ListCustomers(ctx, apiclient.CustomersQuery{Email: "ada@example.com"})
	if err != nil || len(list) != 1 || list[0].ID != cu.ID {
		t.Errorf("ListCustomers(email) = %+v, %v; want the new customer", list, err)
	}
	card, err := c.CreateCard(ctx, apiclient.NewCard{CustomerID: cu.ID, TemplateID: 1})
	if err != nil || apiclient.ValidCardNumber(card.ID) != nil || card.Type != apiclient.Stamp || card.CustomerID != cu.ID {
		t.Fatalf("CreateCard() = %+v, %v", card, err)
	}
	mine, _, err := c.ListCards(ctx, apiclient.CardsQuery{CustomerID: cu.ID})
	if err != nil || len(mine) != 1 || mine[0].ID != card.ID {
		t.Errorf("ListCards(customerId) = %d cards, %v; want the new card", len(mine), err)
	}
	if _, err := c.Apply(ctx, apiclient.Action{Card: card.ID, Method: apiclient.AddStamp, Quantity: 2}); err != nil {
		t.Errorf("Apply(add-stamp) on the new card = %v", err)
	}
	if err := c.DeleteCard(ctx, card.ID); err != nil {
		t.Fatalf("DeleteCard() = %v", err)
	}
	if _, err := c.GetCard(ctx, card.ID); !errors.Is(err, apiclient.ErrRejected) {
		t.Errorf("GetCard(deleted) = %v; want ErrRejected (404)", err)
	}
	if err := c.DeleteCustomer(ctx, cu.ID); err != nil {
		t.Fatalf("DeleteCustomer() = %v", err)
	}
	if _, err := c.GetCustomer(ctx, cu.ID); !errors.Is(err, apiclient.ErrRejected) {
		t.Errorf("GetCustomer(deleted) = %v; want ErrRejected (404)", err)
	}
	if _, err := c.CreateCard(ctx, apiclient.NewCard{CustomerID: cu.ID, TemplateID: 1}); !errors.Is(err, apiclient.ErrRejected) {
		t.Errorf("CreateCard(deleted customer) = %v; want ErrRejected", err)
	}
}

func TestSandbox_Pushes(t *testing.T) {
	srv := newSandbox(t, -1)
	c, _ := newClient(t, srv.URL, nil)
	ctx := t.Context()
	p, err := c.SendPush(ctx, apiclient.NewPush{Message: "Double stamps today", TemplateID: 1})
	if err != nil || p.ID == "" || p.Message != "Double stamps today" {
		t.Fatalf("SendPush() = %+v, %v", p, err)
	}
	one, err := c.SendPush(ctx, apiclient.NewPush{Message: "Your coffee is on us", TemplateID: 1,
		CardID: sandbox.DemoStampCard, ScheduledAt: time.Now().Add(time.Hour)})
	if err != nil || one.CardID == nil || *one.CardID != sandbox.DemoStampCard {
		t.Fatalf("SendPush(one card) = %+v, %v", one, err)
	}
	got, err := c.GetPush(ctx, string(p.ID))
	if err != nil || got.ID != p.ID || got.TemplateID != 1 {
		t.Errorf("GetPush(%s) = %+v, %v", p.ID, got, err)
	}
	list, meta, err := c.ListPushes(ctx, apiclient.PageQuery{})
	if err != nil || len(list) < 2 || meta.TotalItems < 2 {
		t.Errorf("ListPushes() = %d, %+v, %v; want both", len(list), meta, err)
	}
	if _, err := c.GetPush(ctx, "987654"); !errors.Is(err, apiclient.ErrRejected) {
		t.Errorf("GetPush(unknown) = %v; want ErrRejected", err)
	}
}

// GET /operations filters and pages.
func TestSandbox_Operations(t *testing.T) {
	srv := newSandbox(t, -1)
	c, _ := newClient(t, srv.URL, nil)
	ctx := t.Context()
	sum := 4.2
	for i := range 5 {
		a := apiclient.Action{Card: sandbox.DemoStampCard, Method: apiclient.AddStamp, Quantity: 1,
			Comment: fmt.Sprintf("tillscan:t:%d", i), PurchaseSum: &sum}
		if _, err := c.Apply(ctx, a); err != nil {
			t.Fatalf("Apply() = %v", err)
		}
	}
	if _, err := c.Apply(ctx, apiclient.Action{Card: sandbox.DemoGiftCard, Method: apiclient.AddPoint, Quantity: 1}); err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	ops, meta, err := c.ListOperations(ctx, apiclient.OperationsQuery{CardID: sandbox.DemoStampCard, StartDate: time.Now(), EndDate: time.Now()})
	if err != nil || len(ops) != 5 || meta.TotalItems != 5 {
		t.Fatalf("ListOperations(card) = %d, %+v, %v; want 5", len(ops), meta, err)
	}
	for _, o := range ops {
		if o.CardID != sandbox.DemoStampCard || o.Comment == nil || o.PurchaseSum == nil || *o.PurchaseSum != sum || o.Amount != 1 {
			t.Errorf("operation %+v; want card, comment, purchaseSum %v, amount 1", o, sum)
		}
	}
	p2, m2, err := c.ListOperations(ctx, apiclient.OperationsQuery{CardID: sandbox.DemoStampCard, Page: 2, ItemsPerPage: 2})
	if err != nil || len(p2) != 2 || m2.CurrentPage != 2 || m2.ItemsPerPage != 2 {
		t.Errorf("page 2 = %d, %+v, %v; want 2 items", len(p2), m2, err)
	}
	old, _, err := c.ListOperations(ctx, apiclient.OperationsQuery{EndDate: time.Now().AddDate(0, 0, -2)})
	if err != nil || len(old) != 0 {
		t.Errorf("operations before yesterday = %d, %v; want 0", len(old), err)
	}
	all, _, err := c.ListOperations(ctx, apiclient.OperationsQuery{TemplateID: 7})
	if err != nil || len(all) != 1 || all[0].CardID != sandbox.DemoGiftCard {
		t.Errorf("operations of template 7 = %+v, %v; want the gift card's", all, err)
	}
}

// The sandbox's faults come back as the right classes, and the Client
// never sends an ambiguous action twice.
func TestSandbox_Faults(t *testing.T) {
	srv := newSandbox(t, -1)
	c, _ := newClient(t, srv.URL, func(cfg *apiclient.Config) { cfg.Timeout = 500 * time.Millisecond })
	ctx := t.Context()
	applied := func() int { return srv.API.Stats().Applied[sandbox.DemoStampCard] }

	srv.API.ApplyThenFail(502, 0)
	for _, what := range []string{"applied then 502", "applied then dropped"} {
		before := applied()
		_, err := c.Apply(ctx, stamp(sandbox.DemoStampCard))
		checkClass(t, err, apiclient.ErrAmbiguous)
		if got := applied() - before; got != 1 {
			t.Errorf("%s: applied %d times; want exactly 1", what, got)
		}
	}

	srv.API.FailNext(503, 500, 504)
	for range 3 {
		_, err := c.Apply(ctx, stamp(sandbox.DemoStampCard))
		checkClass(t, err, apiclient.ErrAmbiguous)
	}

	srv.API.FailNext(429, 429)
	before := applied()
	if _, err := c.Apply(ctx, stamp(sandbox.DemoStampCard)); err != nil {
		t.Errorf("Apply() after two 429s = %v; want applied by the client's retries", err)
	}
	if got := applied() - before; got != 1 {
		t.Errorf("applied %d times after 429s; want 1", got)
	}

	srv.API.SetFaults(sandbox.Faults{Latency: time.Second}) // longer than the client's timeout
	_, err := c.Apply(ctx, stamp(sandbox.DemoStampCard))
	checkClass(t, err, apiclient.ErrAmbiguous)
	srv.API.SetFaults(sandbox.Faults{})

	srv.Outage(time.Hour)
	_, err = c.Apply(ctx, stamp(sandbox.DemoStampCard))
	checkClass(t, err, apiclient.ErrNotSent)
	if err := srv.Restore(); err != nil {
		t.Fatalf("Restore() = %v", err)
	}
	if _, err := c.Apply(ctx, stamp(sandbox.DemoStampCard)); err != nil {
		t.Errorf("Apply() after the outage = %v", err)
	}
}

// A wrong key: 401 once, then nothing is sent until SetAPIKey.
func TestSandbox_WrongKey(t *testing.T) {
	srv := newSandbox(t, -1)
	c, logs := newClient(t, srv.URL, func(cfg *apiclient.Config) { cfg.APIKey = "tk-wrong-0000" })
	for range 3 {
		_, err := c.GetCard(t.Context(), sandbox.DemoStampCard)
		checkClass(t, err, apiclient.ErrUnauthorized)
	}
	if got := srv.API.Stats().Requests; got != 1 {
		t.Errorf("sandbox got %d requests; want 1", got)
	}
	c.SetAPIKey(testKey)
	if _, err := c.GetCard(t.Context(), sandbox.DemoStampCard); err != nil {
		t.Errorf("GetCard() with the right key = %v", err)
	}
	noKey(t, "log", logs.String())
}

// The key revoked mid-run and restored by the vendor: the client stops at
// the first 401, and SetAPIKey with the same key (a reload) resumes it. A
// 429 storm with Retry-After pauses every request, then they go through.
func TestSandbox_RevokedKeyAndStorm(t *testing.T) {
	srv := newSandbox(t, -1)
	c, logs := newClient(t, srv.URL, func(cfg *apiclient.Config) { cfg.Tries = 1 })
	ctx := t.Context()
	if _, err := c.Apply(ctx, stamp(sandbox.DemoStampCard)); err != nil {
		t.Fatalf("Apply() = %v", err)
	}
	srv.API.RevokeKey(testKey)
	for range 3 {
		_, err := c.Apply(ctx, stamp(sandbox.DemoStampCard))
		checkClass(t, err, apiclient.ErrUnauthorized)
	}
	if st := srv.API.Stats(); st.Unauthorized != 1 {
		t.Errorf("sandbox saw %d 401s; want 1 (nothing sent after the first)", st.Unauthorized)
	}
	srv.API.RestoreKey(testKey)
	c.SetAPIKey(testKey) // the same key: a reload
	if _, err := c.Apply(ctx, stamp(sandbox.DemoStampCard)); err != nil {
		t.Fatalf("Apply() after the key was restored and set again = %v", err)
	}

	srv.API.RateLimitStorm(time.Hour, true) // Retry-After 3600: over the cap
	before := time.Now()
	_, err := c.Apply(ctx, stamp(sandbox.DemoStampCard))
	checkClass(t, err, apiclient.ErrRateLimited)
	st := c.Status()
	if st.PausedBy != 429 || st.PausedUntil.Before(before.Add(apiclient.DefaultRetryAfterCap)) {
		t.Errorf("Status() = %+v; want paused by 429 for the 60s cap", st)
	}
	if got := srv.API.Stats().Applied[sandbox.DemoStampCard]; got != 2 {
		t.Errorf("applied %d times; want 2 (nothing during the revocation or the storm)", got)
	}
	noKey(t, "log", logs.String())
}

// A till restarted right after sending a full second's worth of requests:
// with Config.Adaptive the new Client waits out that second, so its first
// request is not refused by the server's count of the previous process's.
func TestSandbox_AdaptiveRestartCostsNo429(t *testing.T) {
	srv := newSandbox(t, 10)
	before, _ := newClient(t, srv.URL, func(cfg *apiclient.Config) { cfg.RateLimit = 0 }) // the default 10/s
	for range 10 {
		if _, err := before.GetCard(t.Context(), sandbox.DemoStampCard); err != nil {
			t.Fatalf("GetCard() before the restart = %v", err)
		}
	}
	after, _ := newClient(t, srv.URL, func(cfg *apiclient.Config) { cfg.RateLimit, cfg.Adaptive, cfg.Tries = 0, true, 1 })
	for range 3 {
		if _, err := after.GetCard(t.Context(), sandbox.DemoStampCard); err != nil {
			t.Errorf("GetCard() after the restart = %v; want no 429", err)
		}
	}
	if n := srv.API.Stats().RateLimited; n != 0 {
		t.Errorf("sandbox answered %d 429s; want 0", n)
	}
}

// One Client shared by many goroutines keeps under the sandbox's limit: no
// 429 at all. The sandbox allows 100/s here and the client sends 80/s, so
// the test is quick; the benchmark checks 10/s.
func TestSandbox_SharedLimiter(t *testing.T) {
	srv := newSandbox(t, 100)
	c, _ := newClient(t, srv.URL, func(cfg *apiclient.Config) { cfg.RateLimit = 80 })
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for g := range 20 {
		wg.Go(func() {
			for range 4 {
				var err error
				if g%2 == 0 {
					_, err = c.GetCard(t.Context(), sandbox.DemoStampCard)
				} else {
					_, _, err = c.ListOperations(t.Context(), apiclient.OperationsQuery{CardID: sandbox.DemoStampCard})
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("call = %v", err)
		}
	}
	if st := srv.API.Stats(); st.RateLimited != 0 || st.Requests != 80 {
		t.Errorf("sandbox saw %d requests, %d of them 429; want 80 and 0", st.Requests, st.RateLimited)
	}
}
