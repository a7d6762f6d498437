// Package queuetest damages queue files the way failing disks and bad
// copies do, for the damaged-file campaigns of the queue's own tests and of
// the whole daemon's (cmd/tillscan). Like net/http/httptest beside
// net/http, it is test support: no production code imports it.
//
// A campaign loads a known queue file once (Load), then, round after round,
// opens a randomly damaged copy of it (File.Damage) and checks that every
// job whose page the damage did not touch came through.
package queuetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tillscan/tillscan/queue"
)

// jobsBucket is the bucket holding one record per job (id → the job as
// stored), as queue/store.go names it. The queue's own campaign
// (TestDamagedFile) fails if Load stops finding the jobs it listed.
const jobsBucket = "jobs"

// File is a queue file's bytes with each job record stored once, and where
// each record lies in them.
type File struct {
	Data     []byte
	PageSize int               // the bbolt page size: the unit damage is counted in
	Record   map[string][2]int // job id → its record's [start, end) in Data
}

// Load compacts the closed queue file at path into a copy in dir (a
// compacted file holds each record once, with no stale copies in free
// pages, so a record's bytes locate its page) and returns the copy with
// every job record located in it. It fails if a record is not found exactly
// once.
func Load(path, dir string) (File, error) {
	tight := filepath.Join(dir, "queue.db")
	if err := queue.Compact(path, tight); err != nil {
		return File{}, fmt.Errorf("queuetest: %w", err)
	}
	f := File{PageSize: os.Getpagesize(), Record: map[string][2]int{}}
	var err error
	if f.Data, err = os.ReadFile(tight); err != nil {
		return File{}, fmt.Errorf("queuetest: %w", err)
	}
	db, err := bolt.Open(tight, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return File{}, fmt.Errorf("queuetest: %s: %w", tight, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(jobsBucket))
		if b == nil {
			return errors.New("no jobs bucket in the queue file")
		}
		return b.ForEach(func(k, v []byte) error {
			off := bytes.Index(f.Data, v)
			if off < 0 || bytes.Contains(f.Data[off+1:], v) {
				return fmt.Errorf("record of %s not found exactly once in the file", k)
			}
			f.Record[string(k)] = [2]int{off, off + len(v)}
			return nil
		})
	})
	if err != nil {
		return File{}, fmt.Errorf("queuetest: %s: %w", path, err)
	}
	return f, nil
}

// Page returns the page holding job id's record.
func (f File) Page(id string) int { return f.Record[id][0] / f.PageSize }

// Damage is one damaged copy of a File.
type Damage struct {
	Data  []byte       // the damaged bytes
	What  string       // what was done, for a failure message
	Pages map[int]bool // the pages it touched; a truncation touches every page past the cut
}

// Damage returns a damaged copy of f, each kind as likely: 8 random bytes
// at a random place (as in issue 8's audit), 1 to 3 bit flips in the page
// of one of jobs (ids of records in f; the campaign names the jobs whose
// fate it checks), 1 to 4 bit flips anywhere, or a truncation (as by a full
// disk or a bad copy). The same rng state and jobs give the same damage.
func (f File) Damage(rng *rand.Rand, jobs []string) Damage {
	b := bytes.Clone(f.Data)
	pages := map[int]bool{}
	switch rng.IntN(4) {
	case 0:
		off := rng.IntN(len(b) - 8)
		for i := range 8 {
			b[off+i] = byte(rng.UintN(256))
			pages[(off+i)/f.PageSize] = true
		}
		return Damage{b, fmt.Sprintf("8 random bytes at %d", off), pages}
	case 1:
		id := jobs[rng.IntN(len(jobs))]
		base := f.Page(id) * f.PageSize
		n := 1 + rng.IntN(3)
		for range n {
			off := base + rng.IntN(f.PageSize)
			b[off] ^= 1 << rng.IntN(8)
			pages[off/f.PageSize] = true
		}
		return Damage{b, fmt.Sprintf("%d bit flips in the page of job %s", n, id), pages}
	case 2:
		n := 1 + rng.IntN(4)
		for range n {
			off := rng.IntN(len(b))
			b[off] ^= 1 << rng.IntN(8)
			pages[off/f.PageSize] = true
		}
		return Damage{b, fmt.Sprintf("%d bit flips anywhere", n), pages}
	default:
		n := rng.IntN(len(b))
		for p := n / f.PageSize; p <= len(b)/f.PageSize; p++ {
			pages[p] = true
		}
		return Damage{b[:n], fmt.Sprintf("truncated to %d of %d bytes", n, len(b)), pages}
	}
}
