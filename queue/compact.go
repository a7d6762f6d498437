package queue

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Compact copies the queue at src into a new, tightly packed file and puts
// it at dst; with dst == src it replaces src. It is offline: it takes src's
// lock, so it fails with ErrLocked while tillscan runs. The copy is written
// under a temporary name, fsync'd, checked (Check) and only then renamed
// into place, and the directory is fsync'd; on any error src is untouched.
// The copy is upgraded and repaired as Open would (see prepare), and gets
// src's owner, group and permissions, so a compaction run as root leaves a
// file the service's own user can still open.
// bbolt files never shrink on their own (freed pages are reused), so this
// is how an operator gives back the space of a past outage's backlog.
func Compact(src, dst string) error {
	const timeout = time.Second
	srcAbs, err1 := filepath.Abs(src)
	dstAbs, err2 := filepath.Abs(dst)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	inPlace := srcAbs == dstAbs
	srcInfo, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	if _, err := os.Lstat(dst); !inPlace && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("queue: compact: %s already exists; choose a new file (compact never overwrites)", dst)
	}
	sdb, _, err := boltOpen(src, timeout)
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("queue: compact: %w", lockedError(src, timeout))
	} else if err != nil {
		return fmt.Errorf("queue: compact %s: %w", src, err)
	}
	defer sdb.Close() // for in place, only after the rename: the lock stays held until then
	if err := validate(sdb); err != nil {
		return fmt.Errorf("queue: compact %s: %w", src, err)
	}

	dir := filepath.Dir(dstAbs)
	f, err := os.CreateTemp(dir, filepath.Base(dstAbs)+".compact-*")
	if err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp)
		}
	}()
	if err := f.Close(); err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	ddb, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	err = bolt.Compact(ddb, sdb, 4<<20) // every commit is fsync'd
	if err == nil {
		// The copy is upgraded and repaired as Open would, then checked.
		_, err = prepare(ddb, time.Now())
	}
	if err == nil {
		q := &Queue{db: ddb, path: tmp}
		err = q.Check()
	}
	if cerr := ddb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("queue: compact %s: %w", src, err)
	}
	if err := keepOwner(tmp, srcInfo); err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	if err := os.Rename(tmp, dstAbs); err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	renamed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	return nil
}
