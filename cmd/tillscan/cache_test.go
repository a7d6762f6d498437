package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// TestDaemon_CardCacheInQueueFile is the regression test for the daemon
// keeping its card cache in cards.json, rewritten whole for every new card
// (100 ms at 50 000 cards): the daemon keeps it in the queue's file, moves
// an old cards.json over once and renames it, and starts whatever state
// the old file is in.
func TestDaemon_CardCacheInQueueFile(t *testing.T) {
	const card = "544256-439-856"
	tests := []struct {
		name     string
		file     string // cards.json's text; "" for none
		wantCard bool   // the card is in the cache after the start
		wantLeft string // what is left of cards.json: "", ".imported" or ".corrupt-"
	}{
		{name: "no old file"},
		{name: "old file", file: `{"version":1,"cards":{"` + card + `":{"type":"stamp","template_id":1}},"mechanics":{}}`,
			wantCard: true, wantLeft: ".imported"},
		{name: "damaged old file", file: `{"version":1,"cards":{`, wantLeft: ".corrupt-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, "cards.json")
			if tt.file != "" {
				if err := os.WriteFile(old, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d := testDaemonIn(t, dir) // fails the test if the daemon does not start
			if _, ok := d.cache.Get(card); ok != tt.wantCard {
				t.Errorf("card in the cache after the start: %v, want %v", ok, tt.wantCard)
			}
			if err := d.cache.Put("612001-100-203", pos.CardInfo{Type: apiclient.Coupon, TemplateID: 5}); err != nil {
				t.Fatal(err)
			}
			d.close()

			left, _ := filepath.Glob(old + "*")
			if tt.wantLeft == "" && len(left) > 0 || tt.wantLeft != "" && (len(left) != 1 || !strings.HasPrefix(left[0], old+tt.wantLeft)) {
				t.Errorf("files %v; want only cards.json%s…, and no live cards.json", left, tt.wantLeft)
			}
			q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			types, err := pos.CardTypes(q)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := types[card]; ok != tt.wantCard {
				t.Errorf("imported card in the queue's file: %v, want %v", ok, tt.wantCard)
			}
			if types["612001-100-203"] != apiclient.Coupon {
				t.Errorf("a card learned while running is not in the queue's file: %v", types)
			}
		})
	}
}
