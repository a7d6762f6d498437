package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The file layout. Index keys end with the 26-byte job id, so the id of an
// index entry is its last idLen bytes and cursor order within a prefix is id
// (= enqueue) order.
var (
	bucketMeta     = []byte("meta")     // metaMagic, metaFormat, counters, lastdone, lastid
	bucketJobs     = []byte("jobs")     // id → JSON Job
	bucketDue      = []byte("due")      // tkey(NextAttempt) ‖ id → nil: card heads that are pending or ambiguous
	bucketCards    = []byte("cards")    // card ‖ 0x00 ‖ id → nil: every unfinished job
	bucketStates   = []byte("states")   // state ‖ 0x00 ‖ id → nil: every job
	bucketFinished = []byte("finished") // tkey(FinishedAt) ‖ id → nil: done, refused and dropped jobs, for Prune

	// Added by format 2.
	bucketHistory       = []byte("history")        // card ‖ 0x00 ‖ id → nil: every job, for CardHistory
	bucketQuarantine    = []byte("quarantine")     // original key → the record exactly as it was: damaged records
	bucketQuarantineWhy = []byte("quarantine-why") // original key → JSON quarantineNote
	bucketCardCache     = []byte("cardcache")      // card number → tkey(updated) ‖ opaque data (PutCard)
	bucketTemplateCache = []byte("templatecache")  // template id → tkey(updated) ‖ opaque data (PutTemplate)

	// The buckets of each format: Open upgrades a format 1 file by adding
	// the rest and building the history index from the records. A bucket
	// that holds no job data (the caches) is added by Open to a file of the
	// current format that lacks it, without a format change.
	v1Buckets  = [][]byte{bucketMeta, bucketJobs, bucketDue, bucketCards, bucketStates, bucketFinished}
	allBuckets = append(slices.Clone(v1Buckets), bucketHistory, bucketQuarantine, bucketQuarantineWhy, bucketCardCache, bucketTemplateCache)

	// indexBuckets are derived from the job records; rebuild writes them anew.
	indexBuckets = [][]byte{bucketDue, bucketCards, bucketStates, bucketFinished, bucketHistory}

	keyMagic    = []byte("magic")
	keyFormat   = []byte("format")
	keyLastDone = []byte("lastdone")
	keyLastID   = []byte("lastid")
)

const (
	magic = "tillscan-queue"
	// format is bumped when the layout or the job record changes (a record
	// with a field this binary does not know is treated as damaged); Open
	// refuses newer formats and upgrades older ones. 2 added the history
	// and quarantine buckets, the refused state and Job.Uncertain.
	format = 2

	idLen = 26 // length of a ULID in text form

	// A job's Attempts keeps the first keepFirst and the last keepLast
	// attempts; the ones between are counted in AttemptsOmitted.
	keepFirst = 5
	keepLast  = 45
)

var errSchema = errors.New("not a tillscan queue")

// tkey encodes t as 8 big-endian bytes of Unix nanoseconds, so byte order is
// time order. Times before 1970 (or zero) sort first.
func tkey(t time.Time) []byte {
	var b [8]byte
	switch {
	case t.Year() >= 2262: // past what UnixNano can hold: sort last
		binary.BigEndian.PutUint64(b[:], ^uint64(0))
	case !t.IsZero() && t.UnixNano() > 0:
		binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano()))
	}
	return b[:]
}

func keyTime(k []byte) uint64 { return binary.BigEndian.Uint64(k[:8]) }

func idOf(k []byte) string { return string(k[len(k)-idLen:]) }

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func cardPrefix(card string) []byte { return append([]byte(card), 0) }

func statePrefix(s State) []byte { return append([]byte(s), 0) }

func counterKey(s State) []byte { return []byte("n:" + string(s)) }

// txn bundles a bbolt transaction with the queue's buckets. All index
// maintenance goes through its methods.
type txn struct {
	tx                                       *bolt.Tx
	meta, jobs, due, cards, states, finished *bolt.Bucket
	history, quarantine, quarantineWhy       *bolt.Bucket
}

func wrap(tx *bolt.Tx) (*txn, error) {
	t := &txn{tx: tx}
	if err := t.bind(); err != nil {
		return nil, err
	}
	return t, nil
}

// bind looks the buckets up (again, after rebuild replaced some).
func (t *txn) bind() error {
	tx := t.tx
	t.meta, t.jobs, t.due, t.cards = tx.Bucket(bucketMeta), tx.Bucket(bucketJobs), tx.Bucket(bucketDue), tx.Bucket(bucketCards)
	t.states, t.finished, t.history = tx.Bucket(bucketStates), tx.Bucket(bucketFinished), tx.Bucket(bucketHistory)
	t.quarantine, t.quarantineWhy = tx.Bucket(bucketQuarantine), tx.Bucket(bucketQuarantineWhy)
	for _, b := range []*bolt.Bucket{t.meta, t.jobs, t.due, t.cards, t.states, t.finished, t.history, t.quarantine, t.quarantineWhy,
		tx.Bucket(bucketCardCache), tx.Bucket(bucketTemplateCache)} {
		if b == nil {
			return errSchema
		}
	}
	// Job ids only grow, so new keys land at the end of the B+tree (jobs,
	// finished) or of a key range (a state, a card): pack pages fuller than
	// bbolt's default split at half full. It halves the file per job.
	for _, b := range []*bolt.Bucket{t.jobs, t.states, t.cards, t.finished, t.history} {
		b.FillPercent = 0.9
	}
	return nil
}

