package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// opened is what openFile found at the queue's path.
type opened struct {
	db      *bolt.DB
	movedTo string // where an invalid file was moved aside, or ""
	moveErr error  // why it was moved (wraps ErrCorrupt)

	repaired []string // what prepare repaired in the file that was opened
}

// openFile returns the open bbolt file at path, creating it if needed and
// moving an invalid one aside.
func openFile(path string, opts Options) (opened, error) {
	var o opened
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return opened{}, fmt.Errorf("queue: create directory %s: %w", dir, err)
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return opened{}, fmt.Errorf("queue: create directory %s: %w", dir, err)
		}
	}
	// Each round either opens the file or changes what is at path (created it,
	// moved it aside, lost a race to another creator), so a few rounds suffice.
	for range 8 {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := create(path, opts); err != nil && !errors.Is(err, errRaced) {
				return opened{}, err
			}
			continue
		case err != nil:
			return opened{}, fmt.Errorf("queue: open %s: %w", path, err)
		case !fi.Mode().IsRegular():
			return opened{}, fmt.Errorf("queue: open %s: not a regular file (%s); move it away or configure another queue path", path, fi.Mode().Type())
		}

		to, bad, err := inspect(path, opts.LockTimeout)
		if err != nil {
			return opened{}, err
		}
		if bad != nil {
			o.movedTo, o.moveErr = to, bad
			continue
		}

		db, file, err := boltOpen(path, opts.LockTimeout)
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return opened{}, lockedError(path, opts.LockTimeout)
		case errors.Is(err, errBoltInvalid):
			// The header looked right but bbolt refused or panicked. If it
			// panicked it still holds the lock, so rename without taking it.
			bad := fmt.Errorf("%w: %w", ErrCorrupt, err)
			to, merr := moveAside(path, bad, !errors.Is(err, errPanicked), opts.LockTimeout)
			if merr != nil {
				return opened{}, merr
			}
			o.movedTo, o.moveErr = to, bad
			continue
		case err != nil:
			return opened{}, fmt.Errorf("queue: open %s: %w", path, err)
		}

		// Another process may have renamed the file (Compact, a move aside)
		// while we waited for the lock: then we hold the lock of a file that
		// is no longer the queue. Start over on the new one.
		if cur, err := os.Stat(path); err != nil || !sameFile(file, cur) {
			_ = db.Close()
			continue
		}

		if err := validate(db); err != nil {
			if errors.Is(err, ErrNewerFormat) {
				_ = db.Close()
				return opened{}, fmt.Errorf("queue: open %s: %w; install the newer tillscan again or move the file away", path, err)
			}
			bad := fmt.Errorf("%w: %w", ErrCorrupt, err)
			to, merr := moveAside(path, bad, false, 0) // we hold bbolt's lock
			_ = db.Close()
			if merr != nil {
				return opened{}, merr
			}
			o.movedTo, o.moveErr = to, bad
			continue
		}
		repaired, err := prepare(db, time.Now())
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				_ = db.Close()
				return opened{}, fmt.Errorf("queue: open %s: %w", path, err)
			}
			to, merr := moveAside(path, err, false, 0) // we hold bbolt's lock
			_ = db.Close()
			if merr != nil {
				return opened{}, merr
			}
			o.movedTo, o.moveErr = to, err
			continue
		}
		removeLeftovers(path)
		o.db, o.repaired = db, repaired
		return o, nil
	}
	return opened{}, fmt.Errorf("queue: open %s: the file keeps changing while it is opened; is another program creating or moving it?", path)
}

func lockedError(path string, timeout time.Duration) error {
	return fmt.Errorf("another tillscan is using %s (waited %s for its lock; stop the other process, e.g. systemctl stop tillscan): %w",
		path, timeout, ErrLocked)
}

var (
	errRaced       = errors.New("another process created the file first")
	errBoltInvalid = errors.New("bbolt cannot open the file")
	errPanicked    = errors.New("bbolt panicked")
)

