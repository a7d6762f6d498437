package queuetest_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/queue/queuetest"
)

// loadKnown writes a queue of n jobs, closes it and loads it.
func loadKnown(t *testing.T, n int) (queuetest.File, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range n {
		card := fmt.Sprintf("544256-439-%03d", i%7)
		j, err := q.Enqueue(queue.Scan{Card: card, TillID: "t", Scanner: "s", Raw: card, ScannedAt: now}, now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := queuetest.Load(path, t.TempDir())
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	return f, ids
}

func TestLoad_LocatesEveryRecord(t *testing.T) {
	f, ids := loadKnown(t, 40)
	if len(f.Record) != len(ids) {
		t.Fatalf("Load() located %d records, want %d", len(f.Record), len(ids))
	}
	for _, id := range ids {
		r, ok := f.Record[id]
		if !ok {
			t.Fatalf("record of job %s not located", id)
		}
		if rec := f.Data[r[0]:r[1]]; !bytes.Contains(rec, []byte(`"`+id+`"`)) {
			t.Errorf("record of job %s at %v does not name it: %.80q", id, r, rec)
		}
		if p := f.Page(id); p != r[0]/f.PageSize || p < 1 {
			t.Errorf("Page(%s) = %d; record starts at byte %d of pages of %d", id, p, r[0], f.PageSize)
		}
	}
}

// Damage touches only the pages it reports, aims its targeted bit flips at
// the named jobs, and is reproducible from the rng's seed.
func TestDamage_ReportsWhatItTouched(t *testing.T) {
	f, ids := loadKnown(t, 40)
	targets := ids[:3]
	rng, again := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	kinds := map[string]int{}
	for round := range 200 {
		d := f.Damage(rng, targets)
		if d2 := f.Damage(again, targets); !bytes.Equal(d.Data, d2.Data) || d.What != d2.What {
			t.Fatalf("round %d: the same seed gave %q and %q", round, d.What, d2.What)
		}
		if len(d.Data) < len(f.Data) {
			kinds["truncated"]++
			if !d.Pages[len(d.Data)/f.PageSize] {
				t.Errorf("round %d (%s): the page of the cut is not reported", round, d.What)
			}
			continue
		}
		for off := range d.Data {
			if d.Data[off] != f.Data[off] && !d.Pages[off/f.PageSize] {
				t.Fatalf("round %d (%s): byte %d changed in page %d, not reported in %v", round, d.What, off, off/f.PageSize, d.Pages)
			}
		}
		var id string
		if _, err := fmt.Sscanf(d.What, "%d bit flips in the page of job %s", new(int), &id); err == nil {
			kinds["job page"]++
			if !slices.Contains(targets, id) {
				t.Errorf("round %d (%s): aimed at a job not named", round, d.What)
			}
			for p := range d.Pages {
				if p != f.Page(id) {
					t.Errorf("round %d (%s): touched page %d, want only page %d", round, d.What, p, f.Page(id))
				}
			}
		} else {
			kinds["elsewhere"]++
		}
	}
	for _, k := range []string{"truncated", "job page", "elsewhere"} {
		if kinds[k] == 0 {
			t.Errorf("200 rounds and no damage of kind %q (%v)", k, kinds)
		}
	}
}
