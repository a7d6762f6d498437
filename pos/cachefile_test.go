package pos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
)

// writeCacheFile writes an old cache file (cards.json) holding f.
func writeCacheFile(tb testing.TB, path string, f cacheFile) {
	tb.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// openStoreCache opens a queue file in dir and a Cache kept in it.
func openStoreCache(tb testing.TB, dir string, log zerolog.Logger) (*queue.Queue, *Cache) {
	tb.Helper()
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { q.Close() })
	c, err := NewCache(q, log)
	if err != nil {
		tb.Fatal(err)
	}
	return q, c
}

// TestImportCacheFile: an old cache file's valid cards and mechanics move
// into the queue's file once (what the cache knows stays, the bound
// holds), and the file is renamed so nobody takes it for the live cache; a
// damaged one is moved aside with a warning, not an error.
func TestImportCacheFile(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	stamp := func(hours int) CardInfo {
		return CardInfo{Type: apiclient.Stamp, TemplateID: 1, UpdatedAt: at.Add(time.Duration(hours) * time.Hour)}
	}
	// Two valid cards and one bad number; one valid mechanics entry, one
	// bad template id, one unknown mechanics.
	valid := `{"version":1,"cards":{
		"544256-439-856":{"type":"stamp","template_id":1,"updated_at":"2026-11-01T13:00:00Z"},
		"612001-100-207":{"type":"reward","template_id":7,"updated_at":"2026-11-01T12:00:00Z"},
		"12":{"type":"stamp","template_id":1}},
		"mechanics":{"7":"points","x":"points","8":"bogus"}}`
	four := cacheFile{Version: 1, Cards: map[string]CardInfo{
		"544256-439-001": stamp(1), "544256-439-002": stamp(2), "544256-439-003": stamp(3), "544256-439-004": stamp(4),
	}}
	tests := []struct {
		name      string
		file      string // the file's text; "" for no file
		known     map[string]CardInfo
		max       int // the cache's bound; 0 for the default
		wantN     int
		wantCards map[string]int // card → template id expected after a reload; -1: absent
		wantMech  bool           // template 7's mechanics learned
		wantFile  string         // what becomes of the file: "", ".imported", ".corrupt-"
		wantWarn  bool
	}{
		{name: "no file", wantCards: map[string]int{"544256-439-856": -1}},
		{name: "cards and mechanics", file: valid, wantN: 2, wantMech: true, wantFile: ".imported",
			wantCards: map[string]int{"544256-439-856": 1, "612001-100-207": 7, "12": -1}},
		{name: "known cards stay", file: valid, wantN: 1, wantMech: true, wantFile: ".imported",
			known:     map[string]CardInfo{"544256-439-856": {Type: apiclient.Stamp, TemplateID: 5}},
			wantCards: map[string]int{"544256-439-856": 5, "612001-100-207": 7}},
		{name: "bound: the newest go in", file: encode(t, four), max: 3, wantN: 2, wantFile: ".imported",
			known:     map[string]CardInfo{"612001-100-201": {Type: apiclient.Cashback, TemplateID: 3}},
			wantCards: map[string]int{"612001-100-201": 3, "544256-439-004": 1, "544256-439-003": 1, "544256-439-002": -1, "544256-439-001": -1}},
		{name: "damaged", file: `{"version":1,"cards":{"x":`, wantFile: ".corrupt-", wantWarn: true,
			wantCards: map[string]int{"544256-439-856": -1}},
		{name: "unknown version", file: `{"version":2,"cards":{}}`, wantFile: ".corrupt-", wantWarn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cards.json")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var logged strings.Builder
			q, c := openStoreCache(t, dir, zerolog.New(&logged))
			if tt.max > 0 {
				c.max = tt.max
			}
			for card, info := range tt.known {
				if err := c.Put(card, info); err != nil {
					t.Fatal(err)
				}
			}
			n, err := ImportCacheFile(c, path)
			if n != tt.wantN || err != nil {
				t.Fatalf("ImportCacheFile = %d, %v; want %d, nil", n, err, tt.wantN)
			}
			if got := strings.Contains(logged.String(), `"level":"warn"`); got != tt.wantWarn {
				t.Errorf("warned %v, want %v; log:\n%s", got, tt.wantWarn, logged.String())
			}
			left, _ := filepath.Glob(path + "*")
			switch {
			case tt.wantFile == "" && len(left) != 0:
				t.Errorf("files %v, want none", left)
			case tt.wantFile != "" && (len(left) != 1 || !strings.HasPrefix(left[0], path+tt.wantFile)):
				t.Errorf("files %v, want only %s%s…", left, path, tt.wantFile)
			}

			reloaded, err := NewCache(q, zerolog.Nop()) // what the queue's file holds now
			if err != nil {
				t.Fatal(err)
			}
			for card, tmpl := range tt.wantCards {
				info, ok := reloaded.Get(card)
				if tmpl < 0 && ok {
					t.Errorf("card %s in the store, want it left out", card)
				} else if tmpl >= 0 && (!ok || info.TemplateID != tmpl) {
					t.Errorf("card %s in the store = %+v, %v; want template %d", card, info, ok, tmpl)
				}
			}
			if m, ok := reloaded.Mechanics(7); ok != tt.wantMech || (ok && m != MechPoints) {
				t.Errorf("Mechanics(7) after reload = %q, %v; want learned %v", m, ok, tt.wantMech)
			}
			if n, err := ImportCacheFile(c, path); n != 0 || err != nil {
				t.Errorf("second ImportCacheFile = %d, %v; want nothing: the import runs once", n, err)
			}
		})
	}
}

