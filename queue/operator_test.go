package queue_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

func TestStats(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	into(t, q, "A", queue.Done)
	into(t, q, "B", queue.Dead)
	into(t, q, "C", queue.Dropped)
	into(t, q, "D", queue.Sending)
	into(t, q, "E", queue.Ambiguous)
	enqueue(t, q, "F", t0.Add(-time.Hour)) // the oldest pending
	enqueue(t, q, "F", t0)

	st, err := q.Stats(t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := map[queue.State]int{queue.Pending: 2, queue.Sending: 1, queue.Ambiguous: 1, queue.Dead: 1, queue.Done: 1, queue.Dropped: 1}
	for s, n := range want {
		if st.Depth[s] != n {
			t.Errorf("Depth[%s] = %d, want %d", s, st.Depth[s], n)
		}
	}
	if st.OldestPending != time.Hour+time.Minute || st.OldestAmbiguous != time.Minute {
		t.Errorf("OldestPending, OldestAmbiguous = %v, %v; want 1h1m, 1m", st.OldestPending, st.OldestAmbiguous)
	}
	if !st.LastDone.Equal(t0.Add(time.Second)) || st.FileSize <= 0 || st.MovedAside != "" {
		t.Errorf("LastDone, FileSize, MovedAside = %v, %d, %q; want %v, > 0, none", st.LastDone, st.FileSize, st.MovedAside, t0.Add(time.Second))
	}
}

func TestList(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	var pending []string
	for range 5 {
		pending = append(pending, enqueue(t, q, "A", t0).ID)
	}
	dead := into(t, q, "B", queue.Dead)

	page1, err := q.List(queue.Pending, 2, "")
	if err != nil || len(page1) != 2 || page1[0].ID != pending[0] || page1[1].ID != pending[1] {
		t.Fatalf("List(pending, 2, \"\") = %v, %v; want the first two", ids(page1), err)
	}
	page2, _ := q.List(queue.Pending, 2, page1[1].ID)
	if len(page2) != 2 || page2[0].ID != pending[2] {
		t.Errorf("List(pending, 2, %s) = %v, want %v", page1[1].ID, ids(page2), pending[2:4])
	}
	if all, _ := q.List("", 0, ""); len(all) != 6 {
		t.Errorf("List(all) = %d jobs, want 6", len(all))
	}
	if d, _ := q.List(queue.Dead, 0, ""); len(d) != 1 || d[0].ID != dead.ID || d[0].Reason != "422 not allowed" {
		t.Errorf("List(dead) = %+v, want the dead job with its reason", d)
	}
	if _, err := q.List("stuck", 0, ""); err == nil {
		t.Error("List(unknown state) = nil error")
	}
	if _, err := q.Get("01ZZZZZZZZZZZZZZZZZZZZZZZZ"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	if err := q.Done("01ZZZZZZZZZZZZZZZZZZZZZZZZ", queue.Attempt{}, ""); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Done(unknown) = %v, want ErrNotFound", err)
	}
}

func ids(jobs []queue.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func TestResolve_Notes(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	a := into(t, q, "A", queue.Ambiguous)
	if err := q.Resolve(a.ID, false, "not in back office at 14:02", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, q, a.ID)
	last := got.Attempts[len(got.Attempts)-1]
	if got.State != queue.Pending || last.Kind != "operator" || last.Outcome != "not_applied" || last.Note != "not in back office at 14:02" {
		t.Errorf("after Resolve(not applied): state %s, last attempt %+v", got.State, last)
	}
	wantNext(t, q, t0.Add(time.Hour), a.ID)
}

func TestExport(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	scans := make([]queue.Scan, 1203) // more than two pages of 500
	for i := range scans {
		scans[i] = scan("A")
	}
	if err := q.EnqueueBatch(scans, t0); err != nil {
		t.Fatal(err)
	}
	into(t, q, "B", queue.Done)
	var buf bytes.Buffer
	if err := q.Export(&buf); err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(&buf)
	n, last, states := 0, "", map[queue.State]int{}
	for s.Scan() {
		var j queue.Job
		if err := json.Unmarshal(s.Bytes(), &j); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if j.ID <= last {
			t.Fatalf("line %d: id %s after %s, want id order", n+1, j.ID, last)
		}
		last = j.ID
		states[j.State]++
		n++
	}
	if n != 1204 || states[queue.Done] != 1 {
		t.Errorf("exported %d jobs (%v), want 1204 with 1 done", n, states)
	}
}

func TestCheck_FindsBrokenIndexes(t *testing.T) {
	type bucket = interface {
		Put(k, v []byte) error
		Delete(k []byte) error
	}
	tests := []struct {
		name   string
		break_ func(a, a2 queue.Job, jobs, due, cards, states, finished bucket) error
		want   string
	}{
		{"head missing from due", func(a, _ queue.Job, _, due, _, _, _ bucket) error {
			return due.Delete(append(tk(a.NextAttempt), a.ID...))
		}, "not in the due index"},
		{"later job in due", func(_, a2 queue.Job, _, due, _, _, _ bucket) error {
			return due.Put(append(tk(a2.NextAttempt), a2.ID...), nil)
		}, "is not the head"},
		{"due points nowhere", func(_, _ queue.Job, _, due, _, _, _ bucket) error {
			return due.Put(append(tk(t0), "01ZZZZZZZZZZZZZZZZZZZZZZZZ"...), nil)
		}, "missing or damaged job"},
		{"two heads", func(_, a2 queue.Job, jobs, _, _, states, _ bucket) error {
			a2.State = queue.Sending
			v, _ := json.Marshal(a2)
			return errors.Join(jobs.Put([]byte(a2.ID), v), states.Delete(append([]byte("pending\x00"), a2.ID...)),
				states.Put(append([]byte("sending\x00"), a2.ID...), nil))
		}, "two heads"},
		{"job without card entry", func(_, a2 queue.Job, _, _, cards, _, _ bucket) error {
			return cards.Delete(append([]byte("A\x00"), a2.ID...))
		}, "missing from the index of card"},
		{"wrong state entry", func(a, _ queue.Job, _, _, _, states, _ bucket) error {
			return states.Put(append([]byte("done\x00"), a.ID...), nil)
		}, "listed as done"},
		{"undecodable job", func(a, _ queue.Job, jobs, _, _, _, _ bucket) error {
			return jobs.Put([]byte(a.ID), []byte("{"))
		}, "undecodable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := openQueue(t, queue.Options{})
			a := enqueue(t, q, "A", t0)
			a2 := enqueue(t, q, "A", t0)
			into(t, q, "B", queue.Done)
			mustCheck(t, q)
			if err := q.RawUpdate(func(jobs, due, cards, states, finished interface {
				Put(k, v []byte) error
				Delete(k []byte) error
			}) error {
				return tt.break_(a, a2, jobs, due, cards, states, finished)
			}); err != nil {
				t.Fatal(err)
			}
			err := q.Check()
			if !errors.Is(err, queue.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check() = %v, want ErrCorrupt mentioning %q", err, tt.want)
			}
		})
	}
}

func tk(t time.Time) []byte {
	ns := uint64(t.UnixNano())
	return []byte{byte(ns >> 56), byte(ns >> 48), byte(ns >> 40), byte(ns >> 32), byte(ns >> 24), byte(ns >> 16), byte(ns >> 8), byte(ns)}
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	q, err := queue.Open(path, queue.Options{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// A past outage: a big backlog, since drained and pruned.
	scans := make([]queue.Scan, 2000)
	for i := range scans {
		scans[i] = scan("A")
		scans[i].Raw = strings.Repeat("x", 300)
	}
	if err := q.EnqueueBatch(scans, t0); err != nil {
		t.Fatal(err)
	}
	keep := enqueue(t, q, "B", t0)
	pending, _ := q.List(queue.Pending, 0, "")
	var drop []string
	for i, j := range pending {
		if j.Card == "A" && i%2 == 0 {
			drop = append(drop, j.ID)
		}
	}
	if err := q.DropBatch(drop, t0); err != nil {
		t.Fatal(err)
	}
	if err := queue.Compact(path, path); !errors.Is(err, queue.ErrLocked) {
		t.Errorf("Compact() while open = %v, want ErrLocked", err)
	}
	if _, err := q.Prune(t0.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	before, _ := q.FileSize()
	q.Close()

	if err := queue.Compact(path, path); err != nil {
		t.Fatalf("Compact(in place) = %v", err)
	}
	fi, _ := os.Stat(path)
	t.Logf("file size %d → %d bytes", before, fi.Size())
	if fi.Size() >= before {
		t.Errorf("size after compact %d, before %d; want smaller", fi.Size(), before)
	}
	q2, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, q2, keep.ID); got.State != queue.Pending {
		t.Errorf("job after compact = %s, want pending", got.State)
	}
	if left, _ := q2.List(queue.Pending, 0, ""); len(left) != 1001 {
		t.Errorf("%d pending after compact, want 1001", len(left))
	}
	mustCheck(t, q2)
	wantNext(t, q2, t0, pending[1].ID)
	q2.Close()

	other := filepath.Join(dir, "copy.db")
	if err := queue.Compact(path, other); err != nil {
		t.Fatalf("Compact(to a new file) = %v", err)
	}
	if err := queue.Compact(path, other); err == nil {
		t.Error("Compact() over an existing file succeeded, want an error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("directory holds %d entries, want queue.db and copy.db only", len(entries))
	}
}

// An outage's backlog, drained and pruned, leaves free pages that the next
// outage reuses: the file stays as large as the peak backlog, not the sum.
func TestFileSize_BoundedByPeakBacklog(t *testing.T) {
	q, _ := openQueue(t, queue.Options{Retention: time.Hour})
	var sizes []int64
	for round := range 3 {
		scans := make([]queue.Scan, 1500)
		for i := range scans {
			scans[i] = scan("A")
			scans[i].Raw = strings.Repeat("x", 200)
		}
		now := t0.Add(time.Duration(round) * 24 * time.Hour)
		if err := q.EnqueueBatch(scans, now); err != nil {
			t.Fatal(err)
		}
		jobs, _ := q.List(queue.Pending, 0, "")
		if err := q.DropBatch(ids(jobs), now); err != nil {
			t.Fatal(err)
		}
		if n, err := q.Prune(now.Add(2 * time.Hour)); n != len(scans) || err != nil {
			t.Fatalf("Prune() = %d, %v; want %d", n, err, len(scans))
		}
		size, _ := q.FileSize()
		sizes = append(sizes, size)
	}
	t.Logf("file size after each of 3 outages of 1500 jobs: %v", sizes)
	if sizes[2] > sizes[0] {
		t.Errorf("file grew from %d to %d bytes over equal outages, want it bounded by the peak", sizes[0], sizes[2])
	}
	mustCheck(t, q)
}
