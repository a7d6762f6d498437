package queue

import "time"

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
