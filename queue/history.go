package queue

import (
	"bytes"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// The queries below serve per-card caps and cooldowns (on the scan path)
// and the day's report. Both select by the time in the job's id: its
// creation time, except after the clock stepped back, when ids keep growing
// from the latest time the file has seen. Jobs are kept until pruned
// (Retention after they finished), so a query reaches back that far.

// CardHistory returns card's jobs created at or after since, in any state,
// oldest first. It is one range scan of the history index: its cost grows
// with the jobs it returns, not with the queue.
func (q *Queue) CardHistory(card string, since time.Time) ([]Job, error) {
	var out []Job
	err := q.view(func(t *txn) (err error) {
		p := cardPrefix(card)
		c := t.history.Cursor()
		k, _ := c.Seek(join(p, idFloor(since)))
		// A longer key under p would be a card whose number goes on after
		// a NUL: there is none, checkScan refuses NUL.
		out, err = t.collect(c, k, func(k []byte, _ int) bool { return bytes.HasPrefix(k, p) && len(k) == len(p)+idLen })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: history of card %s: %w", card, err)
	}
	return out, nil
}

// Created returns the jobs created in [from, to), in any state, oldest
// first: one range scan over the ids. For the day's report.
func (q *Queue) Created(from, to time.Time) ([]Job, error) {
	var out []Job
	err := q.view(func(t *txn) error {
		out = out[:0]
		end := idFloor(to)
		c := t.jobs.Cursor()
		for k, _ := c.Seek(idFloor(from)); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
			j, err := t.get(string(k))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue: jobs created from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return out, nil
}

// collect returns the jobs that c's keys name, in key order, from k (the
// key c is at) on while in(k, n) holds, n being how many it has collected.
// Every key of an index ends in its job's id (and a record's key is its
// id), so one lookup per key reads the job from its record, the truth.
func (t *txn) collect(c *bolt.Cursor, k []byte, in func(k []byte, n int) bool) ([]Job, error) {
	var out []Job
	for ; k != nil && in(k, len(out)); k, _ = c.Next() {
		j, err := t.get(idOf(k))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// idFloor returns the smallest id of time t (its millisecond, random part
// zero): every id issued at t or later sorts at or after it.
func idFloor(t time.Time) []byte {
	var ms uint64
	switch {
	case t.Before(time.UnixMilli(0)):
	case t.After(ulid.Time(ulid.MaxTime())):
		ms = ulid.MaxTime()
	default:
		ms = ulid.Timestamp(t)
	}
	var id ulid.ULID
	_ = id.SetTime(ms) // in range by the switch
	return []byte(id.String())
}
