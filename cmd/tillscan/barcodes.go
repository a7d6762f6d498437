package main

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/boombuler/barcode/code128"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
)

// barcodesCmd is `tillscan barcodes`: a printable HTML sheet (A4, no
// scripts, no external resources) with one Code 128 barcode for every
// command a cashier can scan at this till.
type barcodesCmd struct {
	Config string   `short:"c" env:"TILLSCAN_CONFIG" help:"Config file whose modes and currency to use (default: /etc/tillscan/tillscan.yaml if it exists, else the built-in commands only)." type:"path"`
	Sum    []string `help:"A purchase sum to print a TILLSCAN:SUM barcode for; repeat for several (default 5, 10, 20, 50)." sep:"none" placeholder:"AMOUNT"`
	Out    string   `short:"o" help:"Write the page to this file instead of standard output." type:"path"`
}

// Barcode geometry. CSS pixels are 1/96 inch on paper at 100% scale, so a
// 2 px module is 0.53 mm (21 mil), wide enough for any handheld scanner;
// Code 128 wants a quiet zone of at least 10 modules on each side.
const (
	quietModules   = 10
	moduleWidthPx  = 2
	barHeightPx    = 68  // ≈ 18 mm
	maxSheetWidth  = 680 // ≈ 180 mm: A4 minus 15 mm margins
	defaultSumList = "5 10 20 50"
)

func (c *barcodesCmd) Run(g *globals) error {
	return c.run(g, config.DefaultPath)
}