// bucket returns the bucket of t called name.
func (t *txn) bucket(name []byte) *bolt.Bucket {
	switch string(name) {
	case string(bucketDue):
		return t.due
	case string(bucketCards):
		return t.cards
	case string(bucketStates):
		return t.states
	case string(bucketFinished):
		return t.finished
	case string(bucketHistory):
		return t.history
	}
	return t.tx.Bucket(name)
}

// get returns job id. A record that cannot be used gives an error wrapping
// errBadRecord (see decodeJob); the caller quarantines it.
func (t *txn) get(id string) (Job, error) {
	v := t.jobs.Get([]byte(id))
	if v == nil && t.quarantine.Get([]byte(id)) != nil {
		return Job{}, fmt.Errorf("job %q: %w (%w)", id, ErrQuarantined, ErrNotFound)
	} else if v == nil {
		return Job{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
	}
	j, err := decodeJob([]byte(id), v)
	if err != nil {
		return Job{}, fmt.Errorf("job %q: %w", id, err)
	}
	return j, nil
}

// head returns the id of card's oldest unfinished job.
func (t *txn) head(card string) (string, bool) {
	p := cardPrefix(card)
	k, _ := t.cards.Cursor().Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+idLen {
		return "", false
	}
	return idOf(k), true
}

func (t *txn) count(s State, delta int64) error {
	k := counterKey(s)
	var n int64
	if v := t.meta.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		n = 0
	}
	return t.meta.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func (t *txn) counter(s State) int {
	if v := t.meta.Get(counterKey(s)); len(v) == 8 {
		return int(binary.BigEndian.Uint64(v))
	}
	return 0
}

func isDueState(s State) bool { return s == Pending || s == Ambiguous }

// save writes j and brings every index from old's state to j's. old is the
// zero Job for a new job. The entries each job must have are listed by
// entries (integrity.go); Check verifies that save keeps to them.
func (t *txn) save(old, j Job) error {
	id := []byte(j.ID)
	v, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("queue: encode job %s: %w", j.ID, err)
	}
	if err := t.jobs.Put(id, v); err != nil {
		return err
	}
	isNew := old.State == ""
	if isNew {
		if err := t.history.Put(join(cardPrefix(j.Card), id), nil); err != nil {
			return err
		}
	}
	if old.State != j.State {
		if !isNew {
			if err := t.states.Delete(join(statePrefix(old.State), id)); err != nil {
				return err
			}
			if err := t.count(old.State, -1); err != nil {
				return err
			}
		}
		if err := t.states.Put(join(statePrefix(j.State), id), nil); err != nil {
			return err
		}
		if err := t.count(j.State, 1); err != nil {
			return err
		}
	}
	if !isNew && isDueState(old.State) {
		// Deleting a key that is not there is a no-op, so a non-head needs no test.
		if err := t.due.Delete(join(tkey(old.NextAttempt), id)); err != nil {
			return err
		}
	}
	ck := join(cardPrefix(j.Card), id)
	switch {
	case isNew && !j.State.Finished():
		if err := t.cards.Put(ck, nil); err != nil {
			return err
		}
	case (isNew || !old.State.Finished()) && j.State.Finished():
		if err := t.finished.Put(join(tkey(j.FinishedAt), id), nil); err != nil {
			return err
		}
		if j.State == Done {
			if err := t.meta.Put(keyLastDone, tkey(j.FinishedAt)); err != nil {
				return err
			}
		}
		if !isNew { // a job saved as finished (EnqueueRefused) never held its card
			if err := t.cards.Delete(ck); err != nil {
				return err
			}
			if err := t.promote(j.Card, j.FinishedAt); err != nil {
				return err
			}
		}
	}
	if isDueState(j.State) {
		if h, ok := t.head(j.Card); ok && h == j.ID {
			return t.due.Put(join(tkey(j.NextAttempt), id), nil)
		}
	}
	return nil
}

// promote puts card's new head, if any, into the due index once the old head
// has finished, at. A head that was waiting behind it becomes due no earlier
// than at: it could not be tried before. Otherwise the due order would put
// a card's whole backlog (scanned early) before another card's head that
// was tried and put off during an outage, and a sender with several jobs in
// flight would drain the first cards to the end while the others wait.
func (t *txn) promote(card string, at time.Time) error {
	h, ok := t.head(card)
	if !ok {
		return nil
	}
	hj, err := t.get(h)
	if err != nil {
		return err
	}
	if !isDueState(hj.State) {
		return nil
	}
	if !hj.NextAttempt.Before(at) {
		return t.due.Put(join(tkey(hj.NextAttempt), []byte(h)), nil)
	}
	old := hj
	hj.NextAttempt = at
	return t.save(old, hj) // it is the head now: save puts it in the due index
}

// remove deletes a finished job and its index entries (Prune).
func (t *txn) remove(j Job) error {
	id := []byte(j.ID)
	if err := t.jobs.Delete(id); err != nil {
		return err
	}
	if err := t.states.Delete(join(statePrefix(j.State), id)); err != nil {
		return err
	}
	if err := t.finished.Delete(join(tkey(j.FinishedAt), id)); err != nil {
		return err
	}
	if err := t.history.Delete(join(cardPrefix(j.Card), id)); err != nil {
		return err
	}
	return t.count(j.State, -1)
}

// addAttempt appends a to j's history, keeping the first keepFirst and the
// last keepLast entries.
func addAttempt(j *Job, a Attempt) {
	j.Attempts = append(j.Attempts, a)
	if len(j.Attempts) > keepFirst+keepLast {
		j.Attempts = append(j.Attempts[:keepFirst], j.Attempts[keepFirst+1:]...)
		j.AttemptsOmitted++
	}
}
