package queue

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

var (
	// ErrEmpty is returned by Next when no job is due.
	ErrEmpty = errors.New("queue: no job due")
	// ErrNotFound is returned (wrapped) when no job has the given id.
	ErrNotFound = errors.New("no such job")
	// ErrState is returned (wrapped) when a transition is not allowed from
	// the job's state.
	ErrState = errors.New("transition not allowed")
	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("queue: file is in use by another process")
	// ErrCorrupt is returned by Open when the file is not a valid queue.
	// Open itself moves such a file aside and starts a fresh queue; the
	// reason it reports through Recovered wraps ErrCorrupt, and so does the
	// error of Check.
	ErrCorrupt = errors.New("queue: file is not a valid queue")
	// ErrNewerFormat is returned by Open when the file was written by a newer
	// tillscan. The file is left alone: it is valid, this binary is too old.
	ErrNewerFormat = errors.New("queue: file was written by a newer tillscan")
)

// Options configures Open. Zero fields mean the documented default.
type Options struct {
	LockTimeout time.Duration // how long Open waits for the file lock; 0 means 1s
	Retention   time.Duration // how long done and dropped jobs are kept; 0 means 30 days
}

func (o Options) withDefaults() Options {
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	return o
}

// Queue is a durable job queue in one bbolt file. It is safe for concurrent use.
type Queue struct {
	db   *bolt.DB
	gc   *groupCommit // every write goes through it, so concurrent writers share fsyncs
	path string
	opts Options

	// Set once by Open: where an invalid file was moved, and why.
	movedTo string
	moveErr error

	mu       sync.Mutex // guards repaired
	repaired []string   // what Open (and later heals) repaired, for the daemon to log and show

	// entropy is only used inside Update transactions, which bbolt runs one
	// at a time, so it needs no lock of its own.
	entropy *ulid.MonotonicEntropy

	pruneBatch int // jobs deleted per transaction by Prune
}

// Open opens or creates the queue file at path and recovers jobs left in
// sending by a crash (they become ambiguous, due now).
//
// Open checks the queue's own invariants after bbolt's structural check
// (one pass over the records). If an index disagrees with the job records,
// Open rebuilds every index from the records (the records are the truth);
// a record that cannot be decoded, or decodes to something invalid, is
// quarantined (Quarantined) and never sent. Repaired reports what was done.
//
// A file of an older format is upgraded in place. A file that is not a
// valid queue (garbage, empty, truncated, a bbolt file of something else,
// pages that bbolt's structural check or Open's own walk of the pages
// rejects, damage the repair cannot undo) is never truncated or
// overwritten: Open renames it to "<path>.corrupt-<UTC time>", fsyncs the
// directory and starts a fresh queue; Recovered reports it, and the caller
// must log it loudly. A file held by another process gives ErrLocked after
// opts.LockTimeout; a file that cannot be read (permissions, I/O errors) or
// was written by a newer tillscan (ErrNewerFormat) gives an error: neither is
// ever treated as corrupt.
func Open(path string, opts Options) (*Queue, error) {
	opts = opts.withDefaults()
	o, err := openFile(path, opts)
	if err != nil {
		return nil, err
	}
	db := o.db
	q := &Queue{db: db, gc: &groupCommit{db: db}, path: path, opts: opts, movedTo: o.movedTo, moveErr: o.moveErr, repaired: o.repaired,
		entropy: ulid.Monotonic(rand.Reader, 0), pruneBatch: 1000}
	if err := q.recoverSending(time.Now()); err != nil {
		_ = db.Close()
		return nil, err
	}
	return q, nil
}

// Recovered reports whether Open found an invalid file at the queue's path
// and moved it aside: movedTo is its new name and reason (wrapping
// ErrCorrupt) says what was wrong. movedTo is "" if nothing was moved.
func (q *Queue) Recovered() (movedTo string, reason error) { return q.movedTo, q.moveErr }

// Repaired returns what Open repaired in the file (damaged records
// quarantined, indexes rebuilt from the records), and what a transition or
// Next repaired since, one sentence each; nil if nothing. The caller logs it
// once and shows it; Stats.Quarantined counts the quarantined records.
func (q *Queue) Repaired() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.repaired)
}

// Path returns the file the queue lives in.
func (q *Queue) Path() string { return q.path }

// Close closes the file. Every change already returned is on disk.
func (q *Queue) Close() error {
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("queue: close %s: %w", q.path, err)
	}
	return nil
}

// update runs fn in a fsync'd read-write transaction, which concurrent
// callers may share (groupCommit); it returns once that is on disk. If fn
// meets a damaged record (errBadRecord), the record is quarantined and the
// indexes rebuilt (heal) and fn runs once more, so one bad record never
// stops the caller. fn may run more than once: it must set its results
// afresh on each run.
func (q *Queue) update(fn func(*txn) error) error {
	err := q.gc.update(fn)
	if !errors.Is(err, errBadRecord) {
		return err
	}
	if herr := q.heal(); herr != nil {
		return errors.Join(err, herr)
	}
	return q.gc.update(fn)
}

// view runs fn in a read-only transaction, healing like update.
func (q *Queue) view(fn func(*txn) error) error {
	err := q.db.View(func(tx *bolt.Tx) error { return run(tx, fn) })
	if !errors.Is(err, errBadRecord) {
		return err
	}
	if herr := q.heal(); herr != nil {
		return errors.Join(err, herr)
	}
	return q.db.View(func(tx *bolt.Tx) error { return run(tx, fn) })
}

func run(tx *bolt.Tx, fn func(*txn) error) error {
	t, err := wrap(tx)
	if err != nil {
		return err
	}
	return fn(t)
}

// heal quarantines every damaged record and rebuilds the indexes, in one
// transaction, and notes it for Repaired.
func (q *Queue) heal() error {
	now := time.Now()
	var moved []string
	err := q.db.Update(func(tx *bolt.Tx) error {
		return run(tx, func(t *txn) (err error) {
			moved, err = t.rebuild(now)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("queue: quarantine a damaged record: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range moved {
		q.repaired = append(q.repaired, fmt.Sprintf("%s: %s; indexes rebuilt", now.UTC().Format(time.RFC3339), m))
	}
	return nil
}

// recoverSending turns every job left in sending into ambiguous: the crash
// may have happened after the request reached the API.
func (q *Queue) recoverSending(now time.Time) error {
	err := q.update(func(t *txn) error {
		var ids []string
		p := statePrefix(Sending)
		c := t.states.Cursor()
		for k, _ := c.Seek(p); k != nil && len(k) == len(p)+idLen && string(k[:len(p)]) == string(p); k, _ = c.Next() {
			ids = append(ids, idOf(k))
		}
		for _, id := range ids {
			j, err := t.get(id)
			if err != nil {
				return err
			}
			old := j
			j.State, j.NextAttempt, j.UpdatedAt, j.Misses, j.Uncertain = Ambiguous, now, now, 0, true
			addAttempt(&j, Attempt{At: now, Kind: "recover", Outcome: "ambiguous",
				Note: "tillscan stopped while this job was being sent; the request may have reached the API"})
			if err := t.save(old, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: open %s: recover jobs left in sending: %w", q.path, err)
	}
	return nil
}

// FileSize returns the size of the queue file in bytes.
func (q *Queue) FileSize() (int64, error) {
	fi, err := os.Stat(q.path)
	if err != nil {
		return 0, fmt.Errorf("queue: %w", err)
	}
	return fi.Size(), nil
}
