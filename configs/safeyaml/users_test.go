package safeyaml_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/configs/safeyaml"
)

// TestSeedFileBounded: the sandbox's seed loader decodes through the
// bounds too (it ran out of memory on an alias bomb).
func TestSeedFileBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		p := "*x" + string(rune('0'+i-1))
		b.WriteString("x" + string(rune('0'+i)) + ": &x" + string(rune('0'+i)) + " [" + strings.TrimSuffix(strings.Repeat(p+", ", 9), ", ") + "]\n")
	}
	path := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.LoadSeed(path); !errors.Is(err, safeyaml.ErrExpansion) {
		t.Fatalf("LoadSeed(alias bomb) = %v, want %v", err, safeyaml.ErrExpansion)
	}
	if _, err := sandbox.LoadSeed("../sandbox-seed.yaml"); err != nil {
		t.Fatalf("LoadSeed(the example seed) = %v", err)
	}
}
