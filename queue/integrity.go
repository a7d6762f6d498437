package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

// The job records are the truth; every index is derived from them. This
// file owns that derivation: entries says which index entries a job has,
// audit checks a file against it (Open, Check) and rebuild rewrites every
// index from the records (Open, when the audit disagrees, and at run time
// when a transition meets a damaged record).

// entry is one index entry.
type entry struct {
	bucket []byte
	key    []byte
}

// entries returns every index entry job j must have; head says whether j is
// its card's oldest unfinished job.
func entries(j Job, head bool) []entry {
	id := []byte(j.ID)
	es := []entry{
		{bucketStates, join(statePrefix(j.State), id)},
		{bucketHistory, join(cardPrefix(j.Card), id)},
	}
	if j.State.Finished() {
		return append(es, entry{bucketFinished, join(tkey(j.FinishedAt), id)})
	}
	es = append(es, entry{bucketCards, join(cardPrefix(j.Card), id)})
	if head && isDueState(j.State) {
		es = append(es, entry{bucketDue, join(tkey(j.NextAttempt), id)})
	}
	return es
}

// maxProblems bounds what an audit keeps of its findings.
const maxProblems = 20

// findings is what audit found: records to quarantine and disagreements
// between the records and the indexes.
type findings struct {
	broken    error    // the jobs bucket cannot be trusted as a B+tree: no repair, move the file aside
	jobs      int      // usable job records
	bad       []string // keys and reasons of records to quarantine (the first maxProblems)
	nBad      int
	problems  []string // index disagreements (the first maxProblems)
	nProblems int
}

func (f *findings) add(format string, args ...any) {
	if f.nProblems++; len(f.problems) < maxProblems {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
	}
}

func (f *findings) clean() bool { return f.broken == nil && f.nBad == 0 && f.nProblems == 0 }

// audit checks every job record and every index entry against entries. It
// decodes each record once and looks its entries up; it walks an index
// entry by entry only when that index holds more entries than the records
// account for, to name the strays.
func (t *txn) audit() findings {
	var f findings
	want := map[string]int{}
	count := map[State]int{}
	var maxID []byte
	if f.broken = checkTree(t.jobs); f.broken != nil {
		return f
	}
	c := t.jobs.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		j, err := decodeJob(k, v)
		if err != nil {
			if f.nBad++; len(f.bad) < maxProblems {
				f.bad = append(f.bad, fmt.Sprintf("record %.40q: %v", k, err))
			}
			continue
		}
		f.jobs++
		maxID = k
		count[j.State]++
		head := false
		if !j.State.Finished() {
			h, _ := t.head(j.Card)
			head = h == j.ID
			if !head && j.State == Sending {
				f.add("card %s: job %s is sending behind unfinished job %s (two heads)", j.Card, j.ID, h)
			}
		}
		for _, e := range entries(j, head) {
			want[string(e.bucket)]++
			if t.bucket(e.bucket).Get(e.key) == nil {
				f.add("%s", missing(j, e))
			}
		}
	}
	for _, name := range indexBuckets {
		if n := t.bucket(name).Stats().KeyN; n != want[string(name)] {
			f.add("the %s index has %d entries, the job records need %d", name, n, want[string(name)])
			t.strays(name, &f)
		}
	}
	for _, s := range states {
		if got := t.counter(s); got != count[s] {
			f.add("counter of %s jobs is %d, there are %d", s, got, count[s])
		}
	}
	var lastID ulid.ULID
	if last := t.meta.Get(keyLastID); last != nil && lastID.UnmarshalText(last) != nil {
		f.add("the last issued id %.40q is not a job id", last)
	} else if maxID != nil && bytes.Compare(last, maxID) < 0 {
		f.add("the last issued id %.40q is older than job %s", last, maxID)
	}
	if v := t.meta.Get(keyLastDone); v != nil && len(v) != 8 {
		f.add("the time of the last applied job is %d bytes, want 8", len(v))
	}
	t.checkCaches(&f)
	return f
}

