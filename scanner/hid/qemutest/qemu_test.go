package qemutest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the guest runs and what it prints (cmd/tillscan/listen.go's doc
// comment is the format). QEMU's usb-kbd is 0627:0001 on interface 0.
var (
	tillscan  = guestProgram{pkg: "./cmd/tillscan", cgo: true}
	evdevdump = guestProgram{pkg: "./scanner/hid/qemutest/evdevdump"}

	connectedRe   = regexp.MustCompile(`^device connected scanner=\S+ path=\S+ vid=0627 pid=0001 interface=0 product="QEMU USB Keyboard"`)
	goneRe        = regexp.MustCompile(`^device gone\b`)
	deviceErrorRe = regexp.MustCompile(`^device error\b`)
	scanRe        = regexp.MustCompile(`^scan scanner=\S+ text=("(?:[^"\\]|\\.)*")$`)
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

// guestProgram is a main package (or a package's test binary) built
// static for the guest.
type guestProgram struct {
	pkg  string // relative to the module root
	cgo  bool   // karalabe/hid needs cgo; then it is linked statically
	test bool   // build pkg's test binary (go test -c) instead
}

// TestQEMU_USBKeyboard runs the real `tillscan listen` on Debian's kernel
// with an emulated USB keyboard: scans typed over QMP in the us and fr
// layouts, an unplug and re-plug, and pass-through to a uinput keyboard.
func TestQEMU_USBKeyboard(t *testing.T) {
	a := requireQEMU(t)
	bin := buildGuest(t, tillscan)
	for _, layout := range []string{"us", "fr"} {
		t.Run(layout, func(t *testing.T) { testLayoutAndReplug(t, a, bin, layout) })
	}
	t.Run("passthrough", func(t *testing.T) { testPassthrough(t, a, bin, buildGuest(t, evdevdump)) })
}

// testLayoutAndReplug types card numbers as a scanner set to layout would,
// unplugs and re-plugs the keyboard, types again, and checks that every
// scan was decoded exactly once and the reader came back.
func testLayoutAndReplug(t *testing.T, a assets, bin []byte, layout string) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	v, err := startVM(t, ctx, vmConfig{
		Assets:   a,
		Accel:    accelerator(),
		Modules:  []string{"xhci-pci"},
		Files:    []guestFile{{Path: "/bin/tillscan", Mode: 0o755, Data: bin}},
		Commands: []string{listenCommand(layout, false)},
		Devices:  []string{"usb-kbd,bus=xhci.0,id=kbd"},
	})
	if err != nil {
		t.Fatal(err)
	}
	logAccel(t, ctx, v)
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
func testPassthrough(t *testing.T, a assets, bin, dump []byte) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	v, err := startVM(t, ctx, vmConfig{
		Assets:  a,
		Accel:   accelerator(),
		Modules: []string{"xhci-pci", "uinput", "evdev"},
		Files: []guestFile{
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

// requireQEMU returns the assets, or skips (fails under CI=true) with what
// to run when they are missing. -short always skips: a boot costs seconds.
func requireQEMU(t *testing.T) assets {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU end-to-end test: skipped with -short")
	}
	a, err := findAssets()
	if err != nil {
		missingAsset(t, fmt.Sprintf("QEMU end-to-end test needs QEMU and the guest assets: %v", err))
	}
	return a
}

// missingAsset fails under CI=true, else skips, saying what is missing and
// what installs it.
func missingAsset(t *testing.T, what string) {
	t.Helper()
	msg := what + "; install them with `bash .ci/qemu-deps.sh` (root, Debian packages)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// accelerator is $TILLSCAN_QEMU_ACCEL (e.g. "kvm:tcg"), else TCG. KVM is
// not the default even where /dev/kvm opens: on these sandboxed machines it
// opens and then fails with "KVM internal error" mid-boot, and the test
// must pass under TCG alone anyway.
func accelerator() string {
	if a := os.Getenv("TILLSCAN_QEMU_ACCEL"); a != "" {
		return a
	}
	return "tcg"
}

func logAccel(t *testing.T, ctx context.Context, v *vm) {
	t.Helper()
	ret, err := v.QMP.Execute(ctx, "query-kvm", nil)
	if err != nil {
		t.Fatal(err)
	}
	var kvm struct{ Enabled bool }
	if err := json.Unmarshal(ret, &kvm); err != nil {
		t.Fatalf("query-kvm returned %s: %v", ret, err)
	}
	if kvm.Enabled {
		t.Log("accelerator: kvm")
	} else {
		t.Log("accelerator: tcg")
	}
}

// buildGuest builds p as a static linux/amd64 binary and returns it.
func buildGuest(t *testing.T, p guestProgram) []byte {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	out := filepath.Join(t.TempDir(), "guest")
	args := []string{"build", "-o", out}
	if p.test {
		args = []string{"test", "-c", "-o", out}
	}
	env := append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	if p.cgo {
		// hidapi's iconv finds no charset modules in the initramfs:
		// without NO_ICONV the device strings come back empty.
		// netgo/osusergo: a static glibc binary must not reach for NSS
		// modules at run time (the linker warns about getaddrinfo).
		args = append(args, "-tags", "netgo,osusergo", "-ldflags", `-linkmode external -extldflags "-static"`)
		env = append(env, "CGO_ENABLED=1", "CGO_CFLAGS=-O2 -g -DNO_ICONV")
	} else {
		env = append(env, "CGO_ENABLED=0")
	}
	cmd := exec.Command("go", append(args, p.pkg)...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = env
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", p.pkg, err, b)
	}
	t.Logf("built %s in %.1fs", p.pkg, time.Since(start).Seconds())
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// typeScan types text plus Enter the way a scanner set to layout would,
// then waits until each of res has matched a console line whose first
// submatch is text quoted (the scan line and what follows from it).
func typeScan(t *testing.T, ctx context.Context, v *vm, layout, text string, res ...*regexp.Regexp) {
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
func rawAck(v *vm) func(context.Context) error {
	n := len(v.Lines(rawRe))
	return func(ctx context.Context) error {
		n++
		return v.WaitLines(ctx, rawRe, n)
	}
}

func expect(t *testing.T, ctx context.Context, v *vm, re *regexp.Regexp) []string {
	t.Helper()
	m, err := v.Expect(ctx, re)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// quoted is the unquoted first submatch of every console line matching re.
func quoted(t *testing.T, v *vm, re *regexp.Regexp) []string {
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
