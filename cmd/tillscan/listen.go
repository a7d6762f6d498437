package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/hid"
	"github.com/tillscan/tillscan/scanner/passthrough"
)

// listenCmd is `tillscan listen`: read one or more scanners and print every
// decoded scan, live, until interrupted. It is for installers (is the
// scanner found, is its layout right?) and for the end-to-end test, which
// parses its standard output. Diagnostics go to standard error.
//
// Output: one line per event, written with a single write as it happens.
// Every line is a keyword followed by key=value fields separated by single
// spaces; a value is either a bare token without spaces or quotes, or a Go
// double-quoted string (strconv.Quote: \" \\ \r \n \t \xNN escapes).
//
//	listening scanner=hid-0627:0001 hid=0627:0001 layout=us mode=auto
//	listening scanner=serial serial=/dev/ttyACM0
//	passthrough ready layout=us event=/dev/input/event3
//	device connected scanner=hid-0627:0001 path=1-1:1.0 vid=0627 pid=0001 interface=0 product="QEMU USB Keyboard" serial="68284"
//	device gone scanner=hid-0627:0001 path=1-1:1.0 err="scanner: device gone: hidapi: hid_error is not implemented yet"
//	device error scanner=hid-0627:0001 path=1-1:1.0 err="hid: no permission to open the USB device …"
//	raw scanner=hid-0627:0001 path=1-1:1.0 report=0000220000000000
//	port busy scanner=serial path=/dev/ttyACM0 pid=812 command="tillscan"
//	scan scanner=hid-0627:0001 text="544256-439-856" card="544256-439-856"
//	scan scanner=hid-0c2e:0b61 text="https://x.example/c/1" symbology="]Q1" card=none
//	reject scanner=hid-0627:0001 err="scanner: incomplete scan …"
//	kept scanner=hid-0627:0001 card="544256-439-856"
//	typed scanner=hid-0627:0001 text="4006381333931"
//	type failed scanner=hid-0627:0001 text="…" err="…"
//
// A scan line's card is the loyalty card the till would find in it under
// --card-pattern (the config's card_pattern), or none: the till would say
// "not a loyalty card". "port busy" comes before a serial port is opened
// when another process (the tillscan service, typically) has it open: a
// serial port has one reader, so listen would see nothing or fail.
// "listening" comes once per scanner before any device is opened; for
// serial scanners, path in "device connected/gone" is the configured path.
// "raw" (with --raw, HID only) precedes the scan its report completes. With
// --passthrough every scan line is followed by exactly one "kept" (at once:
// a loyalty card, not re-typed), "typed" (once pass-through's own goroutine
// has typed its keys) or "type failed" line. "device gone" is printed when an open device fails; the
// device is reopened when it returns, with a new "device connected".
//
// The choices of --terminator, --layout, --mode and --pos-format are the
// scanner packages' own lists (Help prints them); each value is checked by
// the package's parser.
type listenCmd struct {
	HID          []string      `name:"hid" placeholder:"VID:PID" help:"USB-HID scanner to read, as hex VID:PID (see 'tillscan devices'); repeatable."`
	Serial       string        `name:"serial" placeholder:"PATH" help:"Serial scanner to read, e.g. /dev/serial/by-id/usb-…"`
	Layout       string        `default:"us" help:"Keyboard country the HID scanner is set to (layouts listed above)."`
	Interface    int           `default:"-1" help:"HID: only this USB interface number (-1: any)."`
	SerialNumber string        `name:"serial-number" help:"HID: only the device with this USB serial number."`
	USBPath      string        `name:"usb-path" help:"HID: only the device on this USB port path, e.g. 1-2.3."`
	Mode         string        `default:"auto" help:"HID report kind (modes listed above)."`
	POSFormat    string        `name:"pos-format" default:"honeywell" help:"HID POS report layout (formats listed above)."`
	Terminator   string        `default:"any" help:"What ends a scan (terminators listed above)."`
	Idle         time.Duration `help:"Idle gap that ends a scan (terminator none) or drops a partial one; 0: default."`
	Baud         int           `help:"Serial: baud rate (0: 9600)."`
	Raw          bool          `help:"HID: also print every input report in hex."`
	Passthrough  bool          `help:"Re-type every scan that is not a loyalty card on a virtual keyboard (/dev/uinput)."`
	PassLayout   string        `name:"pass-layout" help:"Layout of the PC the virtual keyboard types to (default: --layout)."`
	CardPattern  string        `name:"card-pattern" help:"Regular expression for a loyalty card (default: pos.DefaultCardPattern)."`
}

