package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Writers that arrive while a commit is under way share the next one, and
// one writer's error undoes no other writer's change.
func TestGroupCommit(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, failing := range []int{-1, 3} {
		t.Run(fmt.Sprintf("failing=%d", failing), func(t *testing.T) {
			q, err := Open(filepath.Join(t.TempDir(), "queue.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			release := make(chan struct{})
			leaderIn := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { // the leader: holds its transaction open until released
				err := q.update(func(t *txn) error {
					select {
					case <-leaderIn:
					default:
						close(leaderIn)
						<-release
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
			<-leaderIn
			before := q.gc.commits.Load()
			const n = 8
			errs := make([]error, n)
			ids := make([]string, n)
			for i := range n {
				wg.Go(func() {
					errs[i] = q.update(func(t *txn) error {
						if i == failing {
							return ErrState
						}
						id, err := q.newID(t, at)
						if err != nil {
							return err
						}
						ids[i] = id
						return t.save(Job{}, Job{ID: id, Scan: Scan{Card: fmt.Sprint("card-", i)}, State: Pending, CreatedAt: at, NextAttempt: at})
					})
				})
			}
			for waiting := 0; waiting < n; { // until every writer waits behind the leader
				runtime.Gosched()
				q.gc.mu.Lock()
				waiting = len(q.gc.pending)
				q.gc.mu.Unlock()
			}
			close(release)
			wg.Wait()
			commits := q.gc.commits.Load() - before
			for i, err := range errs {
				switch {
				case i == failing && !errors.Is(err, ErrState):
					t.Errorf("failing writer: err = %v, want ErrState", err)
				case i != failing && err != nil:
					t.Errorf("writer %d: %v", i, err)
				case i != failing:
					if _, err := q.Get(ids[i]); err != nil {
						t.Errorf("writer %d's job: %v", i, err)
					}
				}
			}
			want := int64(2) // the leader's, then one for all eight
			if failing >= 0 {
				want = 1 + n - 1 // the shared one failed: each of the others alone
			}
			if commits != want {
				t.Errorf("%d commits, want %d", commits, want)
			}
			if err := q.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
