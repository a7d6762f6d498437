package queue

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Limits on what Enqueue accepts, so one bad scan cannot bloat every later
// write of its job (each change rewrites the whole record).
const (
	maxCardLen = 256
	maxTextLen = 16 << 10
)

// Enqueue stores a new pending job due now and returns only once it is on
// disk (fsync'd). Its error means the scan was NOT saved.
func (q *Queue) Enqueue(s Scan, now time.Time) (Job, error) {
	if err := checkScan(s); err != nil {
		return Job{}, fmt.Errorf("queue: enqueue: scan NOT saved: %w", err)
	}
	var j Job
	err := q.update(func(t *txn) error {
		id, err := q.newID(t, now)
		if err != nil {
			return err
		}
		j = Job{ID: id, Scan: s, State: Pending, CreatedAt: now, UpdatedAt: now, NextAttempt: now}
		return t.save(Job{}, j)
	})
	if err != nil {
		return Job{}, fmt.Errorf("queue: enqueue card %s: scan NOT saved: %w", s.Card, err)
	}
	return j, nil
}

// checkScan is what a scan must satisfy to be stored; decodeJob holds every
// stored record to it too.
func checkScan(s Scan) error {
	switch {
	case s.Card == "":
		return errors.New("no card number")
	case len(s.Card) > maxCardLen || !printable(s.Card):
		return fmt.Errorf("card number %.40q is not a card number (too long, not UTF-8, or holds spaces or control characters)", s.Card)
	case len(s.Raw) > maxTextLen || len(s.TillID) > maxCardLen || len(s.Scanner) > maxCardLen || len(s.Mode) > maxCardLen:
		return fmt.Errorf("scan text too long (raw %d bytes, limit %d)", len(s.Raw), maxTextLen)
	}
	return nil
}

// printable reports whether s is UTF-8 without spaces or control
// characters (a card number goes into the API's URL paths).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// newID returns a ULID greater than every id this file has issued, even if
// the clock stepped back: per-card order is id order. Its random part keeps
// ids unique across queue files.
func (q *Queue) newID(t *txn, now time.Time) (string, error) {
	var last ulid.ULID
	if v := t.meta.Get(keyLastID); v != nil {
		if err := last.UnmarshalText(v); err != nil {
			return "", fmt.Errorf("last issued id %q: %w", v, err)
		}
	}
	ms := max(ulid.Timestamp(now), last.Time())
	id, err := ulid.New(ms, q.entropy)
	if err != nil {
		return "", fmt.Errorf("new job id: %w", err)
	}
	if id.Compare(last) <= 0 {
		// Same millisecond as the last id of an earlier process: step past it.
		id = last
		e := id.Entropy()
		for i := len(e) - 1; i >= 0; i-- {
			if e[i]++; e[i] != 0 {
				break
			}
		}
		if err := id.SetEntropy(e); err != nil {
			return "", fmt.Errorf("new job id: %w", err)
		}
		if bytes.Equal(e, make([]byte, len(e))) {
			return "", errors.New("new job id: id space of this millisecond exhausted")
		}
	}
	s := id.String()
	return s, t.meta.Put(keyLastID, []byte(s))
}

// Next returns the oldest due job (pending or ambiguous, NextAttempt <= now)
// whose card has no earlier unfinished job. It does not change the job.
// ErrEmpty if none. It is one index lookup: the due index holds only card
// heads, ordered by due time.
func (q *Queue) Next(now time.Time) (Job, error) { return q.NextFree(now, nil) }

// NextFree is Next for a sender with several jobs in flight: it returns the
// oldest due job whose card busy does not name (busy is the sender's own set
// of cards it is working on; nil means none). Each card has at most one
// entry in the due index, so it passes over at most as many entries as busy
// holds. ErrEmpty if none.
func (q *Queue) NextFree(now time.Time, busy func(card string) bool) (Job, error) {
	var j Job
	err := q.view(func(t *txn) error {
		c := t.due.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if keyTime(k) > keyTime(tkey(now)) {
				break
			}
			job, err := t.get(idOf(k))
			if err != nil {
				return err
			}
			if busy == nil || !busy(job.Card) {
				j = job
				return nil
			}
		}
		return ErrEmpty
	})
	if err != nil && !errors.Is(err, ErrEmpty) {
		return Job{}, fmt.Errorf("queue: next: %w", err)
	}
	return j, err
}

