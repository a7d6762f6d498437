package queue

// CONTRACT STUB: the signatures below are fixed (package pos and cmd/tillscan
// build against them); the bodies are replaced by the real queue.

import (
	"errors"
	"time"
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
	ErrCorrupt = errors.New("queue: file is not a valid queue")
)

// Options configures Open. Zero fields mean the documented default.
type Options struct {
	LockTimeout time.Duration // how long Open waits for the file lock; 0 means 1s
	Retention   time.Duration // how long done and dropped jobs are kept; 0 means 30 days
}

// Queue is a durable job queue in one bbolt file. It is safe for concurrent use.
type Queue struct{}

var errStub = errors.New("queue: not implemented")

// Open opens or creates the queue file at path and recovers jobs left in
// sending by a crash (they become ambiguous).
func Open(path string, opts Options) (*Queue, error) { return nil, errStub }

// Close closes the file.
func (q *Queue) Close() error { return errStub }

// Enqueue stores a new pending job due now and returns only once it is on
// disk (fsync'd). Its error means the scan was NOT saved.
func (q *Queue) Enqueue(s Scan, now time.Time) (Job, error) { return Job{}, errStub }

// Next returns the oldest due job (pending or ambiguous, NextAttempt <= now)
// whose card has no earlier job that is sending, ambiguous or dead. It does
// not change the job. ErrEmpty if none.
func (q *Queue) Next(now time.Time) (Job, error) { return Job{}, errStub }

// NextDue returns when the next pending or ambiguous job becomes due; ok is
// false if there is none.
func (q *Queue) NextDue() (at time.Time, ok bool, err error) { return time.Time{}, false, errStub }

// Sending records that a send of job id starts now (pending or ambiguous →
// sending). It must be on disk before the HTTP request is written.
func (q *Queue) Sending(id string, action string, now time.Time) error { return errStub }

// Done records that the job was applied (sending or ambiguous → done).
func (q *Queue) Done(id string, a Attempt, result string) error { return errStub }

// Retry puts the job back to pending, due at next (sending or ambiguous → pending).
func (q *Queue) Retry(id string, a Attempt, next time.Time) error { return errStub }

// Ambiguous marks the job as possibly applied, to be reconciled at recheck
// (sending or ambiguous → ambiguous). misses is the count of reconciliation
// reads that did not find the marker so far.
func (q *Queue) Ambiguous(id string, a Attempt, recheck time.Time, misses int) error { return errStub }

// Dead parks the job for an operator (sending or ambiguous → dead).
func (q *Queue) Dead(id string, a Attempt, reason string) error { return errStub }

// Get returns one job.
func (q *Queue) Get(id string) (Job, error) { return Job{}, errStub }
