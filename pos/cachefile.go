package pos

// The card cache's old home: one JSON file rewritten whole on every change
// (cards.json in the state directory). The daemon still keeps its cache
// there; NewCache keeps it in the queue's file instead, and ImportCacheFile
// moves an old file's cards over once.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
)

// cacheFile is the on-disk form of a Cache.
type cacheFile struct {
	Version   int                  `json:"version"`
	Cards     map[string]CardInfo  `json:"cards"`
	Mechanics map[string]Mechanics `json:"mechanics"` // learned, by template id
}

// OpenCache loads the cache file at path, or starts empty if there is none.
// path "" keeps the cache in memory only. A file that cannot be decoded is
// moved aside (to "<path>.corrupt-<UTC time>") with a warning on log and the
// cache starts empty: losing it only costs one GET per card. An error means
// the file exists but cannot be read, or the directory cannot be written.
//
// Deprecated: keep the cache in the queue's file with NewCache(q, log); the
// whole-file JSON rewrites the file for every new card. ImportCacheFile
// moves an old file's cards over.
func OpenCache(path string, log zerolog.Logger) (*Cache, error) {
	c := &Cache{path: path, log: log, max: maxCacheCards, cards: map[string]CardInfo{}, mech: map[int]Mechanics{}}
	if path == "" {
		return c, nil
	}
	cards, mech, err := readCacheFile(path, log)
	if err != nil {
		return nil, err
	}
	c.cards, c.mech = cards, mech
	return c, nil
}

// ImportCacheFile stores the cards and mechanics of an old cache file
// (OpenCache's) in c, except those c already knows, then renames the file
// to "<path>.imported" so the import runs once. A missing file imports
// nothing. It returns how many cards it stored.
func ImportCacheFile(c *Cache, path string) (int, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	cards, mech, err := readCacheFile(path, c.log)
	if err != nil {
		return 0, err
	}
	n := 0
	for card, info := range cards {
		if _, ok := c.Get(card); ok {
			continue
		}
		if err := c.Put(card, info); err != nil {
			return n, err
		}
		n++
	}
	for id, m := range mech {
		if _, ok := c.Mechanics(id); !ok {
			if err := c.LearnMechanics(id, m); err != nil {
				return n, err
			}
		}
	}
	if err := os.Rename(path, path+".imported"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return n, fmt.Errorf("pos: card cache: %w", err)
	}
	return n, nil
}

// readCacheFile reads an OpenCache file; one that cannot be decoded is
// moved aside and reads as empty.
func readCacheFile(path string, log zerolog.Logger) (map[string]CardInfo, map[int]Mechanics, error) {
	cards, mech := map[string]CardInfo{}, map[int]Mechanics{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cards, mech, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("pos: card cache: %w", err)
	}
	var f cacheFile
	if err := decodeCache(b, &f); err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, nil, fmt.Errorf("pos: card cache %s is unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		log.Warn().Err(err).Str("path", path).Str("moved_to", aside).
			Msg("card cache was unreadable and was moved aside; starting empty (costs one extra API request per card)")
		return cards, mech, nil
	}
	for k, v := range f.Cards {
		if apiclient.ValidCardNumber(k) == nil && v.Type.Valid() {
			cards[k] = v
		}
	}
	for k, v := range f.Mechanics {
		if id, err := strconv.Atoi(k); err == nil {
			if m, err := ParseMechanics(string(v)); err == nil {
				mech[id] = m
			}
		}
	}
	return cards, mech, nil
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

// saveFileLocked writes the whole cache file atomically (file mode only),
// unless it already holds this version. Only the copy of the maps holds
// mu; encoding and writing the file do not, so Get never waits for the
// disk. saveMu must be held.
func (c *Cache) saveFileLocked() error {
	if c.path == "" {
		return nil
	}
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
