package pos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
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

// cacheFile is the on-disk form of a Cache.
type cacheFile struct {
	Version   int                  `json:"version"`
	Cards     map[string]CardInfo  `json:"cards"`
	Mechanics map[string]Mechanics `json:"mechanics"` // learned, by template id
}

const (
	cacheVersion = 1
	// maxCacheCards bounds the file; the least recently updated cards go
	// first (they cost one GET each when they come back).
	maxCacheCards = 50_000
)

// Cache is the persisted card lookup cache (card number → type, template,
// reward tiers) and the mechanics learned per template. Every change is
// written before the call returns, atomically: temp file, fsync, rename,
// fsync of the directory. Reads never wait for the file: the till's scan
// path asks it (Till.Handle) while the worker saves new cards. Create one
// with OpenCache; it is safe for concurrent use.
type Cache struct {
	path string
	log  zerolog.Logger

	saveMu sync.Mutex // serialises writes of the file; never held with mu for long
	saved  uint64     // the version on disk; guarded by saveMu

	mu      sync.Mutex // guards everything below; held only for map operations
	cards   map[string]CardInfo
	mech    map[int]Mechanics
	version uint64 // bumped by every change
}

// OpenCache loads the cache file at path, or starts empty if there is none.
// path "" keeps the cache in memory only. A file that cannot be decoded is
// moved aside (to "<path>.corrupt-<UTC time>") with a warning on log and the
// cache starts empty: losing it only costs one GET per card. An error means
// the file exists but cannot be read, or the directory cannot be written.
func OpenCache(path string, log zerolog.Logger) (*Cache, error) {
	c := &Cache{path: path, log: log, cards: map[string]CardInfo{}, mech: map[int]Mechanics{}}
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	} else if err != nil {
		return nil, fmt.Errorf("pos: card cache: %w", err)
	}
	var f cacheFile
	if err := decodeCache(b, &f); err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("pos: card cache %s is unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		log.Warn().Err(err).Str("path", path).Str("moved_to", aside).
			Msg("card cache was unreadable and was moved aside; starting empty (costs one extra API request per card)")
		return c, nil
	}
	for k, v := range f.Cards {
		if apiclient.ValidCardNumber(k) == nil && v.Type.Valid() {
			c.cards[k] = v
		}
	}
	for k, v := range f.Mechanics {
		if id, err := strconv.Atoi(k); err == nil {
			if m, err := ParseMechanics(string(v)); err == nil {
				c.mech[id] = m
			}
		}
	}
	return c, nil
}

func decodeCache(b []byte, f *cacheFile) error {
	if err := json.Unmarshal(b, f); err != nil {
		return err
	}
	if f.Version != cacheVersion {
		return fmt.Errorf("cache version %d, want %d", f.Version, cacheVersion)
	}
	return nil
}

// Get returns what is known of card.
func (c *Cache) Get(card string) (CardInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, ok := c.cards[card]
	return info, ok
}

// Put remembers card and writes the file.
func (c *Cache) Put(card string, info CardInfo) error {
	c.mu.Lock()
	c.cards[card] = info
	if len(c.cards) > maxCacheCards {
		c.evictLocked()
	}
	c.version++
	c.mu.Unlock()
	return c.save()
}

// Forget drops card (the API no longer knows it) and writes the file.
func (c *Cache) Forget(card string) error {
	c.mu.Lock()
	if _, ok := c.cards[card]; !ok {
		c.mu.Unlock()
		return nil
	}
	delete(c.cards, card)
	c.version++
	c.mu.Unlock()
	return c.save()
}

// Mechanics returns the mechanics learned for a template.
func (c *Cache) Mechanics(templateID int) (Mechanics, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.mech[templateID]
	return m, ok
}

// LearnMechanics remembers a template's mechanics and writes the file if
// they changed.
func (c *Cache) LearnMechanics(templateID int, m Mechanics) error {
	c.mu.Lock()
	if c.mech[templateID] == m {
		c.mu.Unlock()
		return nil
	}
	c.mech[templateID] = m
	c.version++
	c.mu.Unlock()
	return c.save()
}

// Len returns the number of cards remembered.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cards)
}

// evictLocked drops the least recently updated tenth of the cards.
func (c *Cache) evictLocked() {
	type kv struct {
		k  string
		at time.Time
	}
	all := make([]kv, 0, len(c.cards))
	for k, v := range c.cards {
		all = append(all, kv{k, v.UpdatedAt})
	}
	slices.SortFunc(all, func(a, b kv) int { return a.at.Compare(b.at) })
	for _, e := range all[:len(all)/10] {
		delete(c.cards, e.k)
	}
}

// save writes the whole cache atomically, unless a concurrent save already
// wrote this version or a later one (changes made while a write runs go
// out together in the next). Only the copy of the maps holds mu; encoding
// and writing the file do not, so Get never waits for the disk.
func (c *Cache) save() error {
	if c.path == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	version := c.version
	if version == c.saved {
		c.mu.Unlock()
		return nil
	}
	f := cacheFile{Version: cacheVersion, Cards: maps.Clone(c.cards), Mechanics: make(map[string]Mechanics, len(c.mech))}
	for id, m := range c.mech {
		f.Mechanics[strconv.Itoa(id)] = m
	}
	c.mu.Unlock()
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("pos: card cache: %w", err)
	}
	if err := writeAtomic(c.path, b); err != nil {
		return fmt.Errorf("pos: card cache: %w", err)
	}
	c.saved = version
	return nil
}

// writeAtomic replaces path with b so that a crash leaves either the old or
// the new file, never a torn one.
func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
