package hid

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestTopUsage(t *testing.T) {
	tests := []struct {
		name, desc string
		page, use  uint16
	}{
		// QEMU usb-kbd: Usage Page (Generic Desktop), Usage (Keyboard), Collection (Application) …
		{"boot keyboard", "05010906a101050719e029e7", 0x01, 0x06},
		// Honeywell HID POS: Usage Page (0x8C, 1 byte), Usage (Bar Code Scanner), Collection …
		{"hid pos", "058c0902a1018502", 0x8C, 0x02},
		{"vendor page, 2-byte item", "068cff0901a101", 0xFF8C, 0x01},
		{"4-byte usage carries the page", "0b02008c00a101", 0x8C, 0x02},
		{"long item skipped", "fe0200aabb058c0902a101", 0x8C, 0x02},
		{"truncated", "068c", 0, 0},
		{"empty", "", 0, 0},
	}
	for _, tt := range tests {
		b, err := hex.DecodeString(tt.desc)
		if err != nil {
			t.Fatal(err)
		}
		if p, u := topUsage(b); p != tt.page || u != tt.use {
			t.Errorf("%s: topUsage = %04x:%04x; want %04x:%04x", tt.name, p, u, tt.page, tt.use)
		}
	}
}

func TestDescriptorUsageAndClass(t *testing.T) {
	sys := t.TempDir()
	dir := filepath.Join(sys, "1-2:1.0")
	os.MkdirAll(filepath.Join(dir, "0003:0C2E:0B61.0004"), 0o755)
	os.WriteFile(filepath.Join(dir, "0003:0C2E:0B61.0004", "report_descriptor"), []byte{0x05, 0x8C, 0x09, 0x02, 0xA1, 0x01}, 0o444)
	os.WriteFile(filepath.Join(dir, "bInterfaceClass"), []byte("03\n"), 0o444)
	os.WriteFile(filepath.Join(dir, "bInterfaceSubClass"), []byte("00\n"), 0o444)
	os.WriteFile(filepath.Join(dir, "bInterfaceProtocol"), []byte("00\n"), 0o444)
	d := Device{Path: "1-2:1.0", VID: 0x0c2e, PID: 0x0b61}
	d.UsagePage, d.Usage = descriptorUsage(sys, d.Path)
	d.Class, d.SubClass, d.Protocol = interfaceClass(sys, d.Path)
	if d.UsagePage != 0x8C || d.Usage != 0x02 || d.Class != 3 || d.Protocol != 0 {
		t.Fatalf("device %+v; want usage 008c:0002, class 3, protocol 0", d)
	}
	if d.Kind() != "hid-pos" || !d.LikelyScanner() {
		t.Errorf("Kind() = %q, LikelyScanner() = %v; want hid-pos, true", d.Kind(), d.LikelyScanner())
	}
	if p, u := descriptorUsage(sys, "9-9:1.0"); p != 0 || u != 0 {
		t.Errorf("descriptorUsage(missing) = %04x:%04x; want 0:0", p, u)
	}
	if c, s, p := interfaceClass(sys, "9-9:1.0"); c != -1 || s != -1 || p != -1 {
		t.Errorf("interfaceClass(missing) = %d %d %d; want -1 -1 -1", c, s, p)
	}
}

func TestDevice_LikelyScanner(t *testing.T) {
	tests := []struct {
		d    Device
		want bool
	}{
		{Device{VID: 0x0c2e, Class: 3, Protocol: 1}, true},
		{Device{VID: 0x0c2e, Class: 3, Protocol: 2}, false}, // a mouse, whoever made it
		{Device{VID: 0x1234, Product: "USB Barcode Scanner", Class: 3, Protocol: 1}, true},
		{Device{VID: 0x0627, Product: "QEMU USB Keyboard", Class: 3, Protocol: 1}, false},
	}
	for _, tt := range tests {
		if got := tt.d.LikelyScanner(); got != tt.want {
			t.Errorf("%+v LikelyScanner() = %v; want %v", tt.d, got, tt.want)
		}
	}
}
