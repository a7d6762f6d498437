package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/scanner/passthrough"
)

// TestCheckConfigSaysWhatItOpens: check-config names what each scanner
// will open, and refuses what run would refuse: pass-through without
// /dev/uinput. The error says each thing once.
func TestCheckConfigSaysWhatItOpens(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tillscan.yaml")
	os.WriteFile(cfg, []byte(`till_id: t
scanners:
  - {name: front, type: serial, path: /dev/ttyUSB7, baud: 115200}
  - {name: back, type: hid, vid: 0x0c2e, pid: 0x0b61, passthrough: true}
  - {name: kb, type: stdin}
`), 0o600)
	out, err := runCLI(t, nil, "check-config", "--no-key-check", "-c", cfg)
	for _, want := range []string{
		"scanner front: serial port /dev/ttyUSB7 at 115200 baud",
		"scanner back: USB-HID scanner 0c2e:0b61, keyboard layout us; other barcodes re-typed to the POS through /dev/uinput",
		"scanner kb: standard input",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
	if _, statErr := os.Stat(passthrough.DevicePath); statErr != nil {
		// This machine has no uinput: run would fail, so must check-config.
		if err == nil || !strings.Contains(err.Error(), "scanners[1] (back): passthrough: /dev/uinput does not exist") {
			t.Fatalf("check-config without /dev/uinput = %v, want the pass-through refused", err)
		}
		if msg := err.Error(); strings.Count(msg, "config:") != 1 || strings.Count(msg, "passthrough:") != 1 {
			t.Fatalf("error says things twice: %s", msg)
		}
		return
	}
	if err != nil {
		t.Fatalf("check-config with /dev/uinput present = %v, want OK", err)
	}
}

// TestCheckConfigElsewhere: --no-device-check checks a config meant for
// another machine without opening its pass-through keyboards.
func TestCheckConfigElsewhere(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tillscan.yaml")
	os.WriteFile(cfg, []byte("till_id: t\nscanners:\n  - {name: back, type: hid, vid: 0x0c2e, pid: 0x0b61, passthrough: true}\n"), 0o600)
	out, err := runCLI(t, nil, "check-config", "--no-key-check", "--no-device-check", "-c", cfg)
	if err != nil || !strings.Contains(out, "config OK") {
		t.Fatalf("check-config --no-device-check = %v\n%s", err, out)
	}
}