// NextDue returns when the next pending or ambiguous job becomes due; ok is
// false if there is none.
func (q *Queue) NextDue() (at time.Time, ok bool, err error) {
	err = q.view(func(t *txn) error {
		k, _ := t.due.Cursor().First()
		if k == nil {
			return nil
		}
		j, err := t.get(idOf(k))
		if err != nil {
			return err
		}
		at, ok = j.NextAttempt, true
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("queue: next due: %w", err)
	}
	return at, ok, nil
}

// Get returns one job.
func (q *Queue) Get(id string) (Job, error) {
	var j Job
	err := q.view(func(t *txn) (err error) {
		j, err = t.get(id)
		return err
	})
	if err != nil {
		return Job{}, fmt.Errorf("queue: %w", err)
	}
	return j, nil
}

// change runs one transition of job id in one fsync'd transaction: it
// checks the job's state is in from, lets fn edit the job, and updates the
// indexes.
func (q *Queue) change(verb, id string, from []State, fn func(t *txn, j *Job) error) error {
	err := q.update(func(t *txn) error {
		j, err := t.get(id)
		if err != nil {
			return err
		}
		if !slices.Contains(from, j.State) {
			return fmt.Errorf("job is %s: %w", j.State, ErrState)
		}
		old := j
		j.Attempts = slices.Clone(j.Attempts)
		if err := fn(t, &j); err != nil {
			return err
		}
		// The one rule for Uncertain: a send's outcome is unknown while the
		// job is ambiguous, and stays unknown if it goes dead from there.
		j.Uncertain = j.State == Ambiguous || j.State == Dead && old.State == Ambiguous
		return t.save(old, j)
	})
	if err != nil {
		return fmt.Errorf("queue: %s %s: %w", verb, id, err)
	}
	return nil
}

// Sending records that a send of job id starts now (pending or ambiguous →
// sending). It must be on disk before the HTTP request is written. From
// ambiguous it is the re-send after reconciliation proved the first send
// absent. The job must be its card's head (Next only returns heads).
func (q *Queue) Sending(id string, action string, now time.Time) error {
	return q.change("sending", id, []State{Pending, Ambiguous}, func(t *txn, j *Job) error {
		if h, _ := t.head(j.Card); h != j.ID {
			return fmt.Errorf("earlier job %s for card %s is not finished: %w", h, j.Card, ErrState)
		}
		j.State, j.Action, j.UpdatedAt = Sending, action, now
		if j.SentAt.IsZero() {
			j.SentAt = now
		}
		return nil
	})
}

// at is the time of attempt a, or the wall clock if the caller left it zero.
func at(a Attempt) time.Time {
	if a.At.IsZero() {
		return time.Now()
	}
	return a.At
}

// Done records that the job was applied (sending or ambiguous → done). The
// card's next job, if any, becomes due.
func (q *Queue) Done(id string, a Attempt, result string) error {
	return q.change("done", id, []State{Sending, Ambiguous}, func(_ *txn, j *Job) error {
		now := at(a)
		j.State, j.Result, j.UpdatedAt, j.FinishedAt = Done, result, now, now
		addAttempt(j, a)
		return nil
	})
}

// Retry puts the job back to pending, due at next (sending or ambiguous → pending).
func (q *Queue) Retry(id string, a Attempt, next time.Time) error {
	return q.change("retry", id, []State{Sending, Ambiguous}, func(_ *txn, j *Job) error {
		j.State, j.NextAttempt, j.UpdatedAt = Pending, next, at(a)
		addAttempt(j, a)
		return nil
	})
}

// Ambiguous marks the job as possibly applied, to be reconciled at recheck
// (sending or ambiguous → ambiguous). misses is the count of reconciliation
// reads that did not find the marker so far.
func (q *Queue) Ambiguous(id string, a Attempt, recheck time.Time, misses int) error {
	return q.change("ambiguous", id, []State{Sending, Ambiguous}, func(_ *txn, j *Job) error {
		j.State, j.NextAttempt, j.Misses, j.UpdatedAt = Ambiguous, recheck, misses, at(a)
		addAttempt(j, a)
		return nil
	})
}

// Dead parks the job for an operator (sending or ambiguous → dead): what
// the till cannot decide by itself (the marker found twice, a request
// tillscan itself got wrong). Its card's later jobs wait until an operator
// retries, resolves or drops it. A definite no is Refuse, not Dead.
func (q *Queue) Dead(id string, a Attempt, reason string) error {
	return q.change("dead", id, []State{Sending, Ambiguous}, func(_ *txn, j *Job) error {
		j.State, j.Reason, j.UpdatedAt = Dead, reason, at(a)
		addAttempt(j, a)
		return nil
	})
}

// Refuse records a definite no (pending or sending → refused): the API's
// business rules refused the action (a 4xx answer to the send), or the till
// decided before sending that it cannot be done. Refused is final, like
// done: the job is kept for Retention for audit and the day's report, and
// it never holds its card: the card's next job becomes due at once.
func (q *Queue) Refuse(id string, a Attempt, reason string) error {
	return q.change("refuse", id, []State{Pending, Sending}, func(_ *txn, j *Job) error {
		now := at(a)
		j.State, j.Reason, j.UpdatedAt, j.FinishedAt = Refused, reason, now, now
		addAttempt(j, a)
		return nil
	})
}

// EnqueueRefused records a scan the till refused without queueing it for
// sending (e.g. a card that needs a purchase sum the scan lacks), for audit
// and the day's report: a new job, already refused, stored and fsync'd like
// Enqueue. It never touches the card's open jobs.
func (q *Queue) EnqueueRefused(s Scan, reason string, now time.Time) (Job, error) {
	if err := checkScan(s); err != nil {
		return Job{}, fmt.Errorf("queue: record refused scan: NOT saved: %w", err)
	}
	var j Job
	err := q.update(func(t *txn) error {
		id, err := q.newID(t, now)
		if err != nil {
			return err
		}
		j = Job{ID: id, Scan: s, State: Refused, CreatedAt: now, UpdatedAt: now, NextAttempt: now,
			Reason: reason, FinishedAt: now}
		addAttempt(&j, Attempt{At: now, Kind: "till", Outcome: "refused", Note: reason})
		return t.save(Job{}, j)
	})
	if err != nil {
		return Job{}, fmt.Errorf("queue: record refused scan of card %s: NOT saved: %w", s.Card, err)
	}
	return j, nil
}
