package pos

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

func TestCache_Memory(t *testing.T) {
	c, err := NewCache(nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put("544256-439-856", CardInfo{Type: apiclient.Stamp}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("544256-439-856"); !ok {
		t.Fatal("in-memory cache lost the card")
	}
}

// TestCache_Store: the cache kept in the queue's file survives a restart
// (cards, forgotten cards, learned mechanics), costs one stored entry per
// card, and stays bounded; an old cache file is imported once.
func TestCache_Store(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	log := zerolog.New(zerolog.NewTestWriter(t))
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCache(q, log)
	if err != nil {
		t.Fatalf("NewCache(empty) = %v", err)
	}
	info := CardInfo{Type: apiclient.Reward, TemplateID: 7, UpdatedAt: time.Unix(1700000000, 0).UTC(),
		RewardTiers: []apiclient.RewardTier{{ID: 11, Threshold: ptr(100.0)}}}
	for _, err := range []error{
		c.Put("612001-100-207", info),
		c.LearnMechanics(7, MechPoints),
		c.Put("544256-439-856", CardInfo{Type: apiclient.Stamp, TemplateID: 1}),
		c.Forget("544256-439-856"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	cards, templates := 0, 0
	errCards := q.Cards(func(string, []byte, time.Time) error { cards++; return nil })
	errTemplates := q.Templates(func(string, []byte, time.Time) error { templates++; return nil })
	if cards != 1 || templates != 1 || errCards != nil || errTemplates != nil {
		t.Errorf("store holds %d cards (%v) and %d templates (%v), want one each", cards, errCards, templates, errTemplates)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q, err = queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	c2, err := NewCache(q, log)
	if err != nil {
		t.Fatalf("NewCache(reload) = %v", err)
	}
	checkReloaded(t, c2, info)
	if types, err := CardTypes(q); err != nil || len(types) != 1 || types["612001-100-207"] != apiclient.Reward {
		t.Errorf("CardTypes() = %v, %v; want the reward card", types, err)
	}

	c2.max = 2 // bounded: the least recently updated card goes
	for i, card := range []string{"544256-439-001", "544256-439-002"} {
		if err := c2.Put(card, CardInfo{Type: apiclient.Stamp, TemplateID: 1, UpdatedAt: info.UpdatedAt.Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c2.Get("612001-100-207"); ok || c2.Len() != 2 {
		t.Errorf("after going past the bound: %d cards, oldest still there %v; want 2 without it", c2.Len(), ok)
	}
	if types, _ := CardTypes(q); len(types) != 2 {
		t.Errorf("store holds %d cards after eviction, want 2", len(types))
	}

}

// TestCache_KeyDamagedIntoAnotherNumber: an entry whose key no longer names
// the card it was stored for (one flipped bit in the file turned 856 into
// 857, another valid number) is skipped, not read as the other card's
// type; an entry stored before entries named their card is still read.
func TestCache_KeyDamagedIntoAnotherNumber(t *testing.T) {
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	c, err := NewCache(q, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put("544256-439-856", CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := q.Cards(func(_ string, data []byte, _ time.Time) error { stored = data; return nil }); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := q.PutCard("544256-439-857", stored, now); err != nil {
		t.Fatal(err)
	}
	if err := q.PutCard("612001-100-207", []byte(`{"type":"coupon","template_id":5}`), now); err != nil {
		t.Fatal(err)
	}
	c2, err := NewCache(q, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := c2.Get("544256-439-857"); ok {
		t.Errorf("Get(damaged key) = %+v; want it skipped", info)
	}
	if info, ok := c2.Get("544256-439-856"); !ok || info.Type != apiclient.Stamp {
		t.Errorf("Get(stored card) = %+v, %v; want the stamp card", info, ok)
	}
	if info, ok := c2.Get("612001-100-207"); !ok || info.Type != apiclient.Coupon || info.TemplateID != 5 {
		t.Errorf("Get(entry without its number) = %+v, %v; want the coupon card", info, ok)
	}
}

// checkReloaded checks what a cache reloaded from its store holds after the
// tests' Put of info as 612001-100-207, Forget of 544256-439-856 and the
// learned mechanics of template 7.
func checkReloaded(t *testing.T, c *Cache, info CardInfo) {
	t.Helper()
	got, ok := c.Get("612001-100-207")
	if !ok || got.Type != apiclient.Reward || got.TemplateID != 7 || !got.UpdatedAt.Equal(info.UpdatedAt) ||
		len(got.RewardTiers) != 1 || got.RewardTiers[0].ID != 11 {
		t.Errorf("Get after reload = %+v, %v; want %+v", got, ok, info)
	}
	if _, ok := c.Get("544256-439-856"); ok {
		t.Error("forgotten card came back after reload")
	}
	if m, ok := c.Mechanics(7); m != MechPoints || !ok {
		t.Errorf("Mechanics(7) after reload = %q, %v; want points", m, ok)
	}
}

// blockingStore is the queue's card store with PutCard held until release:
// a disk slow to take a new card.
type blockingStore struct {
	*queue.Queue
	entered, release chan struct{}
}

func (s blockingStore) PutCard(number string, data []byte, now time.Time) error {
	s.entered <- struct{}{}
	<-s.release
	return s.Queue.PutCard(number, data, now)
}

// TestCache_ScanDoesNotWaitForStore: while the worker's Put of a new card
// waits for the disk, the till still handles a scan of a known card that
// reads the cache (refused at once: it needs a purchase sum).
func TestCache_ScanDoesNotWaitForStore(t *testing.T) {
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	const cashback = "612001-100-201"
	if err := q.PutCard(cashback, []byte(`{"type":"cashback","template_id":3}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	store := blockingStore{Queue: q, entered: make(chan struct{}), release: make(chan struct{})}
	c, err := NewCache(store, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	put := make(chan error, 1)
	go func() { put <- c.Put("544256-439-856", CardInfo{Type: apiclient.Stamp, TemplateID: 1}) }()
	<-store.entered // the Put holds the cache's save lock now

	rules := DefaultRules()
	till := NewTill(TillConfig{TillID: "t1", DedupeWindow: -1, Cards: c, Jobs: q, Rules: func() Rules { return rules }},
		q, NewFeed(0), nil, zerolog.Nop())
	handled := make(chan Event, 1)
	go func() { handled <- till.Handle(scanner.Scan{Text: cashback, Scanner: "s1", At: time.Now()}) }()
	select {
	case ev := <-handled:
		if ev.Kind != EventRefused || !strings.Contains(ev.Message, "purchase sum") {
			t.Errorf("Handle = %s %q; want refused for the purchase sum", ev.Kind, ev.Message)
		}
	case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("Till.Handle waited for the card cache's store")
	}
	close(store.release)
	if err := <-put; err != nil {
		t.Fatal(err)
	}
}
