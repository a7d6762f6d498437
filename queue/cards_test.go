package queue_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

type cardSeen struct {
	number, data string
	updated      time.Time
}

func allCards(t *testing.T, q *queue.Queue) []cardSeen {
	t.Helper()
	var out []cardSeen
	if err := q.Cards(func(number string, data []byte, updated time.Time) error {
		out = append(out, cardSeen{number, string(data), updated})
		return nil
	}); err != nil {
		t.Fatalf("Cards() = %v", err)
	}
	return out
}

// The card cache lives in the queue's file: one small commit per card,
// kept across restarts and compaction, exported, checked.
func TestCardCache(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	for _, c := range []struct{ number, data string }{{"612001-100-201", "cashback"}, {"544256-439-856", "stamp v1"}, {"544256-439-857", "stamp"}} {
		if err := q.PutCard(c.number, []byte(c.data), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.PutCard("544256-439-856", []byte("stamp v2"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.DeleteCard("544256-439-857"); err != nil {
		t.Fatal(err)
	}
	if err := q.DeleteCard("000000-000-000"); err != nil {
		t.Errorf("DeleteCard(absent) = %v, want nil", err)
	}
	for _, bad := range []string{"", "a b", "x\x00y"} {
		if err := q.PutCard(bad, []byte("x"), t0); err == nil {
			t.Errorf("PutCard(%q) = nil, want an error", bad)
		}
	}
	if err := q.PutCard("544256-439-858", make([]byte, 1<<20), t0); err == nil {
		t.Error("PutCard(1 MiB) = nil, want an error")
	}
	want := []cardSeen{{"544256-439-856", "stamp v2", t0.Add(time.Hour)}, {"612001-100-201", "cashback", t0}}
	check := func(q *queue.Queue) {
		t.Helper()
		got := allCards(t, q)
		if len(got) != len(want) {
			t.Fatalf("Cards() = %v, want %v", got, want)
		}
		for i := range got {
			if got[i].number != want[i].number || got[i].data != want[i].data || !got[i].updated.Equal(want[i].updated) {
				t.Errorf("Cards()[%d] = %v, want %v", i, got[i], want[i])
			}
		}
		mustCheck(t, q)
	}
	check(q)

	if err := q.PutTemplate("42", []byte("visits"), t0); err != nil {
		t.Fatal(err)
	}
	var tpl []string
	if err := q.Templates(func(id string, data []byte, _ time.Time) error {
		tpl = append(tpl, id+"="+string(data))
		return nil
	}); err != nil || len(tpl) != 1 || tpl[0] != "42=visits" {
		t.Errorf("Templates() = %v, %v; want 42=visits", tpl, err)
	}

	var buf bytes.Buffer
	if err := q.ExportCaches(&buf); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	var lines []string
	for sc.Scan() {
		var e queue.CacheEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("ExportCaches line %s: %v", sc.Bytes(), err)
		}
		lines = append(lines, e.Kind+" "+e.Key+" "+string(e.Data))
	}
	if got := strings.Join(lines, "|"); got != "card 544256-439-856 stamp v2|card 612001-100-201 cashback|template 42 visits" {
		t.Errorf("ExportCaches() = %q", got)
	}
	if err := q.DeleteTemplate("42"); err != nil {
		t.Fatal(err)
	}

	q.Close()
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := queue.Compact(path, copyPath); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, copyPath} {
		q2, err := queue.Open(p, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		check(q2)
		q2.Close()
	}
}

// A damaged cache entry is only a cache miss: Open drops it and says so.
func TestCardCache_DamagedEntryDropped(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	if err := q.PutCard("544256-439-856", []byte("stamp"), t0); err != nil {
		t.Fatal(err)
	}
	if err := q.RawCardPut([]byte("544256\x01439-857"), []byte("short")); err != nil {
		t.Fatal(err)
	}
	if err := q.Check(); err == nil || !strings.Contains(err.Error(), "card cache") {
		t.Fatalf("Check() = %v, want the damaged card cache entry", err)
	}
	q = reopen(t, q, path)
	if rep := strings.Join(q.Repaired(), "\n"); !strings.Contains(rep, "dropped damaged card cache entry") {
		t.Errorf("Repaired() = %q, want the dropped entry", rep)
	}
	if got := allCards(t, q); len(got) != 1 || got[0].number != "544256-439-856" {
		t.Errorf("Cards() = %v, want the undamaged entry only", got)
	}
	mustCheck(t, q)
}

// A bit flip in a cache entry's key leaves the entry where its old key
// sorted, out of order in its page, where a search for the key does not
// find it: the repair drops it all the same, and the cache reads after.
func TestCardCache_DamagedKeyOutOfOrder(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	for _, n := range []string{"700000-000-000", "700000-000-001", "700000-000-002", "700000-000-003"} {
		if err := q.PutCard(n, []byte("stamp"), t0); err != nil {
			t.Fatal(err)
		}
	}
	q.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// "700000-000-001" becomes "700000-000-0\xb01": it now sorts after
	// every other key but sits second. Every copy of it, also in pages
	// an earlier transaction freed.
	key := []byte("700000-000-001")
	if !bytes.Contains(b, key) {
		t.Fatal("the key is not in the file")
	}
	for i := bytes.Index(b, key); i >= 0; i = bytes.Index(b, key) {
		b[i+12] ^= 0x80
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err = queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if rep := strings.Join(q.Repaired(), "\n"); !strings.Contains(rep, `dropped damaged card cache entry "700000-000-0\xb01"`) {
		t.Errorf("Repaired() = %q, want the dropped entry", rep)
	}
	var got []string
	for _, c := range allCards(t, q) {
		got = append(got, c.number)
	}
	if want := []string{"700000-000-000", "700000-000-002", "700000-000-003"}; !slices.Equal(got, want) {
		t.Errorf("Cards() = %q; want %q", got, want)
	}
	mustCheck(t, q)
}
