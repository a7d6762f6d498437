// Package hid reads USB-HID barcode scanners headless through
// github.com/karalabe/hid and turns their input reports into scanner.Scans.
// It owns: keyboard-wedge decoding (8-byte boot-keyboard reports, with or
// without a report-ID prefix) for the us, uk, de and fr layouts; HID POS
// decoding (usage page 0x8C, multi-report scans joined, symbology kept);
// selecting devices by VID:PID narrowed by serial, interface or USB port
// path; hot-plug (devices listed when the kernel announces a USB change,
// one goroutine per open device); good/bad-read feedback through output
// reports; and the device listing behind `tillscan devices`. It does not decide what a scan means (package
// pos does) and it does not frame text itself: decoded keystrokes go through
// scanner.Framer.
//
// Decoders (KeyboardDecoder, POSDecoder, Layout) are pure: no I/O, time is
// passed in. Source is the only type that touches devices, and only the
// goroutine that opened a device reads from it, writes to it and closes it
// (hidapi must never close a device while another thread reads it).
//
// # Backend on Linux, and what a machine (or a QEMU guest) needs
//
// karalabe/hid uses hidapi's libusb backend with libusb 1.0.27 compiled in
// (cgo). It does NOT use hidraw or evdev. It needs:
//   - a cgo build (CGO_ENABLED=1); without cgo Supported() is false and a
//     Source refuses to start with a message naming the fix;
//   - the kernel's USB core and a host controller driver (CONFIG_USB,
//     CONFIG_USB_XHCI_HCD/_PCI; modules usb-common, usbcore, xhci-hcd,
//     xhci-pci in Debian's kernel) and usbfs device nodes /dev/bus/usb/BBB/DDD
//     (devtmpfs creates them; udev is not required);
//   - sysfs mounted at /sys (libusb scans /sys/bus/usb/devices);
//   - an AF_NETLINK NETLINK_KOBJECT_UEVENT socket (libusb's hotplug monitor;
//     without it libusb_init fails and enumeration silently finds nothing);
//   - read-write access to the usbfs node (root, or the udev rule in
//     deploy/udev/70-tillscan.rules).
//
// usbhid/hid-generic are optional: when they are bound, hidapi detaches them
// on open (the scanner stops typing into the console) and re-attaches them on
// Close. A static binary must be built with CGO_CFLAGS=-DNO_ICONV or the
// manufacturer/product/serial strings come back empty.
package hid
