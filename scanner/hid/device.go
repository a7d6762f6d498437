package hid

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	khid "github.com/karalabe/hid"
)

// Device describes one HID interface of a USB device.
type Device struct {
	// Path is hidapi's path on Linux: "<bus>-<port>[.<port>…]:<config>.<interface>",
	// e.g. "1-2.3:1.0", the sysfs interface name. It is stable for a physical socket.
	Path      string
	VID, PID  uint16
	Release   uint16 // bcdDevice
	Interface int
	// UsagePage and Usage of the top-level collection (0x8C:0x02 is a HID
	// POS bar code scanner, 0x01:0x06 a keyboard). hidapi's libusb backend
	// leaves them 0 on Linux; they are then read from the report descriptor
	// in sysfs, which exists only while the kernel's usbhid driver is bound
	// (not while a Source holds the device), so 0 means unknown.
	UsagePage    uint16
	Usage        uint16
	Manufacturer string
	Product      string
	Serial       string
	// USB interface class, subclass and protocol from sysfs (-1 if unknown).
	// Class 3 subclass 1 protocol 1 is a boot keyboard, protocol 2 a boot mouse.
	Class, SubClass, Protocol int
}

// Port returns the USB port part of Path ("1-2.3" for "1-2.3:1.0").
func (d Device) Port() string {
	port, _, _ := strings.Cut(d.Path, ":")
	return port
}

// Kind names what the interface looks like: "keyboard", "mouse", "hid-pos"
// or "hid".
func (d Device) Kind() string {
	switch {
	case d.UsagePage == 0x8C:
		return "hid-pos"
	case d.Class == 3 && d.Protocol == 1, d.UsagePage == 0x01 && d.Usage == 0x06:
		return "keyboard"
	case d.Class == 3 && d.Protocol == 2, d.UsagePage == 0x01 && d.Usage == 0x02:
		return "mouse"
	}
	return "hid"
}

// scannerVendors are USB vendor IDs that make barcode scanners.
var scannerVendors = map[uint16]string{
	0x0536: "Hand Held Products",
	0x0C2E: "Honeywell (Metrologic)",
	0x05E0: "Zebra (Symbol)",
	0x05F9: "Datalogic (PSC)",
	0x1EAB: "Newland",
	0x0ACD: "ID TECH",
	0x065A: "Opticon",
}

