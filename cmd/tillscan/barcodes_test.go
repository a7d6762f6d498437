package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/boombuler/barcode/code128"
)

// code128Widths is the Code 128 symbol table as bar/space widths (bar
// first), symbol values 0–106, written from the specification rather than
// taken from the encoder. 106 is the stop pattern with its final bar.
var code128Widths = [107]string{
	"212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
	"221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
	"221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
	"212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
	"231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
	"231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
	"314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
	"112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
	"111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
	"214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
	"114131", "311141", "411131", "211412", "211214", "211232", "2331112",
}

const c128StartB, c128Stop = 104, 106

// modulesOf expands a widths string into modules (true = bar).
func modulesOf(widths string) []bool {
	var m []bool
	for i, w := range widths {
		for range int(w - '0') {
			m = append(m, i%2 == 0)
		}
	}
	return m
}

// code128B computes the module pattern of text in code set B on its own:
// start B, one symbol per character (value = ASCII − 32), the checksum
// (start + Σ position × value, mod 103), stop.
func code128B(t *testing.T, text string) []bool {
	t.Helper()
	m := modulesOf(code128Widths[c128StartB])
	sum := c128StartB
	for i, r := range text {
		if r < 32 || r > 127 {
			t.Fatalf("%q is not in code set B", r)
		}
		v := int(r - 32)
		sum += (i + 1) * v
		m = append(m, modulesOf(code128Widths[v])...)
	}
	m = append(m, modulesOf(code128Widths[sum%103])...)
	return append(m, modulesOf(code128Widths[c128Stop])...)
}

// decode128B reads modules back as a code set B symbol (the way a scanner
// would), checking start, checksum and stop.
func decode128B(modules []bool) (string, error) {
	value := map[string]int{}
	for v, w := range code128Widths {
		value[w] = v
	}
	var vals []int
	for i := 0; i < len(modules); {
		n := 11
		if len(modules)-i == 13 {
			n = 13 // the stop pattern
		}
		if len(modules)-i < n {
			return "", errors.New("trailing modules")
		}
		var w strings.Builder
		run := 0
		for j := i; j < i+n; j++ {
			run++
			if j == i+n-1 || modules[j] != modules[j+1] {
				w.WriteString(strconv.Itoa(run))
				run = 0
			}
		}
		v, ok := value[w.String()]
		if !ok {
			return "", errors.New("no symbol " + w.String())
		}
		vals = append(vals, v)
		i += n
	}
	if len(vals) < 3 || vals[0] != c128StartB || vals[len(vals)-1] != c128Stop {
		return "", errors.New("not start B … stop")
	}
	data, check := vals[1:len(vals)-2], vals[len(vals)-2]
	sum := c128StartB
	var text []byte
	for i, v := range data {
		if v > 95 {
			return "", errors.New("not a code set B character")
		}
		sum += (i + 1) * v
		text = append(text, byte(v+32))
	}
	if sum%103 != check {
		return "", errors.New("checksum mismatch")
	}
	return string(text), nil
}

func TestBarcodeEncoderMatchesCode128Table(t *testing.T) {
	for _, text := range []string{"TILLSCAN:REDEEM", "TILLSCAN:CANCEL", "TILLSCAN-MODE-SUBTRACT", "TILLSCAN:UNDO", "TILLSCAN:SUM:20"} {
		t.Run(text, func(t *testing.T) {
			bc, err := code128.Encode(text)
			if err != nil {
				t.Fatal(err)
			}
			var got []bool
			for x := range bc.Bounds().Dx() {
				got = append(got, dark(bc.At(x, 0)))
			}
			if want := code128B(t, text); !slices.Equal(got, want) {
				t.Errorf("encoder modules\n got %v\nwant %v", got, want)
			}
			if dec, err := decode128B(got); err != nil || dec != text {
				t.Errorf("decode = %q, %v; want %q", dec, err, text)
			}
		})
	}
}

func TestBarcodeSVGConsistentWithEncoder(t *testing.T) {
	for _, text := range []string{"TILLSCAN:REDEEM", "X", "TILLSCAN:SUM:1000", strings.Repeat("A", 50)} {
		t.Run(text, func(t *testing.T) {
			bc, err := code128.Encode(text)
			if err != nil {
				t.Fatal(err)
			}
			runs, prev := 0, false
			for x := range bc.Bounds().Dx() {
				d := dark(bc.At(x, 0))
				if d && !prev {
					runs++
				}
				prev = d
			}
			s, err := newSVGBarcode(text)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Bars) != runs {
				t.Errorf("%d bars, want %d dark runs", len(s.Bars), runs)
			}
			if s.Modules != bc.Bounds().Dx() {
				t.Errorf("modules = %d, want %d", s.Modules, bc.Bounds().Dx())
			}
			if want := (s.Modules + 2*quietModules) * s.ModuleWidth; s.Width != want {
				t.Errorf("width = %d, want %d", s.Width, want)
			}
			if s.Width > maxSheetWidth || s.ModuleWidth < 1 {
				t.Errorf("width %d px with %d px modules does not fit A4", s.Width, s.ModuleWidth)
			}
			// The rendered page holds the same rects, in the same place.
			var buf bytes.Buffer
			if err := renderSheet(&buf, sheet{Codes: []code{{Label: "l", Text: text, SVG: s}}}); err != nil {
				t.Fatal(err)
			}
			p := parseSheetPage(t, buf.String())
			if len(p.codes) != 1 || p.codes[0].width != s.Width || len(p.codes[0].rects) != runs {
				t.Fatalf("page has %+v, want one svg %d wide with %d rects", p.codes, s.Width, runs)
			}
		})
	}
}

