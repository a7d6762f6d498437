package pos

// The card cache's old home: cards.json in the state directory, one JSON
// file the daemon rewrote whole for every new card. The cache now lives in
// the queue's file (NewCache); ImportCacheFile moves an old file's cards
// over once, and this file is only its reader.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
)

// cacheFile is the form of the old cache file.
type cacheFile struct {
	Version   int                  `json:"version"`
	Cards     map[string]CardInfo  `json:"cards"`
	Mechanics map[string]Mechanics `json:"mechanics"` // learned, by template id
}

// cacheFileVersion is the only version of the old cache file there was.
const cacheFileVersion = 1

// ImportCacheFile stores the cards and mechanics of an old cache file
// (cards.json) in c, except those c already knows and the cards beyond its
// bound, then renames the file to "<path>.imported" so the import runs
// once and nobody takes the file for the live cache. A missing file
// imports nothing; one that cannot be decoded is moved aside to
// "<path>.corrupt-<UTC time>" with a warning and imports nothing (each of
// its cards costs one GET when it comes back). It returns how many cards
// it stored; after an error the file stays, so the next start tries again.
func ImportCacheFile(c *Cache, path string) (int, error) {
	cards, mech, err := readCacheFile(path, c.log)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n, err := c.putMany(cards)
	if err != nil {
		return n, err
	}
	for id, m := range mech {
		if _, ok := c.Mechanics(id); !ok {
			if err := c.LearnMechanics(id, m); err != nil {
				return n, err
			}
		}
	}
	return n, renameImported(path)
}

// renameImported marks an imported file as such; one already gone (moved
// aside as unreadable) is fine.
func renameImported(path string) error {
	if err := os.Rename(path, path+".imported"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pos: card cache: %w", err)
	}
	return nil
}

// readCacheFile reads an old cache file, keeping the entries that are
// valid. A missing file is an error matching fs.ErrNotExist; one that
// cannot be decoded is moved aside and reads as empty.
func readCacheFile(path string, log zerolog.Logger) (map[string]CardInfo, map[int]Mechanics, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("pos: card cache: %w", err)
	}
	cards, mech := map[string]CardInfo{}, map[int]Mechanics{}
	var f cacheFile
	if err := decodeCacheFile(b, &f); err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, nil, fmt.Errorf("pos: card cache %s is unreadable (%v) and cannot be moved aside: %w", path, err, rerr)
		}
		log.Warn().Err(err).Str("path", path).Str("moved_to", aside).
			Msg("the old card cache file was unreadable and was moved aside; nothing imported (costs one extra API request per card)")
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

func decodeCacheFile(b []byte, f *cacheFile) error {
	if err := json.Unmarshal(b, f); err != nil {
		return err
	}
	if f.Version != cacheFileVersion {
		return fmt.Errorf("cache version %d, want %d", f.Version, cacheFileVersion)
	}
	return nil
}
