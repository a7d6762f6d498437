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

// Pacing of the emulated scanner: QEMU's keyboard queues only 16 key
// events, so keys are held and spaced like a (slow) real wedge scanner.
const (
	keyHold = 20 * time.Millisecond
	keyGap  = 30 * time.Millisecond
)

// The guest program under test and the console lines it prints.
var (
	reader = guestProgram{
		pkg: "./scanner/hid/qemutest/probe",
		cgo: true,
		args: func(layout string) []string {
			return []string{"-layout", layout}
		},
	}
	connectedRe = regexp.MustCompile(`^device connected\b`)
	goneRe      = regexp.MustCompile(`^device gone\b`)
	scanRe      = regexp.MustCompile(`^scan\b.*\btext=("(?:[^"\\]|\\.)*")`)
)

// guestProgram is a main package built static for the guest.
type guestProgram struct {
	pkg  string // relative to the module root
	cgo  bool   // karalabe/hid needs cgo; then it is linked statically
	args func(layout string) []string
}

func TestQEMU_USBKeyboard(t *testing.T) {
	a := requireQEMU(t)
	bin := buildGuest(t, reader)
	accel := accelerator()
	for _, layout := range []string{"us", "fr"} {
		t.Run(layout, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			v, err := startVM(t, ctx, vmConfig{
				Assets:   a,
				Accel:    accel,
				Modules:  []string{"xhci-pci"},
				Files:    []guestFile{{Path: "/bin/reader", Mode: 0o755, Data: bin}},
				Commands: []string{"/bin/reader " + strings.Join(reader.args(layout), " ")},
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
				typeScan(t, ctx, v, layout, c)
			}

			// Unplug: QEMU confirms with DEVICE_DELETED once the guest
			// has let go of the device; the reader must notice.
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

			typeScan(t, ctx, v, layout, cards[2])
			// A last scan after everything else: a duplicate of any
			// earlier one would have been printed before it.
			typeScan(t, ctx, v, layout, "000000-000-000")

			want := append(slices.Clone(cards), "000000-000-000")
			if got := scans(t, v); !slices.Equal(got, want) {
				t.Errorf("scans decoded: got %q, want each of %q exactly once, in order", got, want)
			}
			if n := len(v.Lines(connectedRe)); n != 2 {
				t.Errorf("got %d device-connected lines, want 2 (boot, re-plug)", n)
			}
			if n := len(v.Lines(goneRe)); n != 1 {
				t.Errorf("got %d device-gone lines, want 1 (unplug)", n)
			}
			if err := v.Quit(ctx); err != nil {
				t.Error(err)
			}
			t.Logf("case done %.1fs after QEMU started", v.Elapsed().Seconds())
		})
	}
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
		msg := fmt.Sprintf("QEMU end-to-end test needs QEMU and the guest assets: %v; install them with `bash .ci/qemu-deps.sh` (root, Debian packages)", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return a
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
	json.Unmarshal(ret, &kvm)
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
	env := append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	if p.cgo {
		// hidapi's iconv finds no charset modules in the initramfs:
		// without NO_ICONV the device strings come back empty.
		args = append(args, "-ldflags", `-linkmode external -extldflags "-static"`)
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
// and waits until the guest reports that scan.
func typeScan(t *testing.T, ctx context.Context, v *vm, layout, text string) {
	t.Helper()
	strokes, err := strokesFor(layout, text+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.QMP.SendKeys(ctx, strokes, keyHold, keyGap); err != nil {
		t.Fatal(err)
	}
	m := expect(t, ctx, v, scanRe)
	if got, err := strconv.Unquote(m[1]); err != nil || got != text {
		t.Fatalf("typed %q in layout %s, guest decoded %s", text, layout, m[1])
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

// scans is the text of every scan line the guest printed.
func scans(t *testing.T, v *vm) []string {
	t.Helper()
	var out []string
	for _, m := range v.Lines(scanRe) {
		s, err := strconv.Unquote(m[1])
		if err != nil {
			t.Errorf("scan line with bad quoting %s: %v", m[1], err)
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
