package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EnqueueBatch stores many pending jobs in one transaction, for benchmarks
// that need a large backlog quickly. It keeps every index as Enqueue does.
func (q *Queue) EnqueueBatch(scans []Scan, now time.Time) error {
	return q.update(func(t *txn) error {
		for _, s := range scans {
			id, err := q.newID(t, now)
			if err != nil {
				return err
			}
			j := Job{ID: id, Scan: s, State: Pending, CreatedAt: now, UpdatedAt: now, NextAttempt: now}
			if err := t.save(Job{}, j); err != nil {
				return err
			}
		}
		return nil
	})
}

// RawUpdate runs fn on the queue's buckets in one transaction, so tests can
// break invariants on purpose and see Check notice.
func (q *Queue) RawUpdate(fn func(jobs, due, cards, states, finished interface {
	Put(k, v []byte) error
	Delete(k []byte) error
}) error) error {
	return q.update(func(t *txn) error { return fn(t.jobs, t.due, t.cards, t.states, t.finished) })
}

// SetPruneBatch sets how many jobs Prune deletes per transaction.
func (q *Queue) SetPruneBatch(n int) { q.pruneBatch = n }

// DropBatch drops many jobs in one transaction, as Drop does one by one, so
// tests can empty a big backlog quickly.
func (q *Queue) DropBatch(ids []string, now time.Time) error {
	return q.update(func(t *txn) error {
		for _, id := range ids {
			j, err := t.get(id)
			if err != nil {
				return err
			}
			old := j
			j.State, j.UpdatedAt, j.FinishedAt = Dropped, now, now
			if err := t.save(old, j); err != nil {
				return err
			}
		}
		return nil
	})
}

// RawRecord returns the stored bytes of job id (nil if there are none).
func (q *Queue) RawRecord(id string) []byte {
	var v []byte
	_ = q.db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bucketJobs).Get([]byte(id)))
		return nil
	})
	return v
}

// SetFormat1 turns a closed queue file into the format 1 layout (no history
// or quarantine buckets, no Job.Uncertain) for the upgrade test.
func SetFormat1(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketHistory, bucketQuarantine, bucketQuarantineWhy, bucketCardCache, bucketTemplateCache} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		jobs := tx.Bucket(bucketJobs)
		var recs [][2][]byte
		_ = jobs.ForEach(func(k, v []byte) error {
			var m map[string]any
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			delete(m, "uncertain")
			nv, _ := json.Marshal(m)
			recs = append(recs, [2][]byte{bytes.Clone(k), nv})
			return nil
		})
		for _, r := range recs {
			if err := jobs.Put(r[0], r[1]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyFormat, binary.BigEndian.AppendUint32(nil, 1))
	})
}

// Commits returns how many read-write transactions the queue committed
// (each one fsync'd) since it was opened.
func (q *Queue) Commits() int64 { return q.gc.commits.Load() }

// RawCardPut writes an entry of the card cache as is, for tests that damage it.
func (q *Queue) RawCardPut(k, v []byte) error {
	return q.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCardCache).Put(k, v) })
}

// RawMetaPut writes a key of the meta bucket as is, for tests that damage it.
func (q *Queue) RawMetaPut(k string, v []byte) error {
	return q.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(k), v) })
}
