package apiclient_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient"
)

// docs/api.md states the facts the code relies on; its tables of card types
// and card actions must say what the code does, so the two cannot drift.
func TestDocsAPI_MatchesTheCode(t *testing.T) {
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatalf("reading docs/api.md: %v", err)
	}
	rows := map[string][]string{} // backticked name in a table row's first cell -> the row's cells
	for line := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		for _, part := range strings.Split(cells[0], ",") {
			if name := strings.Trim(strings.TrimSpace(part), "`"); name != "" {
				rows[name] = cells
			}
		}
	}

	for _, m := range apiclient.Methods() {
		cells, ok := rows[string(m)]
		if !ok || len(cells) < 4 {
			t.Errorf("docs/api.md has no card-action row for %s", m)
			continue
		}
		field := "none"
		if m.Field() != "" {
			field = "`" + m.Field() + "`"
		}
		if !strings.HasPrefix(cells[1], field) {
			t.Errorf("docs/api.md: %s's body field is %q; the code sends %s", m, cells[1], field)
		}
		if whole := cells[2] == "yes"; m.Field() != "" && whole != m.IntegerQuantity() {
			t.Errorf("docs/api.md: %s whole number %q; the code says %v", m, cells[2], m.IntegerQuantity())
		}
		for _, ct := range apiclient.CardTypes() {
			if m.AppliesTo(ct) && !strings.Contains(cells[3], ct.String()) {
				t.Errorf("docs/api.md: %s's card types %q lack %s", m, cells[3], ct)
			}
		}
	}

	for _, ct := range apiclient.CardTypes() {
		cells, ok := rows[strconv.Itoa(int(ct))]
		if !ok || len(cells) < 2 || !strings.HasPrefix(cells[1], ct.String()) {
			t.Errorf("docs/api.md: no card-type row \"| %d | %s …\"", int(ct), ct)
		}
	}
}
