package qemutest

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tillscan/tillscan/deploy/vmtest"
)

// What the guest runs and what it prints (cmd/tillscan/listen.go's doc
// comment is the format). QEMU's usb-kbd is 0627:0001 on interface 0.
var (
	tillscan  = vmtest.Program{Pkg: "./cmd/tillscan", CGO: true}
	evdevdump = vmtest.Program{Pkg: "./scanner/hid/qemutest/evdevdump"}

	connectedRe   = regexp.MustCompile(`^device connected scanner=\S+ path=\S+ vid=0627 pid=0001 interface=0 product="QEMU USB Keyboard"`)
	goneRe        = regexp.MustCompile(`^device gone\b`)
	deviceErrorRe = regexp.MustCompile(`^device error\b`)
	scanRe        = regexp.MustCompile(`^scan scanner=\S+ text=("(?:[^"\\]|\\.)*") card=\S+$`)
	keptRe        = regexp.MustCompile(`^kept scanner=\S+ card=("(?:[^"\\]|\\.)*")$`)
	typedRe       = regexp.MustCompile(`^typed scanner=\S+ text=("(?:[^"\\]|\\.)*")$`)
	rawRe         = regexp.MustCompile(`^raw scanner=\S+ path=\S+ report=[0-9a-f]+$`)
	passReadyRe   = regexp.MustCompile(`^passthrough ready\b`)
	evdevOpenRe   = regexp.MustCompile(`^evdev open\b`)
	evdevTextRe   = regexp.MustCompile(`^evdev text=("(?:[^"\\]|\\.)*")$`)
)

// passName is the name of tillscan listen's virtual keyboard.
const passName = "tillscan pass-through"

// listenCommand runs listen on QEMU's keyboard with --raw: the host sends
// the next key event only once the guest printed the report of the last.
func listenCommand(layout string, passthrough bool) string {
	cmd := "/bin/tillscan listen --hid 0627:0001 --interface 0 --raw --layout " + layout
	if passthrough {
		cmd += " --passthrough"
	}
	return cmd
}

// TestQEMU_USBKeyboard runs the real `tillscan listen` on Debian's kernel
// with an emulated USB keyboard: scans typed over QMP in the us and fr
// layouts, an unplug and re-plug, and pass-through to a uinput keyboard.
func TestQEMU_USBKeyboard(t *testing.T) {
	a := vmtest.Require(t)
	bin := vmtest.Build(t, tillscan)
	for _, layout := range []string{"us", "fr"} {
		t.Run(layout, func(t *testing.T) { testLayoutAndReplug(t, a, bin, layout) })
	}
	t.Run("passthrough", func(t *testing.T) { testPassthrough(t, a, bin, vmtest.Build(t, evdevdump)) })
}

