package pos

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
)

// CardInfo is what tillscan remembers of a card so that a repeat customer
// costs one API request (the action) instead of two (GET /cards first). A
// card never changes type or template, so entries do not expire.
type CardInfo struct {
	Type        apiclient.CardType     `json:"type"`
	TemplateID  int                    `json:"template_id"`
	RewardTiers []apiclient.RewardTier `json:"reward_tiers,omitempty"`
	UpdatedAt   time.Time              `json:"updated_at"`
}

// maxCacheCards bounds the cache; the least recently updated card goes
// first (it costs one GET when it comes back).
const maxCacheCards = 50_000

// CardStore keeps the Cache's entries durably, as opaque bytes per card
// number and per template id; *queue.Queue satisfies it, so the cache
// lives in the queue's file (one persistence mechanism, one small
// transaction per change).
type CardStore interface {
	PutCard(number string, data []byte, now time.Time) error
	DeleteCard(number string) error
	Cards(fn func(number string, data []byte, updated time.Time) error) error
	PutTemplate(id string, data []byte, now time.Time) error
	Templates(fn func(id string, data []byte, updated time.Time) error) error
}

// Cache is the card lookup cache (card number → type, template, reward
// tiers) and the mechanics learned per template. It is read from memory;
// every change is stored before the call returns, as one small
// transaction in the CardStore. Reads never wait for the disk: the till's
// scan path asks it (Till.Handle) while the worker saves new cards. Create
// one with NewCache; it is safe for concurrent use.
type Cache struct {
	store CardStore // nil: memory only
	log   zerolog.Logger
	max   int // cards kept; beyond it the least recently updated goes

	// saveMu serialises changes, so the stored order is the maps'; mu
	// guards the maps against readers. A change holds saveMu throughout
	// and mu only for the map edit itself, so a holder of either may read
	// the maps, and Get never waits for the store.
	saveMu sync.Mutex

	mu    sync.Mutex
	cards map[string]CardInfo
	mech  map[int]Mechanics
}