// run is Run with the default config path as a parameter, so tests need
// not depend on what /etc holds.
func (c *barcodesCmd) run(g *globals, defaultPath string) error {
	cfg, path, err := c.loadConfig(defaultPath)
	if err != nil {
		return err
	}
	sums := c.Sum
	if len(sums) == 0 {
		sums = strings.Fields(defaultSumList)
	}
	s, err := buildSheet(cfg, path, sums)
	if err != nil {
		return err
	}
	var buf bytes.Buffer // render fully first: no half-written file on error
	if err := renderSheet(&buf, s); err != nil {
		return fmt.Errorf("barcodes: %w", err)
	}
	if c.Out == "" {
		_, err := g.Stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(c.Out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("barcodes: %w", err)
	}
	fmt.Fprintf(g.Stdout, "wrote %d barcodes to %s (print at 100%% scale, not \"fit to page\")\n", len(s.Codes), c.Out)
	return nil
}

// loadConfig loads --config, or defaultPath if it exists; with neither it
// returns a nil config (built-in commands only).
func (c *barcodesCmd) loadConfig(defaultPath string) (*config.Config, string, error) {
	path := c.Config
	if path == "" {
		if _, err := os.Stat(defaultPath); errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
		path = defaultPath
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, "", err // config errors already name the file
	}
	return cfg, path, nil
}

// sheet is what the page template renders.
type sheet struct {
	TillID string // empty without a config
	Source string // config file, or empty
	Note   string // shown when only the built-in commands are listed
	Codes  []code
}

// code is one labelled barcode.
type code struct {
	Label string
	Text  string // what the barcode encodes, printed under it
	SVG   svgBarcode
}

// svgBarcode is a Code 128 symbol as SVG geometry, in CSS pixels.
type svgBarcode struct {
	Modules     int // symbol width in modules, quiet zones excluded
	ModuleWidth int
	Width       int // (Modules + 2 quiet zones) × ModuleWidth
	Height      int
	Bars        []bar // one per run of dark modules
}

type bar struct{ X, W int }

// buildSheet lists the commands the till reacts to, as the daemon builds
// them (pos.DefaultCommands plus one per configured mode).
func buildSheet(cfg *config.Config, path string, sums []string) (sheet, error) {
	s := sheet{Source: path}
	currency := ""
	modeTexts := map[string]bool{} // upper case, as the till matches
	if cfg == nil {
		s.Note = "No config file given and " + config.DefaultPath + " does not exist: only the built-in commands are listed."
	} else {
		s.TillID = cfg.TillID
		currency = cfg.Currency
		names := make([]string, 0, len(cfg.Modes))
		for name := range cfg.Modes {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			text := cfg.Modes[name].Barcode
			svg, err := newSVGBarcode(text)
			if err != nil {
				return sheet{}, fmt.Errorf("barcodes: %s: modes.%s.barcode %q: %w", path, name, text, err)
			}
			s.Codes = append(s.Codes, code{Label: "Next card: " + name, Text: text, SVG: svg})
			modeTexts[strings.ToUpper(text)] = true
		}
	}
	builtin := []code{
		{Label: "Next card: redeem", Text: "TILLSCAN:REDEEM"},
		{Label: "Cancel the pending mode / sum", Text: "TILLSCAN:CANCEL"},
		{Label: "Undo the last action on the last card", Text: "TILLSCAN:UNDO"},
	}
	for _, a := range sums {
		v, text, err := parseSum(a)
		if err != nil {
			return sheet{}, fmt.Errorf("barcodes: --sum %q: %w", a, err)
		}
		builtin = append(builtin, code{
			Label: "Purchase sum " + currency + strconv.FormatFloat(v, 'f', 2, 64),
			Text:  "TILLSCAN:SUM:" + text,
		})
	}
	for _, b := range builtin {
		if modeTexts[strings.ToUpper(b.Text)] {
			continue // a mode uses this text; the daemon lets the mode win
		}
		svg, err := newSVGBarcode(b.Text)
		if err != nil {
			return sheet{}, fmt.Errorf("barcodes: %s: %w", b.Text, err)
		}
		b.SVG = svg
		s.Codes = append(s.Codes, b)
	}
	return s, nil
}

// parseSum checks a --sum amount the way the till will read it (a
// positive number below 10^9) and returns it with the text to encode.
// Only digits and one decimal point (or comma) are allowed, so the printed
// text is what a cashier expects ("1e3" would scan as 1000).
func parseSum(a string) (float64, string, error) {
	text := strings.ReplaceAll(strings.TrimSpace(a), ",", ".")
	if text == "" || strings.Trim(text, "0123456789.") != "" || strings.Count(text, ".") > 1 {
		return 0, "", errors.New("want an amount like 5 or 12.50")
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v <= 0 || v >= 1e9 {
		return 0, "", errors.New("want a positive amount below 1000000000, like 5 or 12.50")
	}
	return v, text, nil
}

// newSVGBarcode encodes text as Code 128 and lays out its bars.
func newSVGBarcode(text string) (svgBarcode, error) {
	// Printable ASCII only: the encoder maps ñ, ò, ó, ô to the FNC
	// symbols (a barcode that would not scan as the text), and control
	// characters would reach the till as terminators or nothing.
	for i, r := range text {
		if r < 0x20 || r > 0x7e {
			return svgBarcode{}, fmt.Errorf("character %q at byte %d cannot be put in a Code 128 command barcode (printable ASCII only): change the text", r, i)
		}
	}
	bc, err := code128.Encode(text)
	if err != nil {
		return svgBarcode{}, fmt.Errorf("code 128: %w", err)
	}
	n := bc.Bounds().Dx()
	s := svgBarcode{Modules: n, ModuleWidth: moduleWidthPx, Height: barHeightPx}
	if (n+2*quietModules)*s.ModuleWidth > maxSheetWidth {
		s.ModuleWidth = 1 // 0.26 mm still reads on most scanners; better than not fitting
	}
	s.Width = (n + 2*quietModules) * s.ModuleWidth
	if s.Width > maxSheetWidth {
		return svgBarcode{}, fmt.Errorf("%d characters is too long to print on A4 (%d modules): use a shorter text", len(text), n)
	}
	for x := 0; x < n; {
		if !dark(bc.At(x, 0)) {
			x++
			continue
		}
		start := x
		for x < n && dark(bc.At(x, 0)) {
			x++
		}
		s.Bars = append(s.Bars, bar{X: (quietModules + start) * s.ModuleWidth, W: (x - start) * s.ModuleWidth})
	}
	return s, nil
}

// dark reports whether a barcode pixel is a bar (the encoder's foreground
// is black, its background white).
func dark(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r+g+b < 3*0x8000
}

// renderSheet writes the page. html/template escapes every text.
func renderSheet(w *bytes.Buffer, s sheet) error {
	t, err := template.New("sheet").Parse(sheetTemplate)
	if err != nil {
		return err
	}
	return t.Execute(w, s)
}

// sheetTemplate is well-formed XML as well as HTML (void elements closed
// with />), which lets the tests check it with encoding/xml.
const sheetTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>tillscan command barcodes{{with .TillID}} — till {{.}}{{end}}</title>
<style>
@page { size: A4; margin: 15mm; }
body { font-family: sans-serif; color: #000; background: #fff; margin: 0; }
h1 { font-size: 14pt; margin: 0 0 2mm 0; }
p.intro, p.note { font-size: 9pt; margin: 0 0 4mm 0; }
p.note { font-weight: bold; }
div.code { break-inside: avoid; page-break-inside: avoid; margin: 0 0 6mm 0; }
h2 { font-size: 12pt; margin: 0 0 1mm 0; }
svg { display: block; }
p.text { font-family: monospace; font-size: 10pt; margin: 1mm 0 0 0; }
</style>
</head>
<body>
<h1>tillscan command barcodes{{with .TillID}} — till {{.}}{{end}}</h1>
<p class="intro">Scan a command barcode, then the customer's card: the command applies to that card only (forgotten after 60 s).{{with .Source}} From {{.}}.{{end}} Print at 100% scale (not "fit to page").</p>
{{- with .Note}}
<p class="note">{{.}}</p>
{{- end}}
{{- range .Codes}}
<div class="code">
<h2>{{.Label}}</h2>
<svg width="{{.SVG.Width}}" height="{{.SVG.Height}}" viewBox="0 0 {{.SVG.Width}} {{.SVG.Height}}" role="img" aria-label="Code 128: {{.Text}}" shape-rendering="crispEdges">
{{- $h := .SVG.Height}}
{{- range .SVG.Bars}}
<rect x="{{.X}}" y="0" width="{{.W}}" height="{{$h}}"/>
{{- end}}
</svg>
<p class="text">{{.Text}}</p>
</div>
{{- end}}
</body>
</html>
`
