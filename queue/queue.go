package queue

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
)

var (
	// ErrEmpty is returned by Next when no job is due.
	ErrEmpty = errors.New("queue: no job due")
	// ErrNotFound is returned when no job has the given id.
	ErrNotFound = errors.New("queue: no such job")
	// ErrState is returned when a transition is not allowed from the job's state.
	ErrState = errors.New("queue: transition not allowed")
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
	path string
	opts Options

	// Set once by Open: where an invalid file was moved, and why.
	movedTo string
	moveErr error

	// entropy is only used inside Update transactions, which bbolt runs one
	// at a time, so it needs no lock of its own.
	entropy *ulid.MonotonicEntropy

	pruneBatch int // jobs deleted per transaction by Prune
}

// Open opens or creates the queue file at path and recovers jobs left in
// sending by a crash (they become ambiguous, due now).
//
// A file that is not a valid queue (garbage, empty, truncated, a bbolt file
// of something else, failing bbolt's structural check) is never truncated or
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
	q := &Queue{db: db, path: path, opts: opts, movedTo: o.movedTo, moveErr: o.moveErr,
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

// Path returns the file the queue lives in.
func (q *Queue) Path() string { return q.path }

// Close closes the file. Every change already returned is on disk.
func (q *Queue) Close() error {
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("queue: close %s: %w", q.path, err)
	}
	return nil
}

// update runs fn in one fsync'd read-write transaction.
func (q *Queue) update(fn func(*txn) error) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		t, err := wrap(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
}

func (q *Queue) view(fn func(*txn) error) error {
	return q.db.View(func(tx *bolt.Tx) error {
		t, err := wrap(tx)
		if err != nil {
			return err
		}
		return fn(t)
	})
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
			j.State, j.NextAttempt, j.UpdatedAt, j.Misses = Ambiguous, now, now, 0
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
