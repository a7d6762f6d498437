package main

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestImportDirection keeps imports pointing one way, toward cmd/tillscan:
// the leaves know nothing of each other, and the sandbox does not share the
// client's wire types (a mistake shared by both could not fail a test).
func TestImportDirection(t *testing.T) {
	const mod = "github.com/tillscan/tillscan/"
	allowed := map[string][]string{
		"scanner":              nil,
		"scanner/scannertest":  nil,
		"scanner/hid":          {"scanner"},
		"scanner/passthrough":  {"scanner", "scanner/hid"},
		"apiclient":            nil,
		"apiclient/sandbox":    {"configs/safeyaml"},
		"queue":                nil,
		"pos":                  {"apiclient", "queue", "scanner"},
		"cmd/tillscan/config":  {"apiclient", "apiclient/redislimit", "configs/safeyaml", "pos", "scanner", "scanner/hid"}, // checks each setting with its package's own parser
		"configs/safeyaml":     nil,
		"cmd/tillscan/control": nil,
	}
	for pkg, ok := range allowed {
		p, err := build.Import(mod+pkg, ".", 0)
		if err != nil {
			t.Fatalf("import %s: %v", pkg, err)
		}
		for _, imp := range p.Imports {
			if rest, found := strings.CutPrefix(imp, mod); found && !slices.Contains(ok, rest) {
				t.Errorf("%s imports %s; allowed: %v", pkg, rest, ok)
			}
		}
	}
}
