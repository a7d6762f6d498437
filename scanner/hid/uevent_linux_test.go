package hid

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestIsUSBEvent(t *testing.T) {
	msg := func(fields ...string) []byte { return []byte(strings.Join(fields, "\x00") + "\x00") }
	tests := []struct {
		name string
		msg  []byte
		want bool
	}{
		{"a USB device added", msg("add@/devices/pci0000:00/0000:00:04.0/usb1/1-1", "ACTION=add",
			"DEVPATH=/devices/pci0000:00/0000:00:04.0/usb1/1-1", "SUBSYSTEM=usb", "DEVTYPE=usb_device", "SEQNUM=1795"), true},
		{"a USB interface bound", msg("bind@/devices/pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0", "ACTION=bind",
			"SUBSYSTEM=usb", "DEVTYPE=usb_interface", "DRIVER=usbhid"), true},
		{"its hidraw node", msg("add@/devices/.../0003:0627:0001.0001/hidraw/hidraw0", "ACTION=add", "SUBSYSTEM=hidraw", "DEVNAME=hidraw0"), false},
		{"a network interface", msg("add@/devices/virtual/net/veth0", "ACTION=add", "SUBSYSTEM=net", "INTERFACE=veth0"), false},
		{"a variable only ending like it", msg("change@/devices/x", "SUBSYSTEM=usbmisc"), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := isUSBEvent(tt.msg); got != tt.want {
			t.Errorf("%s: isUSBEvent = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestWatchUSB_endsWithCtx opens the real uevent socket: its goroutine ends
// when ctx ends (the socket is closed under the waiting read) and the
// channel is closed.
func TestWatchUSB_endsWithCtx(t *testing.T) {
	if err := checkNetlink(); errors.Is(err, ErrNoNetlink) {
		t.Fatalf("this machine cannot open a uevent socket: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	changes, err := watchUSB(ctx, &wg)
	if err != nil {
		t.Fatalf("watchUSB: %v", err)
	}
	cancel()
	wg.Wait()
	for range changes { // a USB event may have come in; then closed
	}
}
