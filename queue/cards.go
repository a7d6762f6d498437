package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// The caches of package pos: what it learnt about each card (type,
// template) and each template (mechanics), kept in the queue's file so that
// tillscan has one persistence mechanism. The queue stores the bytes and
// never interprets them. A put is one small transaction (shared with
// concurrent writers, see groupCommit), so a new card never rewrites
// anything else. Each entry is tkey(updated) ‖ data.

// maxCacheData bounds what one cache entry stores.
const maxCacheData = 64 << 10

// cache is one of the two caches: what it is called in errors and exports,
// and its bucket.
type cache struct {
	kind   string // "card" or "template"
	bucket []byte
}

var (
	cardCache     = cache{"card", bucketCardCache}
	templateCache = cache{"template", bucketTemplateCache}
	caches        = []cache{cardCache, templateCache}
)

// PutCard stores data for the card number, replacing what was there, with
// now as its update time. It returns once the change is on disk.
func (q *Queue) PutCard(number string, data []byte, now time.Time) error {
	return q.put(cardCache, number, data, now)
}

// DeleteCard removes the card number's data; removing a card that is not
// there is not an error.
func (q *Queue) DeleteCard(number string) error { return q.delete(cardCache, number) }

// Cards calls fn for every stored card, in number order, with a copy of its
// data and its update time. An error from fn stops the walk and is returned.
func (q *Queue) Cards(fn func(number string, data []byte, updated time.Time) error) error {
	return q.each(cardCache, fn)
}

// PutTemplate stores data for the template id (e.g. its learned
// mechanics), as PutCard does for a card.
func (q *Queue) PutTemplate(id string, data []byte, now time.Time) error {
	return q.put(templateCache, id, data, now)
}

// DeleteTemplate removes the template id's data, as DeleteCard does.
func (q *Queue) DeleteTemplate(id string) error { return q.delete(templateCache, id) }

// Templates calls fn for every stored template, as Cards does.
func (q *Queue) Templates(fn func(id string, data []byte, updated time.Time) error) error {
	return q.each(templateCache, fn)
}

// CacheEntry is one entry of a cache as ExportCaches writes it.
type CacheEntry struct {
	Kind    string    `json:"kind"` // "card" or "template"
	Key     string    `json:"key"`  // the card number or template id
	Data    []byte    `json:"data"` // as stored (base64 in JSON)
	Updated time.Time `json:"updated"`
}

// ExportCaches writes every cached card, then every cached template, as one
// JSON object (CacheEntry) per line, for a support bundle beside Export.
func (q *Queue) ExportCaches(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, c := range caches {
		err := q.each(c, func(key string, data []byte, updated time.Time) error {
			return enc.Encode(CacheEntry{Kind: c.kind, Key: key, Data: data, Updated: updated})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) put(c cache, key string, data []byte, now time.Time) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("queue: put %s: %w", c.kind, err)
	}
	if len(data) > maxCacheData {
		return fmt.Errorf("queue: put %s %s: %d bytes of data, limit %d", c.kind, key, len(data), maxCacheData)
	}
	v := append(tkey(now), data...)
	err := q.update(func(t *txn) error { return t.tx.Bucket(c.bucket).Put([]byte(key), v) })
	if err != nil {
		return fmt.Errorf("queue: put %s %s: %w", c.kind, key, err)
	}
	return nil
}

func (q *Queue) delete(c cache, key string) error {
	err := q.update(func(t *txn) error { return t.tx.Bucket(c.bucket).Delete([]byte(key)) })
	if err != nil {
		return fmt.Errorf("queue: delete %s %s: %w", c.kind, key, err)
	}
	return nil
}

func (q *Queue) each(c cache, fn func(key string, data []byte, updated time.Time) error) error {
	err := q.view(func(t *txn) error {
		return t.tx.Bucket(c.bucket).ForEach(func(k, v []byte) error {
			if !cacheEntryOK(k, v) {
				return fmt.Errorf("%s %.40q: damaged entry of %d bytes", c.kind, k, len(v))
			}
			return fn(string(k), append([]byte(nil), v[8:]...), time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC())
		})
	})
	if err != nil {
		return fmt.Errorf("queue: %ss: %w", c.kind, err)
	}
	return nil
}

// checkKey is what a cache key must satisfy: what a card number must.
func checkKey(key string) error { return checkScan(Scan{Card: key}) }

// cacheEntryOK reports whether k, v is an entry put could have written.
func cacheEntryOK(k, v []byte) bool {
	return v != nil && len(v) >= 8 && len(v) <= 8+maxCacheData && checkKey(string(k)) == nil
}

// checkCaches reports entries put could not have written.
func (t *txn) checkCaches(f *findings) {
	for _, c := range caches {
		_ = t.tx.Bucket(c.bucket).ForEach(func(k, v []byte) error {
			if !cacheEntryOK(k, v) {
				f.add("%s cache: entry %.40q of %d bytes is damaged", c.kind, k, len(v))
			}
			return nil
		})
	}
}

// dropDamagedCaches drops the entries checkCaches reports: the caches
// hold nothing pos cannot learn again from the API. A cache with any is
// written afresh from its good entries rather than by deleting the bad
// ones: a bit flip in a key leaves the entry where the old key sorted,
// out of order in its page, where Delete's search does not find it (and
// the repair said "dropped" while the entry stayed and stopped the start).
func (t *txn) dropDamagedCaches() ([]string, error) {
	var dropped []string
	for _, c := range caches {
		type entry struct{ k, v []byte }
		var good []entry
		var bad []string
		_ = t.tx.Bucket(c.bucket).ForEach(func(k, v []byte) error {
			if cacheEntryOK(k, v) {
				good = append(good, entry{bytes.Clone(k), bytes.Clone(v)})
			} else {
				bad = append(bad, fmt.Sprintf("dropped damaged %s cache entry %.40q (pos learns it again)", c.kind, k))
			}
			return nil
		})
		if len(bad) == 0 {
			continue
		}
		if err := t.tx.DeleteBucket(c.bucket); err != nil {
			return dropped, fmt.Errorf("%w: %s cache: drop: %w", ErrCorrupt, c.kind, err)
		}
		b, err := t.tx.CreateBucket(c.bucket)
		if err != nil {
			return dropped, fmt.Errorf("%w: %s cache: create: %w", ErrCorrupt, c.kind, err)
		}
		for _, e := range good {
			if err := b.Put(e.k, e.v); err != nil {
				return dropped, fmt.Errorf("%w: %s cache: put %.40q: %w", ErrCorrupt, c.kind, e.k, err)
			}
		}
		dropped = append(dropped, bad...)
	}
	return dropped, nil
}