// Help lists the choices of the flags that take a name, from the packages
// that define them, so that the list here cannot drift from theirs.
func (c *listenCmd) Help() string {
	var terms []string
	for _, t := range scanner.Terminators() {
		terms = append(terms, t.String())
	}
	var modes []string
	for _, m := range hid.Modes() {
		modes = append(modes, string(m))
	}
	return "Terminators: " + strings.Join(terms, ", ") + ".\n\n" +
		"Layouts: " + strings.Join(hid.Layouts(), ", ") + ".\n\n" +
		"HID modes: " + strings.Join(modes, ", ") + ".\n\n" +
		"HID POS formats: " + strings.Join(hid.POSFormats(), ", ") + "."
}

// check parses every named choice through its package's parser, so a bad
// value stops the command before any device is touched.
func (c *listenCmd) check() (scanner.Terminator, hid.Mode, error) {
	term, err := scanner.ParseTerminator(c.Terminator)
	if err != nil {
		return 0, "", fmt.Errorf("listen: --terminator: %w", err)
	}
	mode, err := hid.ParseMode(c.Mode)
	if err != nil {
		return 0, "", fmt.Errorf("listen: --mode: %w", err)
	}
	if _, err := hid.POSFormatByName(c.POSFormat); err != nil {
		return 0, "", fmt.Errorf("listen: --pos-format: %w", err)
	}
	for flag, l := range map[string]string{"--layout": c.Layout, "--pass-layout": c.PassLayout} {
		if _, err := hid.LayoutByName(l); err != nil {
			return 0, "", fmt.Errorf("listen: %s: %w", flag, err)
		}
	}
	return term, mode, nil
}

