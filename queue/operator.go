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
		return nil, fmt.Errorf("queue: list: unknown state %q (want pending, sending, ambiguous, dead, done or dropped)", state)
	}
	var out []Job
	err := q.view(func(t *txn) error {
		b, p := t.jobs, []byte(nil)
		if state != "" {
			b, p = t.states, statePrefix(state)
		}
		c := b.Cursor()
		k, _ := c.Seek(join(p, []byte(afterID)))
		if afterID != "" && k != nil && idOf(k) == afterID {
			k, _ = c.Next()
		}
		for ; k != nil && bytes.HasPrefix(k, p) && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
			j, err := t.get(idOf(k))
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
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

// Resolve settles an ambiguous or dead job by what the operator saw in the
// back office: applied makes it done, not applied makes it pending, due now
// (it will be sent again, with the same marker).
func (q *Queue) Resolve(id string, applied bool, note string, now time.Time) error {
	return q.change("resolve", id, []State{Ambiguous, Dead}, func(_ *txn, j *Job) error {
		if applied {
			addAttempt(j, Attempt{At: now, Kind: "operator", Outcome: "applied", Note: note})
			j.State, j.UpdatedAt, j.FinishedAt = Done, now, now
			return nil
		}
		addAttempt(j, Attempt{At: now, Kind: "operator", Outcome: "not_applied", Note: note})
		j.State, j.NextAttempt, j.UpdatedAt, j.Misses, j.Reason = Pending, now, now, 0, ""
		return nil
	})
}

// Prune deletes done and dropped jobs that finished more than Retention
// before now, and returns how many it deleted. Pages it frees are reused by
// later writes, so the file stays as large as the peak backlog.
func (q *Queue) Prune(now time.Time) (int, error) {
	limit := keyTime(tkey(now.Add(-q.opts.Retention)))
	n := 0
	for {
		done := false
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
			n += len(batch)
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("queue: prune: %w", err)
		}
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
// invariants (see the package documentation). It reads the whole file; it
// is meant for `tillscan queue check`, not for every request. A non-nil
// error wraps ErrCorrupt and lists up to 20 problems.
func (q *Queue) Check() error {
	var problems []error
	add := func(format string, args ...any) {
		if len(problems) < 20 {
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
		checkIndexes(t, add)
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

type jobInfo struct {
	state    State
	card     string
	next     uint64
	finished uint64
	seen     int // entries found in the state index
}

func checkIndexes(t *txn, add func(string, ...any)) {
	jobs := map[string]*jobInfo{}
	count := map[State]int{}
	_ = t.jobs.ForEach(func(k, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			add("job %s: undecodable: %v", k, err)
			return nil
		}
		if j.ID != string(k) || len(k) != idLen {
			add("job under key %q has id %q", k, j.ID)
			return nil
		}
		if !j.State.valid() {
			add("job %s: unknown state %q", j.ID, j.State)
		}
		jobs[j.ID] = &jobInfo{state: j.State, card: j.Card, next: keyTime(tkey(j.NextAttempt)), finished: keyTime(tkey(j.FinishedAt))}
		count[j.State]++
		return nil
	})
	for _, s := range states {
		if got := t.counter(s); got != count[s] {
			add("counter of %s jobs is %d, there are %d", s, got, count[s])
		}
	}
	_ = t.states.ForEach(func(k, _ []byte) error {
		i := bytes.IndexByte(k, 0)
		if i < 0 || len(k) != i+1+idLen {
			add("state index: malformed key %q", k)
			return nil
		}
		id, st := idOf(k), State(k[:i])
		switch j := jobs[id]; {
		case j == nil:
			add("state index: %s points to missing job %s", st, id)
		case j.state != st:
			add("state index: job %s listed as %s, is %s", id, st, j.state)
		default:
			j.seen++
		}
		return nil
	})
	heads := map[string]string{}
	inCards := map[string]bool{}
	_ = t.cards.ForEach(func(k, _ []byte) error {
		if len(k) < idLen+2 || k[len(k)-idLen-1] != 0 {
			add("card index: malformed key %q", k)
			return nil
		}
		id, card := idOf(k), string(k[:len(k)-idLen-1])
		j := jobs[id]
		switch {
		case j == nil:
			add("card index: card %s points to missing job %s", card, id)
			return nil
		case j.card != card:
			add("card index: job %s listed under card %s, belongs to %s", id, card, j.card)
		case j.state.Finished():
			add("card index: job %s is %s but still holds card %s", id, j.state, card)
		}
		inCards[id] = true
		if h, ok := heads[card]; !ok {
			heads[card] = id
		} else if j.state != Pending {
			add("card %s: job %s is %s behind unfinished job %s (two heads)", card, id, j.state, h)
		}
		return nil
	})
	dueCards := map[string]bool{}
	_ = t.due.ForEach(func(k, _ []byte) error {
		if len(k) != 8+idLen {
			add("due index: malformed key %q", k)
			return nil
		}
		id := idOf(k)
		j := jobs[id]
		switch {
		case j == nil:
			add("due index: points to missing job %s", id)
			return nil
		case !isDueState(j.state):
			add("due index: job %s is %s", id, j.state)
		case heads[j.card] != id:
			add("due index: job %s is not the head of card %s", id, j.card)
		case keyTime(k) != j.next:
			add("due index: job %s listed at %d, due at %d", id, keyTime(k), j.next)
		case dueCards[j.card]:
			add("due index: card %s listed twice", j.card)
		}
		dueCards[j.card] = true
		return nil
	})
	for card, id := range heads {
		if j := jobs[id]; isDueState(j.state) && !dueCards[card] {
			add("card %s: head job %s is %s but not in the due index", card, id, j.state)
		}
	}
	inFinished := map[string]bool{}
	_ = t.finished.ForEach(func(k, _ []byte) error {
		if len(k) != 8+idLen {
			add("finished index: malformed key %q", k)
			return nil
		}
		id := idOf(k)
		switch j := jobs[id]; {
		case j == nil:
			add("finished index: points to missing job %s", id)
		case !j.state.Finished():
			add("finished index: job %s is %s", id, j.state)
		case keyTime(k) != j.finished:
			add("finished index: job %s listed at %d, finished at %d", id, keyTime(k), j.finished)
		}
		inFinished[id] = true
		return nil
	})
	for id, j := range jobs {
		if j.seen != 1 {
			add("job %s (%s) has %d state index entries, want 1", id, j.state, j.seen)
		}
		if !j.state.Finished() && !inCards[id] {
			add("job %s (%s) is missing from the index of card %s", id, j.state, j.card)
		}
		if j.state.Finished() && !inFinished[id] {
			add("job %s (%s) is missing from the finished index", id, j.state)
		}
	}
}