// checkTree reports whether the B+tree of the jobs bucket b can be trusted:
// its keys in strictly increasing order, each reachable by a lookup.
// bbolt's check does not see every damaged key, and a repair's writes into
// such a tree would land in the wrong place: such a file is beyond repair.
func checkTree(b *bolt.Bucket) error {
	var prev []byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(k, prev) <= 0 {
			return fmt.Errorf("jobs: key %.40q follows %.40q (a damaged page)", k, prev)
		}
		if got := b.Get(k); v == nil || !bytes.Equal(got, v) {
			return fmt.Errorf("jobs: record %.40q cannot be looked up (a damaged page)", k)
		}
		prev = k
	}
	return nil
}

func missing(j Job, e entry) string {
	switch string(e.bucket) {
	case string(bucketCards):
		return fmt.Sprintf("job %s (%s) is missing from the index of card %s", j.ID, j.State, j.Card)
	case string(bucketDue):
		return fmt.Sprintf("card %s: head job %s is %s but not in the due index at its due time", j.Card, j.ID, j.State)
	case string(bucketHistory):
		return fmt.Sprintf("job %s is missing from the history of card %s", j.ID, j.Card)
	}
	return fmt.Sprintf("job %s (%s) is missing from the %s index", j.ID, j.State, e.bucket)
}

// strays reports the entries of index name that no job record accounts for.
func (t *txn) strays(name []byte, f *findings) {
	_ = t.bucket(name).ForEach(func(k, _ []byte) error {
		if len(k) < idLen+1 {
			f.add("%s index: malformed key %q", name, k)
			return nil
		}
		id := idOf(k)
		j, err := t.get(id)
		if err != nil {
			f.add("%s index: entry %q points to a missing or damaged job %s", name, k, id)
			return nil
		}
		h, _ := t.head(j.Card)
		for _, e := range entries(j, h == j.ID) {
			if bytes.Equal(e.bucket, name) && bytes.Equal(e.key, k) {
				return nil
			}
		}
		switch {
		case bytes.Equal(name, bucketStates):
			f.add("state index: job %s listed as %s, is %s", id, k[:len(k)-idLen-1], j.State)
		case bytes.Equal(name, bucketDue) && h != j.ID:
			f.add("due index: job %s is not the head of card %s", id, j.Card)
		default:
			f.add("%s index: entry %q does not match job %s (%s, card %s)", name, k, id, j.State, j.Card)
		}
		return nil
	})
}

// filedCards returns, per job id, the card numbers the history index files
// it under: an independent copy of each record's card, written with it.
func (t *txn) filedCards() map[string][]string {
	filed := map[string][]string{}
	if t.history == nil { // a format-1 file: no history index yet
		return filed
	}
	_ = t.history.ForEach(func(k, _ []byte) error {
		if len(k) > idLen+1 && k[len(k)-idLen-1] == 0 {
			id := idOf(k)
			filed[id] = append(filed[id], string(k[:len(k)-idLen-1]))
		}
		return nil
	})
	return filed
}

// disagrees returns an error when the indexes file job j under other card
// numbers than its record's. A record whose card number was damaged into
// another valid one still decodes; rebuilding the indexes from it would
// send the scan to someone else's card. Which copy is right cannot be told,
// so the record is quarantined for an operator rather than trusted.
func disagrees(j Job, filed []string) error {
	if len(filed) == 0 || slices.Contains(filed, j.Card) {
		return nil
	}
	return fmt.Errorf("its card number %q disagrees with the card %q the queue's history filed it under (one of them is damaged; sending it could credit the wrong card)", j.Card, filed[0])
}