// sheetPageCode is one barcode as read back from the page.
type sheetPageCode struct {
	label, text string
	width       int
	rects       [][2]int // x, width
}

type sheetPage struct {
	note  string
	codes []sheetPageCode
}

// parseSheetPage checks the page is well-formed (strict XML: every element
// closed, every entity valid), has no script or external resource, and
// collects the labelled barcodes.
func parseSheetPage(t *testing.T, doc string) sheetPage {
	t.Helper()
	if !strings.HasPrefix(doc, "<!DOCTYPE html>\n") {
		t.Errorf("page does not start with <!DOCTYPE html>")
	}
	for _, bad := range []string{"<script", "http:", "https:", "src=", "href=", "url(", "@import"} {
		if strings.Contains(strings.ToLower(doc), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var p sheetPage
	var stack []string
	var cur *sheetPageCode
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
			text.Reset()
			attr := func(name string) string {
				for _, a := range tok.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch {
			case tok.Name.Local == "div" && attr("class") == "code":
				p.codes = append(p.codes, sheetPageCode{})
				cur = &p.codes[len(p.codes)-1]
			case tok.Name.Local == "svg" && cur != nil:
				cur.width, _ = strconv.Atoi(attr("width"))
			case tok.Name.Local == "rect" && cur != nil:
				x, _ := strconv.Atoi(attr("x"))
				w, _ := strconv.Atoi(attr("width"))
				cur.rects = append(cur.rects, [2]int{x, w})
			}
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			switch {
			case tok.Name.Local == "h2" && cur != nil:
				cur.label = text.String()
			case tok.Name.Local == "p" && cur != nil:
				cur.text = text.String()
			case tok.Name.Local == "p" && strings.HasPrefix(text.String(), "No config"):
				p.note = text.String()
			case tok.Name.Local == "div":
				cur = nil
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements %v", stack)
	}
	return p
}

// modulesFromRects turns an SVG's rects back into modules.
func modulesFromRects(t *testing.T, c sheetPageCode) []bool {
	t.Helper()
	mw := 0
	for _, mwTry := range []int{moduleWidthPx, 1} {
		if c.width%mwTry == 0 && len(c.rects) > 0 && c.rects[0][0] == quietModules*mwTry {
			mw = mwTry
			break
		}
	}
	if mw == 0 {
		t.Fatalf("%s: no quiet zone of %d modules before the first bar", c.text, quietModules)
	}
	n := c.width/mw - 2*quietModules
	m := make([]bool, n)
	for _, r := range c.rects {
		for x := r[0] / mw; x < (r[0]+r[1])/mw; x++ {
			m[x-quietModules] = true
		}
	}
	if !m[n-1] {
		t.Errorf("%s: the last module before the quiet zone is not a bar", c.text)
	}
	return m
}

func writeSheetFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBarcodesSheet(t *testing.T) {
	dir := t.TempDir()
	twoModes := writeSheetFile(t, dir, "two.yaml", `till_id: front-1
state_dir: `+dir+`
currency: "£"
modes:
  subtract:
    barcode: TILLSCAN-MODE-SUBTRACT
    rules:
      stamp: {action: subtract-stamp, quantity: 1}
  staff:
    barcode: "STAFF<&>\"'"
    rules:
      stamp: {action: add-stamp, quantity: 2}
`)
	builtins := []sheetPageCode{
		{label: "Next card: redeem", text: "TILLSCAN:REDEEM"},
		{label: "Cancel the pending mode / sum", text: "TILLSCAN:CANCEL"},
		{label: "Undo the last action on the last card", text: "TILLSCAN:UNDO"},
	}
	sumCodes := func(cur string, sums ...string) []sheetPageCode {
		var c []sheetPageCode
		for _, s := range sums {
			v, _ := strconv.ParseFloat(s, 64)
			c = append(c, sheetPageCode{label: "Purchase sum " + cur + strconv.FormatFloat(v, 'f', 2, 64), text: "TILLSCAN:SUM:" + s})
		}
		return c
	}
	tests := []struct {
		name        string
		cmd         barcodesCmd
		defaultPath string
		want        []sheetPageCode
		wantNote    bool
	}{
		{
			name: "two modes and a currency", cmd: barcodesCmd{Config: twoModes},
			want: slices.Concat([]sheetPageCode{
				{label: "Next card: staff", text: `STAFF<&>"'`},
				{label: "Next card: subtract", text: "TILLSCAN-MODE-SUBTRACT"},
			}, builtins, sumCodes("£", "5", "10", "20", "50")),
		},
		{
			name: "chosen sums", cmd: barcodesCmd{Config: twoModes, Sum: []string{"12.50", "7,5"}},
			want: slices.Concat([]sheetPageCode{
				{label: "Next card: staff", text: `STAFF<&>"'`},
				{label: "Next card: subtract", text: "TILLSCAN-MODE-SUBTRACT"},
			}, builtins, []sheetPageCode{
				{label: "Purchase sum £12.50", text: "TILLSCAN:SUM:12.50"},
				{label: "Purchase sum £7.50", text: "TILLSCAN:SUM:7.5"},
			}),
		},
		{
			name: "default config file", defaultPath: twoModes,
			want: slices.Concat([]sheetPageCode{
				{label: "Next card: staff", text: `STAFF<&>"'`},
				{label: "Next card: subtract", text: "TILLSCAN-MODE-SUBTRACT"},
			}, builtins, sumCodes("£", "5", "10", "20", "50")),
		},
		{
			name: "no config: built-ins only", defaultPath: filepath.Join(dir, "absent.yaml"),
			want: slices.Concat(builtins, sumCodes("", "5", "10", "20", "50")), wantNote: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			g := &globals{Ctx: context.Background(), Stdout: &out, Stderr: io.Discard, Env: func(string) string { return "" }}
			if err := tt.cmd.run(g, tt.defaultPath); err != nil {
				t.Fatal(err)
			}
			p := parseSheetPage(t, out.String())
			if got := p.note != ""; got != tt.wantNote {
				t.Errorf("note %q, want a note: %v", p.note, tt.wantNote)
			}
			if len(p.codes) != len(tt.want) {
				t.Fatalf("%d barcodes, want %d: %+v", len(p.codes), len(tt.want), p.codes)
			}
			for i, c := range p.codes {
				if c.label != tt.want[i].label || c.text != tt.want[i].text {
					t.Errorf("barcode %d: got %q / %q, want %q / %q", i, c.label, c.text, tt.want[i].label, tt.want[i].text)
				}
				// Every printed barcode scans as its printed text.
				if dec, err := decode128B(modulesFromRects(t, c)); err != nil || dec != c.text {
					t.Errorf("barcode %d decodes as %q, %v; want %q", i, dec, err, c.text)
				}
			}
		})
	}
}

func TestBarcodesErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := func(name, barcode string) string {
		return writeSheetFile(t, dir, name, "till_id: t\nstate_dir: "+dir+"\nmodes:\n  staff:\n    barcode: "+barcode+"\n    rules:\n      stamp: {action: add-stamp, quantity: 2}\n")
	}
	tests := []struct {
		name string
		cmd  barcodesCmd
		want []string // all in the error
	}{
		{"non-ASCII mode barcode", barcodesCmd{Config: cfg("euro.yaml", "STAFF-€")}, []string{"modes.staff.barcode", "'€'", "printable ASCII"}},
		{"FNC rune is not encoded silently", barcodesCmd{Config: cfg("fnc.yaml", "SEÑOR-ñ")}, []string{"modes.staff.barcode", "'Ñ'"}},
		{"too long for A4", barcodesCmd{Config: cfg("long.yaml", strings.Repeat("X", 70))}, []string{"modes.staff.barcode", "too long"}},
		{"bad sum", barcodesCmd{Sum: []string{"1e3"}}, []string{`--sum "1e3"`}},
		{"zero sum", barcodesCmd{Sum: []string{"0"}}, []string{`--sum "0"`, "positive"}},
		{"missing config", barcodesCmd{Config: filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			g := &globals{Ctx: context.Background(), Stdout: &out, Stderr: io.Discard, Env: func(string) string { return "" }}
			err := tt.cmd.run(g, filepath.Join(dir, "absent.yaml"))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes despite the error", out.Len())
			}
		})
	}
}

func TestBarcodesOutFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sheet.html")
	var stdout bytes.Buffer
	g := &globals{Ctx: context.Background(), Stdout: &stdout, Stderr: io.Discard, Env: func(string) string { return "" }}
	c := barcodesCmd{Out: out, Sum: []string{"5"}}
	if err := c.run(g, filepath.Join(dir, "absent.yaml")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p := parseSheetPage(t, string(b))
	if len(p.codes) != 4 { // redeem, cancel, undo, one sum
		t.Errorf("%d barcodes in %s, want 4", len(p.codes), out)
	}
	if want := "wrote 4 barcodes to " + out; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
}