// LikelyScanner guesses whether the device is a barcode scanner: a keyboard
// or HID POS (or unknown) interface of a scanner vendor, or a product named
// like one. Keyboards and scanners look the same on the wire, so it is a hint.
func (d Device) LikelyScanner() bool {
	if d.Kind() == "mouse" {
		return false
	}
	if _, ok := scannerVendors[d.VID]; ok {
		return true
	}
	name := strings.ToLower(d.Manufacturer + " " + d.Product)
	for _, w := range []string{"barcode", "bar code", "scanner", "imager", "reader"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// Supported reports whether this build can reach USB-HID devices (it was
// built with cgo).
func Supported() bool { return khid.Supported() }

// List returns every HID interface the system has, for `tillscan devices`.
func List() ([]Device, error) {
	b := realBackend{}
	if !b.supported() {
		return nil, ErrUnsupported
	}
	if _, err := b.check(); err != nil {
		return nil, err
	}
	return b.enumerate(0, 0)
}

// device is the part of a karalabe/hid device a Source uses.
type device interface {
	ReadTimeout(b []byte, timeoutMS int) (int, error)
	Write(b []byte) (int, error)
	Close() error
}

// backend finds and opens devices. It exists so that the hot-plug logic can
// be tested with a fake.
type backend interface {
	supported() bool
	check() (warning string, err error) // can devices be found at all (netlink, /dev/bus/usb)
	enumerate(vid, pid uint16) ([]Device, error)
	open(d Device) (device, error)
	// watch returns a channel that receives when the set of USB devices may
	// have changed, until ctx ends (its goroutine, if any, is added to wg);
	// nil when this system cannot tell, and the Source then looks every
	// Poll. The channel is closed if watching fails.
	watch(ctx context.Context, wg *sync.WaitGroup) (<-chan struct{}, error)
}

// realBackend is karalabe/hid plus sysfs.
type realBackend struct{}

func (realBackend) supported() bool { return khid.Supported() }

func (realBackend) check() (string, error) {
	if err := checkNetlink(); err != nil {
		return "", err
	}
	if _, err := os.Stat("/dev/bus/usb"); err != nil {
		return "no USB bus is visible: /dev/bus/usb is missing (a container, systemd PrivateDevices=yes, " +
			"or no USB host controller driver loaded); no HID scanner can be found", nil
	}
	return "", nil
}

func (realBackend) enumerate(vid, pid uint16) ([]Device, error) {
	infos, err := khid.Enumerate(vid, pid)
	if err != nil {
		return nil, fmt.Errorf("hid: enumerate %04x:%04x: %w", vid, pid, err)
	}
	out := make([]Device, 0, len(infos))
	for _, in := range infos {
		d := Device{
			Path: in.Path, VID: in.VendorID, PID: in.ProductID, Release: in.Release,
			Interface: in.Interface, UsagePage: in.UsagePage, Usage: in.Usage,
			Manufacturer: in.Manufacturer, Product: in.Product, Serial: in.Serial,
		}
		d.Class, d.SubClass, d.Protocol = interfaceClass(sysUSBDevices, d.Path)
		if d.UsagePage == 0 {
			d.UsagePage, d.Usage = descriptorUsage(sysUSBDevices, d.Path)
		}
		out = append(out, d)
	}
	return out, nil
}

func (realBackend) watch(ctx context.Context, wg *sync.WaitGroup) (<-chan struct{}, error) {
	return watchUSB(ctx, wg)
}

func (realBackend) open(d Device) (device, error) {
	dev, err := khid.DeviceInfo{Path: d.Path, VendorID: d.VID, ProductID: d.PID, Interface: d.Interface}.Open()
	if err == nil {
		return dev, nil
	}
	return nil, explainOpen(d, err, sysUSBDevices)
}

// sysUSBDevices is where Linux lists USB devices and interfaces.
const sysUSBDevices = "/sys/bus/usb/devices"

// UdevRule is the file in the repository (and the installed path) that
// grants the tillscan group access to scanners.
const UdevRule = "deploy/udev/70-tillscan.rules (installed as /usr/lib/udev/rules.d/70-tillscan.rules)"

// explainOpen turns hidapi's generic "failed to open device" into the
// likely cause: no write access to the usbfs node, a device gone, or a
// device claimed by another program.
func explainOpen(d Device, err error, sysRoot string) error {
	node, nerr := usbfsNode(sysRoot, d.Port())
	if nerr != nil {
		return fmt.Errorf("hid: open %s (%04x:%04x): %w (device gone?)", d.Path, d.VID, d.PID, err)
	}
	switch aerr := accessRW(node); {
	case errors.Is(aerr, os.ErrPermission):
		return fmt.Errorf("%w %s (%04x:%04x): tillscan needs read-write access to %s: install %s with a line for "+
			"idVendor %04x idProduct %04x, run `udevadm control --reload && udevadm trigger`, and re-plug the scanner "+
			"(or add the service user to the group the rule names)", ErrPermission, d.Path, d.VID, d.PID, node, UdevRule, d.VID, d.PID)
	case aerr != nil:
		return fmt.Errorf("hid: open %s (%04x:%04x): %w (%s: %v)", d.Path, d.VID, d.PID, err, node, aerr)
	}
	return fmt.Errorf("hid: open %s (%04x:%04x): %w: %s is accessible, so another program (another tillscan?) may have claimed the interface",
		d.Path, d.VID, d.PID, err, node)
}

// usbfsNode returns /dev/bus/usb/BBB/DDD for a USB port path such as "1-2.3".
func usbfsNode(sysRoot, port string) (string, error) {
	bus, err := readSysInt(sysRoot+"/"+port+"/busnum", 10)
	if err != nil {
		return "", err
	}
	dev, err := readSysInt(sysRoot+"/"+port+"/devnum", 10)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, dev), nil
}

// interfaceClass reads bInterfaceClass/SubClass/Protocol of a hidapi path
// ("1-2.3:1.0" is also the sysfs interface directory); -1 when unknown.
func interfaceClass(sysRoot, path string) (class, sub, proto int) {
	read := func(name string) int {
		v, err := readSysInt(sysRoot+"/"+path+"/"+name, 16)
		if err != nil {
			return -1
		}
		return v
	}
	return read("bInterfaceClass"), read("bInterfaceSubClass"), read("bInterfaceProtocol")
}

func readSysInt(path string, base int) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), base, 32)
	return int(v), err
}

// descriptorUsage reads the top-level usage page and usage from the report
// descriptor usbhid exposes under the interface in sysfs; 0, 0 if absent.
func descriptorUsage(sysRoot, path string) (page, usage uint16) {
	m, _ := filepath.Glob(filepath.Join(sysRoot, path, "*:*.*", "report_descriptor"))
	if len(m) == 0 {
		return 0, 0
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		return 0, 0
	}
	return topUsage(b)
}

// topUsage returns the first Usage Page and Usage items before the first
// Collection of a HID report descriptor (HID 1.11 §6.2.2 short items).
func topUsage(desc []byte) (page, usage uint16) {
	for i := 0; i < len(desc); {
		prefix := desc[i]
		if prefix == 0xFE { // long item: bDataSize, bLongItemTag, data
			if i+1 >= len(desc) {
				break
			}
			i += 3 + int(desc[i+1])
			continue
		}
		size := int(prefix & 0x03)
		if size == 3 {
			size = 4
		}
		if i+1+size > len(desc) {
			break
		}
		var v uint32
		for k := size - 1; k >= 0; k-- {
			v = v<<8 | uint32(desc[i+1+k])
		}
		switch prefix & 0xFC {
		case 0x04: // Usage Page (global)
			if page == 0 {
				page = uint16(v)
			}
		case 0x08: // Usage (local); a 4-byte usage carries its own page
			if usage == 0 {
				usage = uint16(v)
				if size == 4 && page == 0 {
					page = uint16(v >> 16)
				}
			}
		case 0xA0: // Collection: the top-level usage is known
			return page, usage
		}
		i += 1 + size
	}
	return page, usage
}