// TestImportCacheFile_StoreFails: when the queue's file cannot take the
// cards, the import says so and the old file stays for the next start.
func TestImportCacheFile_StoreFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cards.json")
	writeCacheFile(t, path, cacheFile{Version: 1, Cards: map[string]CardInfo{"544256-439-856": {Type: apiclient.Stamp, TemplateID: 1}}})
	q, c := openStoreCache(t, dir, zerolog.Nop())
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := ImportCacheFile(c, path); n != 0 || err == nil {
		t.Fatalf("ImportCacheFile into a closed queue = %d, %v; want 0 and an error", n, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the old file is gone after a failed import: %v", err)
	}
	if _, ok := c.Get("544256-439-856"); ok {
		t.Error("a card the store refused is in the cache")
	}
}

func encode(t *testing.T, f cacheFile) string {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fiftyThousand is the size of a full cache (maxCacheCards) in an old file.
func fiftyThousand() cacheFile {
	f := cacheFile{Version: 1, Cards: make(map[string]CardInfo, maxCacheCards)}
	for i := range maxCacheCards {
		f.Cards[fmt.Sprintf("%06d-100-%03d", 100000+i/1000, i%1000)] = CardInfo{Type: apiclient.Stamp, TemplateID: 1, UpdatedAt: time.Now()}
	}
	return f
}

// BenchmarkImportCacheFile measures the one-time import of a full old
// cache file (50 000 cards) into the queue's file, which the daemon does
// at its first start after the upgrade.
//
//	go test -run '^$' -bench ImportCacheFile -benchtime 1x ./pos/
func BenchmarkImportCacheFile(b *testing.B) {
	full := fiftyThousand()
	for b.Loop() {
		dir := b.TempDir()
		path := filepath.Join(dir, "cards.json")
		writeCacheFile(b, path, full)
		_, c := openStoreCache(b, dir, zerolog.Nop())
		start := time.Now()
		if n, err := ImportCacheFile(c, path); n != maxCacheCards || err != nil {
			b.Fatalf("ImportCacheFile = %d, %v", n, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/import")
	}
}

// BenchmarkCachePutNew measures what saving one new card costs the worker
// with 50 000 cards cached in the queue's file (issue 11: it was 100 ms
// when the cache was a JSON file rewritten whole).
//
//	go test -run '^$' -bench CachePutNew -benchtime 200x ./pos/
func BenchmarkCachePutNew(b *testing.B) {
	full := fiftyThousand()
	_, c := openStoreCache(b, b.TempDir(), zerolog.Nop())
	if n, err := c.putMany(full.Cards); n != maxCacheCards || err != nil {
		b.Fatalf("putMany = %d, %v", n, err)
	}
	c.max = 2 * maxCacheCards // measure the put, not the eviction scan
	i := 0
	for b.Loop() {
		i++
		if err := c.Put(fmt.Sprintf("700000-%03d-%03d", i/1000%1000, i%1000), CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
