package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrQuarantined is returned (wrapped, together with ErrNotFound) for a job
// whose record was found damaged and moved to the quarantine: it is never
// sent; an operator reads it with Quarantined.
var ErrQuarantined = errors.New("its record is damaged and was quarantined")

// Quarantined is a record the queue could not use (it did not decode, or
// decoded to something invalid), kept byte for byte for an operator. It is
// in no index: it is never handed out and holds no card.
type Quarantined struct {
	Key    string    `json:"key"`    // the key it was stored under (the job id, unless that was damaged too)
	Data   []byte    `json:"data"`   // the record exactly as it was stored (base64 in JSON)
	Reason string    `json:"reason"` // why it could not be used
	At     time.Time `json:"at"`     // when it was quarantined
}

// quarantineNote is the value of bucketQuarantineWhy.
type quarantineNote struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// quarantineRecord moves the record under key from the jobs bucket to the
// quarantine, unchanged. The caller rebuilds the indexes afterwards (the
// record cannot be decoded, so its index entries cannot be found by value).
func (t *txn) quarantineRecord(key []byte, why error, now time.Time) error {
	v := t.jobs.Get(key)
	if v == nil {
		// A nested bucket where a record should be (a damaged flag): not
		// a record the queue can move; the file is not a valid queue.
		return fmt.Errorf("%w: key %.40q of the jobs bucket is not a record", ErrCorrupt, key)
	}
	data, to := bytes.Clone(v), key
	if old := t.quarantine.Get(key); old != nil && !bytes.Equal(old, data) {
		// The same key quarantined before with other bytes: keep both.
		to = fmt.Appendf(bytes.Clone(key), "#%d", now.UnixNano())
	}
	note, err := json.Marshal(quarantineNote{Reason: why.Error(), At: now})
	if err != nil {
		return err
	}
	if err := t.quarantine.Put(to, data); err != nil {
		return fmt.Errorf("quarantine %.40q: %w", key, err)
	}
	if err := t.quarantineWhy.Put(to, note); err != nil {
		return fmt.Errorf("quarantine %.40q: %w", key, err)
	}
	if err := t.jobs.Delete(key); err != nil {
		return fmt.Errorf("quarantine %.40q: %w", key, err)
	}
	if t.jobs.Get(key) != nil {
		return fmt.Errorf("%w: quarantine %.40q: the record cannot be removed (a damaged page)", ErrCorrupt, key)
	}
	return nil
}

// Quarantined returns every quarantined record, in key order, for an
// operator or a support bundle. Quarantined records are never sent; a
// record that is still readable can be re-entered by hand.
func (q *Queue) Quarantined() ([]Quarantined, error) {
	var out []Quarantined
	err := q.view(func(t *txn) error {
		out = out[:0]
		return t.quarantine.ForEach(func(k, v []byte) error {
			r := Quarantined{Key: string(k), Data: bytes.Clone(v)}
			var n quarantineNote
			if err := json.Unmarshal(t.quarantineWhy.Get(k), &n); err == nil {
				r.Reason, r.At = n.Reason, n.At
			} else {
				r.Reason = "(the reason was not readable)"
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("queue: quarantined: %w", err)
	}
	return out, nil
}

// ExportQuarantined writes every quarantined record as one JSON object
// (Quarantined, its bytes in base64) per line, for a support bundle beside
// Export, which holds only the jobs that can be used.
func (q *Queue) ExportQuarantined(w io.Writer) error {
	recs, err := q.Quarantined()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("queue: export quarantined: %w", err)
		}
	}
	return nil
}