func (c *listenCmd) Run(g *globals) error {
	if len(c.HID) == 0 && c.Serial == "" {
		return errors.New("listen: give --hid VID:PID or --serial PATH (`tillscan devices` lists both)")
	}
	term, mode, err := c.check()
	if err != nil {
		return err
	}
	ext, err := pos.NewExtractor(c.CardPattern)
	if err != nil {
		return fmt.Errorf("listen: --card-pattern: %w", err)
	}
	frame := scanner.FrameConfig{Terminator: term, IdleTimeout: c.Idle}
	out := &lineWriter{w: g.Stdout}
	log := zerolog.New(zerolog.ConsoleWriter{Out: &lineWriter{w: g.Stderr}, NoColor: true, TimeFormat: time.TimeOnly}).
		Level(zerolog.WarnLevel).With().Timestamp().Logger()

	// Sources first, so a configuration error stops before any device is touched.
	type runner struct {
		name string
		run  func(ctx context.Context, emit func(scanner.Scan)) error
	}
	var runners []runner
	for _, id := range c.HID {
		vid, pid, err := parseVIDPID(id)
		if err != nil {
			return fmt.Errorf("listen: --hid: %w", err)
		}
		src, err := hid.New(hid.Config{
			VID: vid, PID: pid, Serial: c.SerialNumber, Interface: c.Interface, Path: c.USBPath,
			Layout: c.Layout, Mode: mode, POSFormat: c.POSFormat, Frame: frame,
		}, log.With().Str("scanner", fmt.Sprintf("hid-%04x:%04x", vid, pid)).Logger(), out.hidHooks(c.Raw))
		if err != nil {
			return fmt.Errorf("listen: --hid %s: %w", id, err)
		}
		out.printf("listening scanner=%s hid=%04x:%04x layout=%s mode=%s", src.Name(), vid, pid, c.Layout, mode)
		runners = append(runners, runner{src.Name(), src.Run})
	}
	if c.Serial != "" {
		slog := log.With().Str("scanner", "serial").Logger()
		src, err := scanner.NewSerial(scanner.SerialConfig{Name: "serial", Path: c.Serial, Baud: c.Baud, Frame: frame}, slog)
		if err != nil {
			return fmt.Errorf("listen: --serial: %w", err)
		}
		out.printf("listening scanner=%s serial=%s", src.Name(), c.Serial)
		for _, u := range portUsers("/proc", c.Serial, os.Getpid()) {
			out.printf("port busy scanner=%s path=%s pid=%d command=%s", src.Name(), c.Serial, u.pid, strconv.Quote(u.command))
			log.Warn().Int("pid", u.pid).Str("command", u.command).Msgf("another process has %s open; a serial port has one reader: "+
				"if it is the tillscan service, stop it first (systemctl stop tillscan) and start it again afterwards", c.Serial)
		}
		opts := scanner.SuperviseOptions{MaxBackoff: 2 * time.Second, OnState: out.serialState(c.Serial)}
		runners = append(runners, runner{src.Name(), func(ctx context.Context, emit func(scanner.Scan)) error {
			return scanner.Supervise(ctx, src, emit, slog, opts)
		}})
	}

	var pass *passer
	if c.Passthrough {
		if pass, err = newPasser(c, ext, term, out); err != nil {
			return fmt.Errorf("listen: --passthrough: %w", err)
		}
		defer pass.typer.Close() // after every reader has returned (wg.Wait below)
	}

	ctx, cancel := context.WithCancelCause(g.Ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	emit := func(s scanner.Scan) {
		card, _ := ext.Card(s.Text)
		out.scan(s, card)
		if pass != nil {
			pass.pass(s)
		}
	}
	for _, r := range runners {
		wg.Go(func() {
			if err := r.run(ctx, emit); err != nil {
				cancel(fmt.Errorf("listen: %s: %w", r.name, err))
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// parseVIDPID parses "0c2e:0b61" (hex, "0x" prefixes allowed).
func parseVIDPID(s string) (vid, pid uint16, err error) {
	v, p, ok := strings.Cut(s, ":")
	if ok {
		var ev, ep error
		vid, ev = parseHex16(v)
		pid, ep = parseHex16(p)
		if ev == nil && ep == nil && vid != 0 && pid != 0 {
			return vid, pid, nil
		}
	}
	return 0, 0, fmt.Errorf("%q is not VID:PID in hex, e.g. 0c2e:0b61", s)
}

func parseHex16(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 16)
	return uint16(n), err
}

// lineWriter writes whole lines, one write each, from any goroutine.
type lineWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, line)
	if f, ok := l.w.(interface{ Flush() error }); ok {
		f.Flush()
	}
}

// Write writes b in one call; zerolog does not serialise its writes, and
// several device goroutines log.
func (l *lineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// scan prints a scan and the loyalty card in it ("" for none).
func (l *lineWriter) scan(s scanner.Scan, card string) {
	line := "scan scanner=" + s.Scanner + " text=" + strconv.Quote(s.Text)
	if s.Symbology != "" {
		line += " symbology=" + strconv.Quote(s.Symbology)
	}
	if card == "" {
		l.printf("%s card=none", line)
		return
	}
	l.printf("%s card=%s", line, strconv.Quote(card))
}

// hidHooks prints device events (and reports, with raw).
func (l *lineWriter) hidHooks(raw bool) hid.Hooks {
	h := hid.Hooks{
		Event: func(e hid.Event) {
			d := e.Device
			switch e.Kind {
			case hid.Connected:
				l.printf("device connected scanner=%s path=%s vid=%04x pid=%04x interface=%d product=%s serial=%s",
					e.Scanner, d.Path, d.VID, d.PID, d.Interface, strconv.Quote(d.Product), strconv.Quote(d.Serial))
			case hid.Gone:
				l.printf("device gone scanner=%s path=%s err=%s", e.Scanner, d.Path, strconv.Quote(errText(e.Err)))
			case hid.OpenFailed:
				l.printf("device error scanner=%s path=%s err=%s", e.Scanner, d.Path, strconv.Quote(errText(e.Err)))
			}
		},
		Reject: func(d hid.Device, err error) {
			l.printf("reject scanner=%s path=%s err=%s", "hid-"+fmt.Sprintf("%04x:%04x", d.VID, d.PID), d.Path, strconv.Quote(err.Error()))
		},
	}
	if raw {
		h.Raw = func(d hid.Device, report []byte) {
			l.printf("raw scanner=hid-%04x:%04x path=%s report=%s", d.VID, d.PID, d.Path, hex.EncodeToString(report))
		}
	}
	return h
}

// serialState turns Supervise's state reports into device lines, each
// failure message once until the device connects again.
func (l *lineWriter) serialState(path string) func(name string, connected bool, err error) {
	last := ""
	return func(name string, connected bool, err error) { // calls never overlap (Supervise)
		switch {
		case connected:
			last = ""
			l.printf("device connected scanner=%s path=%s", name, path)
		case err != nil && err.Error() != last:
			last = err.Error()
			l.printf("device gone scanner=%s path=%s err=%s", name, path, strconv.Quote(last))
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// passer re-types non-card scans through a passthrough.Typer, whose own
// goroutine types them, so typing (a few ms per key) never holds up a
// device goroutine, whose hidapi queue is short.
type passer struct {
	typer *passthrough.Typer
	ext   *pos.Extractor
	term  string
	out   *lineWriter
}

func newPasser(c *listenCmd, ext *pos.Extractor, term scanner.Terminator, out *lineWriter) (*passer, error) {
	layout := c.PassLayout
	if layout == "" {
		layout = c.Layout
	}
	kb, err := passthrough.Open("tillscan pass-through", layout)
	if err != nil {
		return nil, err
	}
	node, err := kb.EventNode()
	if err != nil {
		node = "unknown"
	}
	out.printf("passthrough ready layout=%s event=%s", layout, node)
	p := &passer{ext: ext, term: passthrough.Terminator(term), out: out}
	p.typer = passthrough.NewTyper(kb, passthrough.DefaultQueue, p.typed)
	return p, nil
}

// pass prints "kept" for a loyalty card and queues anything else to be
// typed; a scan the typer cannot take is "type failed" at once.
func (p *passer) pass(s scanner.Scan) {
	if card, err := p.ext.Card(s.Text); err == nil {
		p.out.printf("kept scanner=%s card=%s", s.Scanner, strconv.Quote(card))
		return
	}
	if err := p.typer.Queue(passthrough.Typed{Scanner: s.Scanner, Text: s.Text, Terminator: p.term}); err != nil {
		p.typeFailed(s.Scanner, s.Text, err)
	}
}

// typed is the typer's report: a scan's keys were typed, or not.
func (p *passer) typed(r passthrough.Typed) {
	if r.Err != nil {
		p.typeFailed(r.Scanner, r.Text, r.Err)
		return
	}
	p.out.printf("typed scanner=%s text=%s", r.Scanner, strconv.Quote(r.Text))
}

func (p *passer) typeFailed(scanner, text string, err error) {
	p.out.printf("type failed scanner=%s text=%s err=%s", scanner, strconv.Quote(text), strconv.Quote(err.Error()))
}