// NewCache returns a Cache kept in store and loaded from it; store nil
// keeps it in memory only. Entries that cannot be decoded are skipped with
// one warning (each costs one GET when its card comes back).
func NewCache(store CardStore, log zerolog.Logger) (*Cache, error) {
	c := &Cache{store: store, log: log, max: maxCacheCards, cards: map[string]CardInfo{}, mech: map[int]Mechanics{}}
	if store == nil {
		return c, nil
	}
	skipped := 0
	err := store.Cards(func(card string, data []byte, _ time.Time) error {
		if info, ok := decodeCard(card, data); ok {
			c.cards[card] = info
		} else {
			skipped++
		}
		return nil
	})
	if err == nil {
		err = store.Templates(func(id string, data []byte, _ time.Time) error {
			n, err := strconv.Atoi(id)
			m, merr := ParseMechanics(string(data))
			if err != nil || merr != nil {
				skipped++
				return nil
			}
			c.mech[n] = m
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pos: card cache: %w", err)
	}
	if skipped > 0 {
		log.Warn().Int("entries", skipped).Msg("card cache entries could not be read and are ignored (each costs one extra API request)")
	}
	return c, nil
}

// storedCard is a card's entry in the store: its number as well as its
// key, so that a key damaged into another valid number (one flipped bit
// turns a 4 into a 5) is not read as that card's type. Entries stored
// before the number was added have none and are taken as they are.
type storedCard struct {
	Card string `json:"card,omitempty"`
	CardInfo
}

// decodeCard returns a card's stored entry, if it is one the cache keeps.
func decodeCard(card string, data []byte) (CardInfo, bool) {
	var e storedCard
	if json.Unmarshal(data, &e) != nil || apiclient.ValidCardNumber(card) != nil || !e.Type.Valid() ||
		(e.Card != "" && e.Card != card) {
		return CardInfo{}, false
	}
	return e.CardInfo, true
}

// CardTypes returns the card types the cache in store remembers, by card
// number, for readers other than the daemon (the day's report). It only
// reads, and skips what NewCache would skip.
func CardTypes(store CardStore) (map[string]apiclient.CardType, error) {
	out := map[string]apiclient.CardType{}
	err := store.Cards(func(card string, data []byte, _ time.Time) error {
		if info, ok := decodeCard(card, data); ok {
			out[card] = info.Type
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pos: card cache: %w", err)
	}
	return out, nil
}

// Get returns what is known of card.
func (c *Cache) Get(card string) (CardInfo, bool) { return lookup(c, c.cards, card) }

// lookup reads m, one of c's maps, under c.mu.
func lookup[K comparable, V any](c *Cache, m map[K]V, k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := m[k]
	return v, ok
}

// Put remembers card and stores it.
func (c *Cache) Put(card string, info CardInfo) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	evicted := ""
	if _, known := c.cards[card]; !known && len(c.cards) >= c.max {
		evicted = c.oldestSaveLocked()
	}
	c.mu.Lock()
	c.cards[card] = info
	if evicted != "" {
		delete(c.cards, evicted)
	}
	c.mu.Unlock()
	if c.store == nil {
		return nil
	}
	err := c.storeCard(card, info)
	if err == nil && evicted != "" {
		err = c.store.DeleteCard(evicted)
	}
	if err != nil {
		return fmt.Errorf("pos: card cache: %w", err)
	}
	return nil
}

// importWriters is how many entries putMany stores at once: concurrent
// writers share the queue's commits, so importing a full cache costs about
// fifty fsyncs instead of one per card (0.7 s instead of minutes, see
// BenchmarkImportCacheFile).
const importWriters = 1024

// putMany remembers the cards it does not know yet, as many as the bound
// leaves room for (the most recently updated first), and returns how many
// it stored. On an error it keeps what was stored before it.
func (c *Cache) putMany(cards map[string]CardInfo) (int, error) {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	var add []string
	for card := range cards {
		if _, known := c.cards[card]; !known {
			add = append(add, card)
		}
	}
	slices.SortFunc(add, func(a, b string) int { return cards[b].UpdatedAt.Compare(cards[a].UpdatedAt) })
	add = add[:min(len(add), max(c.max-len(c.cards), 0))]
	slices.Sort(add) // neighbours share a commit: it writes fewer pages
	stored, err := add, error(nil)
	if c.store != nil {
		stored, err = c.storeAll(add, cards)
	}
	c.mu.Lock()
	for _, card := range stored {
		c.cards[card] = cards[card]
	}
	c.mu.Unlock()
	return len(stored), err
}

// storeAll stores the cards named by keys from importWriters goroutines
// and returns those stored; after an error the writers stop early.
func (c *Cache) storeAll(keys []string, cards map[string]CardInfo) ([]string, error) {
	next := make(chan string)
	var (
		mu     sync.Mutex
		stored []string
		errs   []error
		wg     sync.WaitGroup
	)
	for range min(importWriters, len(keys)) {
		wg.Go(func() {
			for card := range next {
				err := c.storeCard(card, cards[card])
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					stored = append(stored, card)
				}
				mu.Unlock()
			}
		})
	}
	for _, card := range keys {
		mu.Lock()
		failed := len(errs) > 0
		mu.Unlock()
		if failed {
			break
		}
		next <- card
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return stored, fmt.Errorf("pos: card cache: %w", errors.Join(errs...))
	}
	return stored, nil
}

// storeCard writes card's entry to the store.
func (c *Cache) storeCard(card string, info CardInfo) error {
	b, err := json.Marshal(storedCard{card, info})
	if err != nil {
		return err
	}
	return c.store.PutCard(card, b, info.UpdatedAt)
}

// Forget drops card (the API no longer knows it) and stores that.
func (c *Cache) Forget(card string) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if _, ok := c.cards[card]; !ok {
		return nil
	}
	c.mu.Lock()
	delete(c.cards, card)
	c.mu.Unlock()
	if c.store == nil {
		return nil
	}
	if err := c.store.DeleteCard(card); err != nil {
		return fmt.Errorf("pos: card cache: %w", err)
	}
	return nil
}

// Mechanics returns the mechanics learned for a template.
func (c *Cache) Mechanics(templateID int) (Mechanics, bool) {
	return lookup(c, c.mech, templateID)
}

// LearnMechanics remembers a template's mechanics and stores them if they
// changed.
func (c *Cache) LearnMechanics(templateID int, m Mechanics) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if c.mech[templateID] == m {
		return nil
	}
	c.mu.Lock()
	c.mech[templateID] = m
	c.mu.Unlock()
	if c.store == nil {
		return nil
	}
	if err := c.store.PutTemplate(strconv.Itoa(templateID), []byte(m), time.Now()); err != nil {
		return fmt.Errorf("pos: card cache: %w", err)
	}
	return nil
}

// Len returns the number of cards remembered.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cards)
}

// oldestSaveLocked returns the least recently updated card. saveMu must be
// held (not mu: the scan does not hold up Get).
func (c *Cache) oldestSaveLocked() string {
	oldest, at := "", time.Time{}
	for k, v := range c.cards {
		if oldest == "" || v.UpdatedAt.Before(at) {
			oldest, at = k, v.UpdatedAt
		}
	}
	return oldest
}
