package hid

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/scanner"
)

// step is one input to a pipeline: a report (nil for a read timeout) at an
// offset from the start.
type step struct {
	after  time.Duration
	report []byte
}

func runPipeline(t *testing.T, cfg Config, steps []step) (texts []string, rejects []error) {
	t.Helper()
	mode, err := ParseMode(string(cfg.Mode))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mode = mode
	l, _ := LayoutByName(cfg.Layout)
	f, _ := POSFormatByName(cfg.POSFormat)
	p, err := newPipeline(&cfg, l, f)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	for _, s := range steps {
		var sc []scanner.Scan
		var rj []error
		if s.report == nil {
			sc, rj = p.tick(t0.Add(s.after))
		} else {
			sc, rj = p.report(s.report, t0.Add(s.after))
		}
		for _, x := range sc {
			texts = append(texts, x.Text+"|"+x.Symbology)
		}
		rejects = append(rejects, rj...)
	}
	return texts, rejects
}

// typed turns text into steps 10ms apart, starting at start.
func typed(t *testing.T, layout, text string, start time.Duration) []step {
	l, _ := LayoutByName(layout)
	var out []step
	for i, r := range genReports(t, l, text, genOpts{}) {
		out = append(out, step{start + time.Duration(i)*10*time.Millisecond, r})
	}
	return out
}

func TestParseMode(t *testing.T) {
	for _, m := range Modes() {
		if got, err := ParseMode(strings.ToUpper(string(m))); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", strings.ToUpper(string(m)), got, err, m)
		}
	}
	if got, err := ParseMode(""); err != nil || got != Modes()[0] {
		t.Errorf("ParseMode(\"\") = %q, %v; want the first listed, %q", got, err, Modes()[0])
	}
	if _, err := ParseMode("serial"); err == nil || !strings.Contains(err.Error(), "keyboard") {
		t.Errorf("ParseMode(serial) = %v; want an error listing the modes", err)
	}
}

func TestPipeline(t *testing.T) {
	tick := func(at time.Duration) []step { return []step{{after: at}} }
	tests := []struct {
		name        string
		cfg         Config
		steps       []step
		want        []string
		wantRejects []error
	}{
		{"enter ends a scan", Config{Layout: "de"},
			typed(t, "de", "https://x.example/c/544256-439-856\r", 0),
			[]string{"https://x.example/c/544256-439-856|"}, nil},
		{"lf terminator: Enter types LF", Config{Frame: scanner.FrameConfig{Terminator: scanner.TermLF}},
			typed(t, "us", "123\r", 0), []string{"123|"}, nil},
		{"tab terminator", Config{Frame: scanner.FrameConfig{Terminator: scanner.TermTab}},
			typed(t, "us", "A1\t", 0), []string{"A1|"}, nil},
		{"no terminator: the idle gap ends the scan",
			Config{Frame: scanner.FrameConfig{Terminator: scanner.TermNone, IdleTimeout: 50 * time.Millisecond}},
			append(typed(t, "uk", "544256-439-856", 0), tick(2*time.Second)...), []string{"544256-439-856|"}, nil},
		{"stale partial dropped, next scan whole", Config{Layout: "fr"},
			append(append(typed(t, "fr", "5442", 0), tick(2*time.Second)...), typed(t, "fr", "1234\r", 3*time.Second)...),
			[]string{"1234|"}, []error{scanner.ErrIncomplete}},
		{"auto mode: HID POS report", Config{Frame: scanner.FrameConfig{Prefix: "<", Suffix: ">"}},
			[]step{{0, honeywellReports("]E0", []byte("<4006381333931>\r"))[0]}},
			[]string{"4006381333931|]E0"}, nil},
		{"pos mode, binary kept", Config{Mode: ModePOS},
			[]step{{0, honeywellReports("]Q1", []byte{'a', 0x01, 'b'})[0]}}, []string{"a\x01b|]Q1"}, nil},
		{"keyboard mode never reads HID POS", Config{Mode: ModeKeyboard},
			[]step{{0, honeywellReports("]E0", []byte("1"))[0]}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := runPipeline(t, tt.cfg, tt.steps)
			if len(got) != len(tt.want) {
				t.Fatalf("scans %q; want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("scan %d = %q; want %q", i, got[i], tt.want[i])
				}
			}
			if len(rej) != len(tt.wantRejects) {
				t.Fatalf("rejects %v; want %v", rej, tt.wantRejects)
			}
			for i := range rej {
				if !errors.Is(rej[i], tt.wantRejects[i]) {
					t.Errorf("reject %d = %v; want %v", i, rej[i], tt.wantRejects[i])
				}
			}
		})
	}
}
