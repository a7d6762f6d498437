package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Stats is a snapshot of the queue for the status page and `tillscan queue stats`.
type Stats struct {
	Depth           map[State]int `json:"depth"`                     // jobs per state, finished ones still kept included
	OldestPending   time.Duration `json:"oldest_pending"`            // age of the oldest pending job (since enqueue); 0 if none
	OldestAmbiguous time.Duration `json:"oldest_ambiguous"`          // age of the oldest ambiguous job; 0 if none
	LastDone        time.Time     `json:"last_done,omitzero"`        // when a job last became done
	FileSize        int64         `json:"file_size"`                 // bytes on disk
	MovedAside      string        `json:"moved_aside,omitempty"`     // where Open moved an invalid file, if it did
	MovedAsideWhy   string        `json:"moved_aside_why,omitempty"` // and why
	Quarantined     int           `json:"quarantined"`               // damaged records set aside (see Queue.Quarantined); a problem for an operator
}

// Stats returns depth per state and the ages that matter during an outage.
// It reads counters and the first entry of two indexes, not the backlog.
func (q *Queue) Stats(now time.Time) (Stats, error) {
	s := Stats{Depth: make(map[State]int, len(states)), MovedAside: q.movedTo}
	if q.moveErr != nil {
		s.MovedAsideWhy = q.moveErr.Error()
	}
	err := q.view(func(t *txn) error {
		for _, st := range states {
			s.Depth[st] = t.counter(st)
		}
		for st, age := range map[State]*time.Duration{Pending: &s.OldestPending, Ambiguous: &s.OldestAmbiguous} {
			p := statePrefix(st)
			if k, _ := t.states.Cursor().Seek(p); k != nil && bytes.HasPrefix(k, p) {
				j, err := t.get(idOf(k))
				if err != nil {
					return err
				}
				*age = max(now.Sub(j.CreatedAt), 0)
			}
		}
		s.Quarantined = t.quarantine.Stats().KeyN
		if v := t.meta.Get(keyLastDone); len(v) == 8 {
			s.LastDone = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}
		s.FileSize = t.tx.Size()
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("queue: stats: %w", err)
	}
	if n, err := q.FileSize(); err == nil {
		s.FileSize = n
	}
	return s, nil
}

// List returns up to limit jobs in state (all states if state is ""), in id
// (= enqueue) order, starting after afterID ("" for the start). limit <= 0
// means no limit.
func (q *Queue) List(state State, limit int, afterID string) ([]Job, error) {
	if state != "" && !state.valid() {
		return nil, fmt.Errorf("queue: list: unknown state %q (want one of %v)", state, states)
	}
	var out []Job
	err := q.view(func(t *txn) (err error) {
		b, p := t.jobs, []byte(nil)
		if state != "" {
			b, p = t.states, statePrefix(state)
		}
		c := b.Cursor()
		k, _ := c.Seek(join(p, []byte(afterID)))
		if afterID != "" && k != nil && idOf(k) == afterID {
			k, _ = c.Next()
		}
		out, err = t.collect(c, k, func(k []byte, n int) bool { return bytes.HasPrefix(k, p) && (limit <= 0 || n < limit) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queue: list: %w", err)
	}
	return out, nil
}

// OperatorRetry makes a dead, ambiguous or pending job pending and due now.
// Retrying an ambiguous job re-sends it without reconciliation: use Resolve
// when the back office shows whether it was applied.
func (q *Queue) OperatorRetry(id string, now time.Time) error {
	return q.change("retry (operator)", id, []State{Dead, Ambiguous, Pending}, func(_ *txn, j *Job) error {
		addAttempt(j, Attempt{At: now, Kind: "operator", Outcome: "retry", Note: "was " + string(j.State)})
		j.State, j.NextAttempt, j.UpdatedAt, j.Misses, j.Reason = Pending, now, now, 0, ""
		return nil
	})
}

// Drop turns a pending, ambiguous or dead job into a dropped tombstone,
// kept for Retention for audit; the card's next job becomes due. A job in
// sending cannot be dropped: its request is in flight.
func (q *Queue) Drop(id, reason string, now time.Time) error {
	return q.change("drop", id, []State{Pending, Ambiguous, Dead}, func(_ *txn, j *Job) error {
		addAttempt(j, Attempt{At: now, Kind: "operator", Outcome: "dropped", Note: reason})
		j.State, j.Reason, j.UpdatedAt, j.FinishedAt = Dropped, reason, now, now
		return nil
	})
}

// ErrNotUncertain is returned (wrapped, with ErrState) by Resolve with
// applied=true for a job whose outcome is not uncertain: one that was never
// sent, or whose send got a definite answer. Marking it applied would make
// the audit trail lie; retry or drop it instead.
var ErrNotUncertain = errors.New("only an uncertain job (sent, outcome unknown) can be resolved as applied")

// Resolve settles an ambiguous or dead job by what the operator saw in the
// back office: applied makes it done, not applied makes it pending, due now
// (it will be sent again, with the same marker). Applied is only for an
// uncertain job (Job.Uncertain: ambiguous, or dead while its outcome was
// unknown); for any other it gives ErrNotUncertain.
func (q *Queue) Resolve(id string, applied bool, note string, now time.Time) error {
	return q.change("resolve", id, []State{Ambiguous, Dead}, func(_ *txn, j *Job) error {
		if applied {
			if !j.Uncertain {
				why := "was never sent"
				if !j.SentAt.IsZero() {
					why = "got a definite answer from the API"
				}
				return fmt.Errorf("job is %s and %s: %w: %w", j.State, why, ErrNotUncertain, ErrState)
			}
			addAttempt(j, Attempt{At: now, Kind: "operator", Outcome: "applied", Note: note})
			j.State, j.UpdatedAt, j.FinishedAt = Done, now, now
			return nil
		}
		addAttempt(j, Attempt{At: now, Kind: "operator", Outcome: "not_applied", Note: note})
		j.State, j.NextAttempt, j.UpdatedAt, j.Misses, j.Reason = Pending, now, now, 0, ""
		return nil
	})
}

// Prune deletes done, refused and dropped jobs that finished more than Retention
// before now, and returns how many it deleted. Pages it frees are reused by
// later writes, so the file stays as large as the peak backlog.
func (q *Queue) Prune(now time.Time) (int, error) {
	limit := keyTime(tkey(now.Add(-q.opts.Retention)))
	n := 0
	for {
		done, deleted := false, 0
		err := q.update(func(t *txn) error {
			c := t.finished.Cursor()
			var batch []string
			for k, _ := c.First(); k != nil && keyTime(k) < limit && len(batch) < q.pruneBatch; k, _ = c.Next() {
				batch = append(batch, idOf(k))
			}
			done = len(batch) < q.pruneBatch
			for _, id := range batch {
				j, err := t.get(id)
				if err != nil {
					return err
				}
				if err := t.remove(j); err != nil {
					return err
				}
			}
			deleted = len(batch) // set, not added: update may run this twice
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("queue: prune: %w", err)
		}
		n += deleted
		if done {
			return n, nil
		}
	}
}

// Export writes every job as one JSON object per line, in id order. It reads
// in pages, so a slow writer does not pin the file's pages for long.
func (q *Queue) Export(w io.Writer) error {
	enc := json.NewEncoder(w)
	after := ""
	for {
		jobs, err := q.List("", 500, after)
		if err != nil {
			return fmt.Errorf("queue: export: %w", err)
		}
		for _, j := range jobs {
			if err := enc.Encode(j); err != nil {
				return fmt.Errorf("queue: export: %w", err)
			}
		}
		if len(jobs) < 500 {
			return nil
		}
		after = jobs[len(jobs)-1].ID
	}
}

// Check runs bbolt's structural check and verifies the queue's own
// invariants (see the package documentation) with the audit Open runs. It
// reads the whole file; it is meant for `tillscan queue check`, not for
// every request. It repairs nothing (Open does). A non-nil error wraps
// ErrCorrupt and lists the first problems. Quarantined records are not a
// problem of the file: they are isolated, counted in Stats.
func (q *Queue) Check() error {
	var problems []error
	add := func(format string, args ...any) {
		if len(problems) <= 2*maxProblems {
			problems = append(problems, fmt.Errorf(format, args...))
		}
	}
	err := q.db.View(func(tx *bolt.Tx) error {
		if err := structural(tx); err != nil {
			add("%w", err)
		}
		t, err := wrap(tx)
		if err != nil {
			return err
		}
		f := t.audit()
		if f.broken != nil {
			add("%w", f.broken)
		}
		for _, b := range f.bad {
			add("%s", b)
		}
		for _, p := range f.problems {
			add("%s", p)
		}
		if n := f.nBad + f.nProblems - len(f.bad) - len(f.problems); n > 0 {
			add("and %d more", n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: check %s: %w: %w", q.path, ErrCorrupt, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("queue: check %s: %w: %w", q.path, ErrCorrupt, errors.Join(problems...))
	}
	return nil
}
