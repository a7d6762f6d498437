package queue

import (
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// groupCommit lets writers that arrive together share one fsync'd commit:
// the first writer commits at once (no added delay); writers that arrive
// while a commit is being fsync'd wait, and the next one of them commits
// them all in one transaction. Every writer still returns only after the
// commit holding its change is on disk. bbolt's DB.Batch does the same but
// waits up to MaxBatchDelay even for a lone writer.
type groupCommit struct {
	db      *bolt.DB
	commits atomic.Int64 // read-write transactions committed, for tests and benchmarks

	mu      sync.Mutex // guards pending and busy
	pending []*write
	busy    bool // a writer is committing; the others wait in pending
}

type write struct {
	fn   func(*txn) error
	err  error
	wake chan bool // true: commit the pending writes yourself; false: your write is done
}

// update runs fn in a fsync'd read-write transaction, perhaps shared with
// other writers. fn may run more than once (a shared transaction that fails
// is rolled back and each write re-run on its own), so it must set its
// results afresh on each run.
func (g *groupCommit) update(fn func(*txn) error) error {
	w := &write{fn: fn, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.busy {
		g.mu.Unlock()
		if lead := <-w.wake; !lead {
			return w.err
		}
		g.mu.Lock()
	}
	g.busy = true
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()

	g.commit(batch)

	g.mu.Lock()
	if len(g.pending) > 0 {
		g.pending[0].wake <- true // it commits the writes that arrived meanwhile
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, o := range batch {
		if o != w {
			o.wake <- false
		}
	}
	return w.err
}

// commit runs batch in one transaction; if that fails, each write on its
// own, so one write's error (a refused transition) never undoes another's.
func (g *groupCommit) commit(batch []*write) {
	if len(batch) > 1 {
		err := g.tx(func(t *txn) error {
			for _, w := range batch {
				if err := w.fn(t); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			return // every w.err stays nil
		}
	}
	for _, w := range batch {
		w.err = g.tx(w.fn)
	}
}

// tx runs fn in one read-write transaction. A panic in fn becomes its
// error, so the writers waiting on this one are never left hanging.
func (g *groupCommit) tx(fn func(*txn) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("queue: transaction panicked: %v", r)
		}
	}()
	err = g.db.Update(func(tx *bolt.Tx) error { return run(tx, fn) })
	if err == nil {
		g.commits.Add(1)
	}
	return err
}
