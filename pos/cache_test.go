package pos

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
)

func TestCache_PersistReloadCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cards.json")
	log := zerolog.New(zerolog.NewTestWriter(t))
	c, err := OpenCache(path, log)
	if err != nil {
		t.Fatalf("OpenCache(new) = %v", err)
	}
	info := CardInfo{Type: apiclient.Reward, TemplateID: 7, UpdatedAt: time.Unix(1700000000, 0).UTC(),
		RewardTiers: []apiclient.RewardTier{{ID: 11, Threshold: ptr(100.0)}}}
	if err := c.Put("612001-100-207", info); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := c.LearnMechanics(7, MechPoints); err != nil {
		t.Fatalf("LearnMechanics = %v", err)
	}
	if err := c.Put("544256-439-856", CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := c.Forget("544256-439-856"); err != nil {
		t.Fatalf("Forget = %v", err)
	}

	c2, err := OpenCache(path, log)
	if err != nil {
		t.Fatalf("OpenCache(reload) = %v", err)
	}
	got, ok := c2.Get("612001-100-207")
	if !ok || got.Type != apiclient.Reward || got.TemplateID != 7 || !got.UpdatedAt.Equal(info.UpdatedAt) ||
		len(got.RewardTiers) != 1 || got.RewardTiers[0].ID != 11 {
		t.Errorf("Get after reload = %+v, %v; want %+v", got, ok, info)
	}
	if _, ok := c2.Get("544256-439-856"); ok {
		t.Error("forgotten card came back after reload")
	}
	if m, ok := c2.Mechanics(7); m != MechPoints || !ok {
		t.Errorf("Mechanics(7) after reload = %q, %v; want points", m, ok)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(leftovers) > 0 {
		t.Errorf("temp files left behind: %v", leftovers)
	}

	if err := os.WriteFile(path, []byte(`{"version":1,"cards":{"x":`), 0o600); err != nil {
		t.Fatal(err)
	}
	c3, err := OpenCache(path, log)
	if err != nil {
		t.Fatalf("OpenCache(corrupt) = %v, want a fresh cache", err)
	}
	if c3.Len() != 0 {
		t.Errorf("corrupt cache gave %d cards, want 0", c3.Len())
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("corrupt file moved to %v, want one .corrupt-* file", aside)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("corrupt file still at %s (err %v)", path, err)
	}
	if err := c3.Put("544256-439-856", CardInfo{Type: apiclient.Stamp}); err != nil {
		t.Fatalf("Put after corrupt = %v", err)
	}
}

func TestCache_Memory(t *testing.T) {
	c, err := OpenCache("", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put("544256-439-856", CardInfo{Type: apiclient.Stamp}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("544256-439-856"); !ok {
		t.Fatal("in-memory cache lost the card")
	}
}