// testLayoutAndReplug types card numbers as a scanner set to layout would,
// unplugs and re-plugs the keyboard, types again, and checks that every
// scan was decoded exactly once and the reader came back.
func testLayoutAndReplug(t *testing.T, a vmtest.Assets, bin []byte, layout string) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	v, err := vmtest.Start(t, ctx, vmtest.Config{
		Assets:   a,
		Accel:    vmtest.Accelerator(),
		Modules:  []string{"xhci-pci"},
		Files:    []vmtest.GuestFile{{Path: "/bin/tillscan", Mode: 0o755, Data: bin}},
		Commands: []string{listenCommand(layout, false)},
		Devices:  []string{"usb-kbd,bus=xhci.0,id=kbd"},
	})
	if err != nil {
		t.Fatal(err)
	}
	vmtest.LogAccel(t, ctx, v)
	expect(t, ctx, v, connectedRe)
	t.Logf("reader connected %.1fs after QEMU started", v.Elapsed().Seconds())

	cards := []string{"544256-439-856", "100200-300-400", "999999-000-111"}
	for _, c := range cards[:2] {
		typeScan(t, ctx, v, layout, c, scanRe)
	}

	// Half a scan, then the cable is pulled: the partial scan must be
	// dropped, neither reported nor glued to the next one.
	strokes, err := strokesFor(layout, "777777-")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.QMP.SendKeys(ctx, strokes, rawAck(v)); err != nil {
		t.Fatal(err)
	}

	// Unplug: QEMU confirms with DEVICE_DELETED once the guest has let go
	// of the device; the reader must notice.
	if _, err := v.QMP.Execute(ctx, "device_del", map[string]string{"id": "kbd"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.QMP.WaitEvent(ctx, "DEVICE_DELETED", deviceIs("kbd")); err != nil {
		t.Fatal(err)
	}
	expect(t, ctx, v, goneRe)
	if _, err := v.QMP.Execute(ctx, "device_add", map[string]string{"driver": "usb-kbd", "bus": "xhci.0", "id": "kbd"}); err != nil {
		t.Fatal(err)
	}
	expect(t, ctx, v, connectedRe)
	t.Logf("reader reconnected %.1fs after QEMU started", v.Elapsed().Seconds())

	typeScan(t, ctx, v, layout, cards[2], scanRe)
	// A last scan after everything else: a duplicate of any earlier one
	// would have been printed before it.
	typeScan(t, ctx, v, layout, "000000-000-000", scanRe)

	want := append(slices.Clone(cards), "000000-000-000")
	if got := quoted(t, v, scanRe); !slices.Equal(got, want) {
		t.Errorf("scans decoded: got %q, want each of %q exactly once, in order", got, want)
	}
	if n := len(v.Lines(connectedRe)); n != 2 {
		t.Errorf("got %d device-connected lines, want 2 (boot, re-plug)", n)
	}
	if n := len(v.Lines(goneRe)); n != 1 {
		t.Errorf("got %d device-gone lines, want 1 (unplug)", n)
	}
	if errs := v.Lines(deviceErrorRe); len(errs) > 0 {
		t.Errorf("listen reported device errors: %q", errs)
	}
	if err := v.Quit(ctx); err != nil {
		t.Error(err)
	}
	t.Logf("case done %.1fs after QEMU started", v.Elapsed().Seconds())
}

// testPassthrough runs listen --passthrough with evdevdump reading the
// virtual keyboard's /dev/input/event*: product barcodes must come out of
// it, a loyalty card must not. Typing is serialised in listen, so the card
// not appearing between the two products proves it was never typed.
func testPassthrough(t *testing.T, a vmtest.Assets, bin, dump []byte) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	v, err := vmtest.Start(t, ctx, vmtest.Config{
		Assets:  a,
		Accel:   vmtest.Accelerator(),
		Modules: []string{"xhci-pci", "uinput", "evdev"},
		Files: []vmtest.GuestFile{
			{Path: "/bin/tillscan", Mode: 0o755, Data: bin},
			{Path: "/bin/evdevdump", Mode: 0o755, Data: dump},
		},
		Commands: []string{listenCommand("us", true), "/bin/evdevdump -name '" + passName + "'"},
		Devices:  []string{"usb-kbd,bus=xhci.0,id=kbd"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ExpectAll(ctx, passReadyRe, connectedRe, evdevOpenRe); err != nil {
		t.Fatal(err)
	}
	t.Logf("reader and virtual keyboard ready %.1fs after QEMU started", v.Elapsed().Seconds())

	const product1, card, product2 = "5012345678900", "544256-439-856", "4006381333931"
	typeScan(t, ctx, v, "us", product1, scanRe, typedRe, evdevTextRe)
	typeScan(t, ctx, v, "us", card, scanRe, keptRe)
	typeScan(t, ctx, v, "us", product2, scanRe, typedRe, evdevTextRe)

	checks := []struct {
		what string
		re   *regexp.Regexp
		want []string
	}{
		{"scans decoded", scanRe, []string{product1, card, product2}},
		{"re-typed by listen", typedRe, []string{product1, product2}},
		{"kept as loyalty cards", keptRe, []string{card}},
		{"read from the virtual keyboard", evdevTextRe, []string{product1, product2}},
	}
	for _, c := range checks {
		if got := quoted(t, v, c.re); !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.what, got, c.want)
		}
	}
	if err := v.Quit(ctx); err != nil {
		t.Error(err)
	}
	t.Logf("case done %.1fs after QEMU started", v.Elapsed().Seconds())
}

// typeScan types text plus Enter the way a scanner set to layout would,
// then waits until each of res has matched a console line whose first
// submatch is text quoted (the scan line and what follows from it).
func typeScan(t *testing.T, ctx context.Context, v *vmtest.VM, layout, text string, res ...*regexp.Regexp) {
	t.Helper()
	strokes, err := strokesFor(layout, text+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.QMP.SendKeys(ctx, strokes, rawAck(v)); err != nil {
		t.Fatalf("typing %q in layout %s: %v", text, layout, err)
	}
	ms, err := v.ExpectAll(ctx, res...)
	if err != nil {
		t.Fatalf("typed %q in layout %s: %v", text, layout, err)
	}
	for i, m := range ms {
		if got, err := strconv.Unquote(m[1]); err != nil || got != text {
			t.Fatalf("typed %q in layout %s, guest printed %q for /%s/", text, layout, m[0], res[i])
		}
	}
}

// rawAck is SendKeys' pacing: each key event becomes one input report, so
// after each event wait until listen --raw printed one more report. QEMU's
// 16-event queue then never overflows, whatever the load on the machine.
func rawAck(v *vmtest.VM) func(context.Context) error {
	n := len(v.Lines(rawRe))
	return func(ctx context.Context) error {
		n++
		return v.WaitLines(ctx, rawRe, n)
	}
}

func expect(t *testing.T, ctx context.Context, v *vmtest.VM, re *regexp.Regexp) []string {
	t.Helper()
	m, err := v.Expect(ctx, re)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// quoted is the unquoted first submatch of every console line matching re.
func quoted(t *testing.T, v *vmtest.VM, re *regexp.Regexp) []string {
	t.Helper()
	var out []string
	for _, m := range v.Lines(re) {
		s, err := strconv.Unquote(m[1])
		if err != nil {
			t.Errorf("line with bad quoting %q: %v", m[0], err)
		}
		out = append(out, s)
	}
	return out
}

func deviceIs(id string) func(json.RawMessage) bool {
	return func(data json.RawMessage) bool {
		var d struct{ Device string }
		return json.Unmarshal(data, &d) == nil && d.Device == id
	}
}
