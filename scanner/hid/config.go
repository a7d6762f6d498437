package hid

import (
	"errors"
	"strings"
	"time"

	"github.com/tillscan/tillscan/scanner"
)

// AnyInterface in Config.Interface matches every USB interface.
const AnyInterface = -1

// Config selects and configures one USB-HID scanner (or several identical
// ones: every device that matches is read, each with its own state). Zero
// fields mean the documented default, except Interface, where 0 is interface
// number 0: set AnyInterface for any.
type Config struct {
	Name      string // scanner name in Scan.Scanner and logs; "" means "hid-VVVV:PPPP"
	VID, PID  uint16 // USB vendor and product ID; both required
	Serial    string // the device's USB serial number; "" matches any
	Interface int    // USB interface number; AnyInterface matches any
	// Path is the USB port path ("1-2.3", as in /sys/bus/usb/devices) or a
	// full hidapi path with the interface ("1-2.3:1.0"); "" matches any.
	// Stable for a given physical socket, so it tells identical scanners apart.
	Path      string
	Layout    string // keyboard country the scanner is set to: us (default), uk, de, fr
	Mode      Mode   // "" means ModeAuto
	POSFormat string // HID POS report layout: honeywell (default), idtech, microscan
	ReportID  byte   // keyboard report ID on devices with numbered reports; 0 accepts any
	// Frame frames keyboard text into scans (terminator, idle timeout,
	// prefix/suffix, max length). Enter and keypad Enter type CR, or LF when
	// the terminator is scanner.TermLF; Tab types a tab. For HID POS data
	// only Prefix, Suffix and MaxLen apply.
	Frame    scanner.FrameConfig
	Feedback Feedback
	// Poll is how soon a listed device that failed or could not be opened
	// is tried again, and how often devices are looked for where the
	// kernel's USB events cannot be read; 0 means 1s. Otherwise devices are
	// looked for when the kernel announces a USB change.
	Poll time.Duration
}

// Feedback holds the HID output reports that make a scanner signal a good or
// a bad read (beep, LED). The Source itself sends Bad when the framer
// rejects a scan; the caller sends the rest with Source.Feedback. The first byte is the report ID (0x00 for devices
// without numbered reports). Example, Honeywell beep: FD 03 16 07 0D.
// Empty means the scanner gets no such signal.
type Feedback struct {
	Good, Bad []byte
}

// Errors a caller can branch on.
var (
	// ErrUnsupported is returned by New when this binary was built without
	// cgo, so karalabe/hid cannot reach USB devices.
	ErrUnsupported = errors.New("hid: this tillscan was built without cgo (CGO_ENABLED=0) and cannot read USB-HID scanners: " +
		"install the build made with CGO_ENABLED=1, or connect the scanner in serial (CDC-ACM/RS-232) or stdin mode")
	// ErrPermission is wrapped by open failures caused by missing access
	// to the device's usbfs node.
	ErrPermission = errors.New("hid: no permission to open the USB device")
	// ErrNoNetlink is returned by Run when no netlink socket can be made;
	// libusb needs one and would otherwise silently find no devices.
	ErrNoNetlink = errors.New("hid: cannot open a netlink (AF_NETLINK, kobject-uevent) socket, which libusb needs to find USB devices: " +
		"allow AF_NETLINK (systemd: RestrictAddressFamilies=… AF_NETLINK) or run outside the restricted container")
	// ErrNotConnected is returned by Feedback when no matching device is open.
	ErrNotConnected = errors.New("hid: scanner not connected")
	// ErrNoFeedback is returned by Feedback when none is configured.
	ErrNoFeedback = errors.New("hid: no feedback report configured for this scanner")
)

type configError struct{ field, msg string }

func (e *configError) Error() string { return "hid: " + e.field + ": " + e.msg }

// Matches reports whether d is one of the devices this Source reads.
func (c Config) Matches(d Device) bool {
	switch {
	case d.VID != c.VID || d.PID != c.PID:
		return false
	case c.Serial != "" && d.Serial != c.Serial:
		return false
	case c.Interface != AnyInterface && d.Interface != c.Interface:
		return false
	case c.Path != "" && d.Path != c.Path && !strings.HasPrefix(d.Path, c.Path+":"):
		return false
	case d.Protocol == 2: // a boot mouse sharing the VID:PID (QEMU's usb-kbd and usb-mouse do)
		return false
	}
	return true
}