// rebuild quarantines every record decodeJob refuses or whose card number
// the indexes contradict, drops damaged cache
// entries, and writes every index and counter anew from the remaining
// records, all in t. It returns what it quarantined or dropped, one
// sentence each.
func (t *txn) rebuild(now time.Time) ([]string, error) {
	type bad struct {
		key []byte
		err error
	}
	var bads []bad
	filed := t.filedCards()
	c := t.jobs.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		j, err := decodeJob(k, v)
		if err == nil {
			err = disagrees(j, filed[j.ID])
		}
		if err != nil {
			bads = append(bads, bad{bytes.Clone(k), err})
		}
	}
	if len(bads) > 0 {
		if f := t.audit(); f.broken != nil { // a run-time heal did not audit first
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, f.broken)
		}
	}
	var moved []string
	for _, b := range bads {
		if err := t.quarantineRecord(b.key, b.err, now); err != nil {
			return moved, err
		}
		moved = append(moved, fmt.Sprintf("quarantined damaged record %.40q: %v", b.key, b.err))
	}

	dropped, err := t.dropDamagedCaches()
	if err != nil {
		return moved, err
	}
	moved = append(moved, dropped...)

	for _, name := range indexBuckets {
		if err := t.tx.DeleteBucket(name); err != nil {
			return moved, fmt.Errorf("rebuild: drop the %s index: %w", name, err)
		}
		if _, err := t.tx.CreateBucket(name); err != nil {
			return moved, fmt.Errorf("rebuild: create the %s index: %w", name, err)
		}
	}
	if err := t.bind(); err != nil {
		return moved, err
	}
	count := map[State]int64{}
	heads := map[string]bool{} // cards whose head is already indexed
	var maxID []byte
	var lastDone time.Time
	var early []Job // waiting jobs made due now
	var latest time.Time
	c = t.jobs.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		j, err := decodeJob(k, v)
		if err != nil {
			return moved, fmt.Errorf("%w: rebuild: record %.40q is still there after its quarantine: %w", ErrCorrupt, k, err)
		}
		maxID = k
		count[j.State]++
		// A rebuild trusts no due time. It is only a backoff, and a
		// damaged one that still decodes (a bit flip in its year) held
		// an acknowledged scan, and its card's later scans, for years.
		if (j.State == Pending || j.State == Ambiguous) && j.NextAttempt.After(now) {
			if j.NextAttempt.After(latest) {
				latest = j.NextAttempt
			}
			j.NextAttempt = now
			early = append(early, j)
		}
		head := false
		if !j.State.Finished() && !heads[j.Card] {
			head, heads[j.Card] = true, true
		}
		if j.State == Done && j.FinishedAt.After(lastDone) {
			lastDone = j.FinishedAt
		}
		for _, e := range entries(j, head) {
			if err := t.bucket(e.bucket).Put(e.key, nil); err != nil {
				return moved, fmt.Errorf("rebuild: %s index: %w", e.bucket, err)
			}
		}
	}
	for _, j := range early { // after the cursor: a Put under it moves it
		v, err := json.Marshal(j)
		if err != nil {
			return moved, fmt.Errorf("rebuild: job %s: %w", j.ID, err)
		}
		if err := t.jobs.Put([]byte(j.ID), v); err != nil {
			return moved, fmt.Errorf("rebuild: job %s: %w", j.ID, err)
		}
	}
	if len(early) > 0 {
		moved = append(moved, fmt.Sprintf("made %d waiting job(s) due now (a rebuild trusts no due time; the latest was %s)", len(early), latest.Format(time.RFC3339)))
	}
	for _, s := range states {
		if err := t.meta.Put(counterKey(s), binary.BigEndian.AppendUint64(nil, uint64(count[s]))); err != nil {
			return moved, err
		}
	}
	// New ids must sort after every job's (per-card order is id order).
	var last ulid.ULID
	switch err := last.UnmarshalText(t.meta.Get(keyLastID)); {
	case maxID != nil && (err != nil || last.String() < string(maxID)):
		err = t.meta.Put(keyLastID, bytes.Clone(maxID))
		if err != nil {
			return moved, err
		}
	case err != nil && t.meta.Get(keyLastID) != nil: // unreadable, and no job to go by
		if err := t.meta.Delete(keyLastID); err != nil {
			return moved, err
		}
	}
	switch v := t.meta.Get(keyLastDone); {
	case len(v) == 8: // readable: keep it (a pruned job may have set it)
	case lastDone.IsZero():
		err = t.meta.Delete(keyLastDone)
	default:
		err = t.meta.Put(keyLastDone, tkey(lastDone))
	}
	if err != nil {
		return moved, err
	}
	return moved, nil
}
