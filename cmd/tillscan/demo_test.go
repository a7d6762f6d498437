package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestDemo_FirstScans: the intro lists every command and the demo till
// understands each; every demo card either does something on a first
// plain scan, or its line in the card list says what it needs and the scan
// is refused saying the same (issue 10).
func TestDemo_FirstScans(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole daemon")
	}
	seed := sandbox.DemoSeed()
	var in strings.Builder
	for _, c := range seed.Cards {
		in.WriteString(c.ID + "\n")
	}
	modes := 0 // the commands that set the next scan (UNDO acts at once: TestDemo_Undo)
	for _, c := range demoCommands {
		if c.text != demoUndo {
			in.WriteString(c.text + "\n")
			modes++
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"demo"}, strings.NewReader(in.String()), &out, &out, func(string) string { return "" }); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	intro, after, ok := strings.Cut(text, "Ctrl-D to finish.")
	if !ok {
		t.Fatalf("demo output has no intro:\n%s", text)
	}
	for _, c := range []string{"TILLSCAN:SUM:", "REDEEM", "SUBTRACT", "TILLSCAN:CANCEL", "TILLSCAN:UNDO"} {
		if !strings.Contains(intro, "  "+c) {
			t.Errorf("the intro does not list %s:\n%s", c, intro)
		}
	}
	if n := strings.Count(after, "· next scan:"); n != modes {
		t.Errorf("%d of the %d commands typed were understood:\n%s", n, modes, after)
	}
	lines := strings.Split(intro, "\n")
	for _, c := range seed.Cards {
		var listed string
		for _, l := range lines {
			if strings.HasPrefix(l, "  "+c.ID+" ") {
				listed = l
			}
		}
		applied := strings.Contains(after, "✔ "+c.ID+":")
		needsSum := strings.Contains(after, "✘ "+c.ID+": NOT applied — this card needs the purchase sum")
		switch {
		case listed == "":
			t.Errorf("card %s is not in the card list:\n%s", c.ID, intro)
		case applied == needsSum:
			t.Errorf("card %s: a first plain scan neither applied nor said what it needs:\n%s", c.ID, after)
		case needsSum != strings.Contains(listed, "needs a sum: type "+demoSum+" first"):
			t.Errorf("card %s: list line %q; the scan needed a sum: %v", c.ID, listed, needsSum)
		}
	}
}

// TestDemo_Undo: UNDO typed after a card takes its stamp back: cancelled
// before it was sent, or taken off once applied (which of the two depends
// on how fast the demo's worker was).
func TestDemo_Undo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole daemon")
	}
	var out bytes.Buffer
	in := strings.NewReader(sandbox.DemoStampCard + "\n" + demoUndo + "\n")
	if err := run(t.Context(), []string{"demo"}, in, &out, &out, func(string) string { return "" }); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	cancelled := strings.Contains(text, "· "+sandbox.DemoStampCard+": undone — the scan was cancelled before it was sent")
	reversed := strings.Contains(text, "✔ "+sandbox.DemoStampCard+": 1 stamp added — 8/10") &&
		strings.Contains(text, "✔ "+sandbox.DemoStampCard+": 1 stamp taken off — 7/10")
	if cancelled == reversed {
		t.Fatalf("UNDO after a stamp: want the stamp cancelled or added and taken off:\n%s", text)
	}
}
