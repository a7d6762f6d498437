package pos

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
)

func TestReadCardTypes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cards.json")
	c, err := OpenCache(path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put("612001-100-201", CardInfo{Type: apiclient.Cashback, TemplateID: 3}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCardTypes(path)
	if err != nil || len(got) != 1 || got["612001-100-201"] != apiclient.Cashback {
		t.Fatalf("ReadCardTypes = %v, %v; want the cashback card", got, err)
	}
	if got, err := ReadCardTypes(filepath.Join(dir, "none.json")); err != nil || len(got) != 0 {
		t.Fatalf("ReadCardTypes(missing) = %v, %v; want no cards, no error", got, err)
	}
	os.WriteFile(path, []byte("{garbage"), 0o600)
	if _, err := ReadCardTypes(path); err == nil {
		t.Fatal("ReadCardTypes(damaged) = nil error; want one")
	}
	if b, _ := os.ReadFile(path); string(b) != "{garbage" {
		t.Fatalf("ReadCardTypes changed a damaged file to %q; it must leave it to the daemon", b)
	}
}
