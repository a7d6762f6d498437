package pos

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tillscan/tillscan/apiclient"
)

// ReadCardTypes returns the card types a cache file remembers, by card
// number, for readers other than the daemon (the day's report). Unlike
// OpenCache it never changes the file, which the running daemon may own: a
// missing file is no cards, a damaged one is an error.
func ReadCardTypes(path string) (map[string]apiclient.CardType, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]apiclient.CardType{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("pos: card cache: %w", err)
	}
	var f cacheFile
	if err := decodeCache(b, &f); err != nil {
		return nil, fmt.Errorf("pos: card cache %s: %w", path, err)
	}
	out := make(map[string]apiclient.CardType, len(f.Cards))
	for k, v := range f.Cards {
		if v.Type.Valid() {
			out[k] = v.Type
		}
	}
	return out, nil
}
