package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// The card cache: what package pos knows about each card (its type,
// template, mechanics), kept in the queue's file so that tillscan has one
// persistence mechanism. The queue stores the bytes and never interprets
// them; PutCard is one small transaction (shared with concurrent writers,
// see groupCommit), so a new card never rewrites anything else.

// maxCardData bounds what PutCard stores per card.
const maxCardData = 64 << 10

// PutCard stores data for the card number, replacing what was there, with
// now as its update time. It returns once the change is on disk.
func (q *Queue) PutCard(number string, data []byte, now time.Time) error {
	if err := checkScan(Scan{Card: number}); err != nil {
		return fmt.Errorf("queue: put card: %w", err)
	}
	if len(data) > maxCardData {
		return fmt.Errorf("queue: put card %s: %d bytes of data, limit %d", number, len(data), maxCardData)
	}
	v := append(tkey(now), data...)
	err := q.update(func(t *txn) error { return t.cardCache.Put([]byte(number), v) })
	if err != nil {
		return fmt.Errorf("queue: put card %s: %w", number, err)
	}
	return nil
}

// DeleteCard removes the card number's data; removing a card that is not
// there is not an error.
func (q *Queue) DeleteCard(number string) error {
	err := q.update(func(t *txn) error { return t.cardCache.Delete([]byte(number)) })
	if err != nil {
		return fmt.Errorf("queue: delete card %s: %w", number, err)
	}
	return nil
}

// Cards calls fn for every stored card, in number order, with a copy of its
// data and its update time. An error from fn stops the walk and is returned.
func (q *Queue) Cards(fn func(number string, data []byte, updated time.Time) error) error {
	err := q.view(func(t *txn) error {
		return t.cardCache.ForEach(func(k, v []byte) error {
			if len(v) < 8 {
				return fmt.Errorf("card %.40q: damaged entry of %d bytes", k, len(v))
			}
			return fn(string(k), append([]byte(nil), v[8:]...), time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC())
		})
	})
	if err != nil {
		return fmt.Errorf("queue: cards: %w", err)
	}
	return nil
}

// CardEntry is one card of the cache as ExportCards writes it.
type CardEntry struct {
	Number  string    `json:"number"`
	Data    []byte    `json:"data"` // as stored (base64 in JSON)
	Updated time.Time `json:"updated"`
}

// ExportCards writes every stored card as one JSON object (CardEntry) per
// line, in number order, for a support bundle beside Export.
func (q *Queue) ExportCards(w io.Writer) error {
	enc := json.NewEncoder(w)
	return q.Cards(func(number string, data []byte, updated time.Time) error {
		return enc.Encode(CardEntry{Number: number, Data: data, Updated: updated})
	})
}

// cardEntryOK reports whether k, v is an entry PutCard could have written.
func cardEntryOK(k, v []byte) bool {
	return v != nil && len(v) >= 8 && len(v) <= 8+maxCardData && checkScan(Scan{Card: string(k)}) == nil
}

// checkCardCache reports entries PutCard could not have written.
func (t *txn) checkCardCache(f *findings) {
	_ = t.cardCache.ForEach(func(k, v []byte) error {
		if !cardEntryOK(k, v) {
			f.add("card cache: entry %.40q of %d bytes is damaged", k, len(v))
		}
		return nil
	})
}

// dropDamagedCards deletes the entries checkCardCache reports: the cache
// holds nothing pos cannot learn again from the API.
func (t *txn) dropDamagedCards() ([]string, error) {
	var bad [][]byte
	_ = t.cardCache.ForEach(func(k, v []byte) error {
		if !cardEntryOK(k, v) {
			bad = append(bad, append([]byte(nil), k...))
		}
		return nil
	})
	var dropped []string
	for _, k := range bad {
		if err := t.cardCache.Delete(k); err != nil {
			return dropped, fmt.Errorf("%w: card cache: drop %.40q: %w", ErrCorrupt, k, err)
		}
		dropped = append(dropped, fmt.Sprintf("dropped damaged card cache entry %.40q (pos learns the card again)", k))
	}
	return dropped, nil
}