// boltOpen opens path with bbolt and returns the *os.File bbolt locked.
// bbolt errors that mean "this is not a usable bbolt file", and panics while
// reading it, come back wrapped in errBoltInvalid.
func boltOpen(path string, timeout time.Duration) (db *bolt.DB, file *os.File, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true)) // a fault in the mmap becomes a panic
	defer func() {
		if r := recover(); r != nil {
			db, file, err = nil, nil, fmt.Errorf("%w: %w: %v", errBoltInvalid, errPanicked, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout, // trap 2: never zero
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	switch {
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, nil, fmt.Errorf("%w: %w", errBoltInvalid, err)
	case err != nil:
		return nil, nil, err
	}
	return db, file, nil
}

func sameFile(f *os.File, fi os.FileInfo) bool {
	ffi, err := f.Stat()
	return err == nil && os.SameFile(ffi, fi)
}

// validate checks that db is a tillscan queue of a format this binary knows,
// and runs bbolt's structural check.
func validate(db *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the file panicked: %v", r)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || string(meta.Get(keyMagic)) != magic {
			return fmt.Errorf("%w: a bbolt file without tillscan's marker", errSchema)
		}
		v := meta.Get(keyFormat)
		if len(v) != 4 {
			return fmt.Errorf("%w: no format version", errSchema)
		}
		f := binary.BigEndian.Uint32(v)
		if f > format {
			return fmt.Errorf("%w (format %d, this tillscan reads up to %d)", ErrNewerFormat, f, format)
		} else if f < 1 {
			return fmt.Errorf("%w: format %d", errSchema, f)
		}
		for _, b := range v1Buckets { // prepare adds the others

			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: buckets missing (%s)", errSchema, b)
			}
		}
		return structural(tx)
	})
}

// structural runs bbolt's page-level check and returns its first problems.
func structural(tx *bolt.Tx) error {
	var errs []error
	for err := range tx.Check() {
		if len(errs) < 10 {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("bbolt check: %w", errors.Join(errs...))
	}
	return nil
}

// create makes a new, empty queue at path. It builds the file under a
// temporary name, fsyncs it, links it into place (failing if path appeared
// meanwhile: errRaced) and fsyncs the directory, so path never names a
// half-initialised file.
func create(path string, opts Options) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".init-*")
	if err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the link, path keeps the file
	if err := f.Close(); err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyMagic, []byte(magic)); err != nil {
			return err
		}
		return meta.Put(keyFormat, binary.BigEndian.AppendUint32(nil, format))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return errRaced
	} else if errors.Is(err, fs.ErrNotExist) {
		return errRaced // a process that opened the queue cleaned our temp file up
	} else if err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("queue: create %s: %w", path, err)
	}
	return nil
}

// removeLeftovers deletes temporary files of a create that crashed. It runs
// while we hold the queue's lock.
func removeLeftovers(path string) {
	matches, _ := filepath.Glob(globEscape(path) + ".init-*")
	for _, m := range matches {
		_ = os.Remove(m) // best effort: a leftover only wastes space
	}
}

func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// syncDir fsyncs a directory, making a new or renamed entry in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// inspect takes the file lock and checks the bbolt header of path with
// plain reads, before bbolt maps it: a truncated file would fault bbolt
// when it reads past the end. A bad file is moved aside (to, bad); err is
// for everything that does not show the file is bad (locked, unreadable).
func inspect(path string, timeout time.Duration) (to string, bad error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", nil, fmt.Errorf("queue: open %s: %w", path, err)
	}
	defer f.Close() // releases the lock
	if err := lock(f, path, timeout); err != nil {
		return "", nil, err
	}
	if bad := checkFile(f); bad != nil {
		bad = fmt.Errorf("%w: %w", ErrCorrupt, bad)
		to, err := rename(path)
		if err != nil {
			return "", nil, err
		}
		return to, bad, nil
	}
	return "", nil, nil
}

func lock(f *os.File, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := tryLock(f)
		if err != nil {
			return fmt.Errorf("queue: lock %s: %w", path, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return lockedError(path, timeout)
		}
		time.Sleep(50 * time.Millisecond) // flock has no timeout; bbolt polls the same way
	}
}

// moveAside renames path out of the way; with takeLock it first takes the
// file lock, so a file another process is using is never moved.
func moveAside(path string, reason error, takeLock bool, timeout time.Duration) (string, error) {
	if takeLock {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return "", fmt.Errorf("queue: open %s: %w", path, err)
		}
		defer f.Close()
		if err := lock(f, path, timeout); err != nil {
			return "", err
		}
	}
	to, err := rename(path)
	if err != nil {
		return "", fmt.Errorf("%w (the file is not a valid queue: %w)", err, reason)
	}
	return to, nil
}

// rename moves path to path.corrupt-<UTC time>[-n] and fsyncs the directory.
func rename(path string) (string, error) {
	base := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	to := base
	for n := 2; ; n++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = base + "-" + strconv.Itoa(n)
	}
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("queue: move invalid file %s aside: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("queue: move invalid file %s aside: %w", path, err)
	}
	return to, nil
}
