package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// prepare makes a file that passed validate ready for use: it upgrades an
// older format and, if the queue's own audit disagrees with the file,
// quarantines the damaged records and rebuilds every index from the rest,
// all in one fsync'd transaction. A clean file of the current format costs
// one read pass and no write. It returns what it repaired, one sentence
// each. An error wrapping ErrCorrupt means the file cannot be repaired (the
// caller moves it aside); any other error is the disk's.
func prepare(db *bolt.DB, now time.Time) (repaired []string, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			repaired, err = nil, fmt.Errorf("%w: repairing the file panicked: %v", ErrCorrupt, r)
		}
	}()
	var ver uint32
	var missing bool // a bucket that upgrade adds
	var f findings
	err = db.View(func(tx *bolt.Tx) error {
		ver = binary.BigEndian.Uint32(tx.Bucket(bucketMeta).Get(keyFormat)) // validate checked it
		for _, b := range allBuckets {
			missing = missing || tx.Bucket(b) == nil
		}
		if ver < format || missing {
			f.broken = checkTree(tx.Bucket(bucketJobs)) // the upgrade rebuilds the rest
			return nil
		}
		t, err := wrap(tx)
		if err != nil {
			return err
		}
		f = t.audit()
		return nil
	})
	if err == nil && f.broken != nil {
		err = f.broken
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if ver == format && !missing && f.clean() {
		return nil, nil
	}
	var moved []string
	var jobs int
	err = db.Update(func(tx *bolt.Tx) error {
		if ver < format || missing {
			if err := upgrade(tx, ver); err != nil {
				return err
			}
		}
		t, err := wrap(tx)
		if err != nil {
			return err
		}
		if moved, err = t.rebuild(now); err != nil {
			return err
		}
		jobs = t.jobs.Stats().KeyN
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repair: %w", err)
	}
	for i, m := range moved {
		if i == maxProblems {
			repaired = append(repaired, fmt.Sprintf("and %d more damaged records or card cache entries", len(moved)-i))
			break
		}
		repaired = append(repaired, m)
	}
	switch {
	case ver < format:
		repaired = append(repaired, fmt.Sprintf("upgraded the file from format %d to %d: indexes rebuilt from %d job records", ver, format, jobs))
	case f.nProblems > 0:
		repaired = append(repaired, fmt.Sprintf("rebuilt every index from the %d job records: %d disagreements, e.g. %s", jobs, f.nProblems, f.problems[0]))
	}
	return repaired, nil
}

// upgrade brings a file of format ver to the current format: the buckets
// it lacks (rebuild fills the history index) and, from format 1,
// Job.Uncertain, which format 1 did not keep. A format 1 dead job went dead
// from ambiguous, with its outcome unknown, if its last attempt was a
// reconciliation read or a recovery.
func upgrade(tx *bolt.Tx, ver uint32) error {
	for _, b := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("upgrade: bucket %s: %w", b, err)
		}
	}
	if ver >= 2 {
		return nil
	}
	jobs := tx.Bucket(bucketJobs)
	var fix []Job
	err := jobs.ForEach(func(k, v []byte) error {
		j, err := decodeJob(k, v)
		if err != nil {
			return nil // rebuild quarantines it
		}
		last := Attempt{}
		if n := len(j.Attempts); n > 0 {
			last = j.Attempts[n-1]
		}
		if j.State == Ambiguous || j.State == Dead && (last.Kind == "reconcile" || last.Kind == "recover") {
			j.Uncertain = true
			fix = append(fix, j)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, j := range fix {
		v, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if err := jobs.Put([]byte(j.ID), v); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keyFormat, binary.BigEndian.AppendUint32(nil, format))
}
