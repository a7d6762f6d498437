package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tillscan/tillscan/scanner/hid"
)

// devicesCmd is `tillscan devices`: list the USB-HID interfaces and serial
// ports an installer can configure as scanners. Likely scanners are marked
// with "*". Output:
//
//	HID devices:
//	* 0c2e:0b61 path=1-2.3:1.0 interface=0 kind=keyboard usage=0000:0000 manufacturer="Honeywell" product="Xenon 1900" serial="17123B4567"
//	  0627:0001 path=1-1:1.0 interface=0 kind=keyboard usage=0000:0000 manufacturer="QEMU" product="QEMU USB Keyboard" serial="68284"
//	Serial devices:
//	* /dev/serial/by-id/usb-Honeywell_1900-if00 -> /dev/ttyACM0 0c2e:0b6a serial="17123B4567" product="Honeywell 1900"
//	  /dev/ttyUSB0 0403:6001 serial="A10K1Z" product="FT232R USB UART"
//	  /dev/ttyS0 built-in UART
//	  /dev/ttyAMA0 built-in UART
//
// Serial devices are /dev/serial/by-id/* (USB adapters and scanners, under
// a name that survives re-plugging), then /dev/ttyACM*, /dev/ttyUSB*, the
// motherboard's RS-232 ports /dev/ttyS* and the Raspberry Pi's UARTs
// /dev/ttyAMA* that no by-id link names.
type devicesCmd struct {
	All bool `help:"Also list HID mice."`
}

func (c *devicesCmd) Run(g *globals) error {
	w := g.Stdout
	fmt.Fprintln(w, "HID devices:")
	devs, err := hid.List()
	switch {
	case err != nil: // hid.ErrUnsupported (no cgo) or hid.ErrNoNetlink: the message names the fix
		fmt.Fprintf(w, "  (cannot list: %v)\n", err)
	default:
		printHID(w, devs, c.All)
		if len(devs) == 0 {
			if _, err := os.Stat("/dev/bus/usb"); err != nil {
				fmt.Fprintln(w, "  (none: /dev/bus/usb is missing, so no USB bus is visible here: a container, or systemd PrivateDevices=yes?)")
			} else {
				fmt.Fprintln(w, "  (none)")
			}
		}
	}
	fmt.Fprintln(w, "Serial devices:")
	ports := listSerial("/dev", "/sys/class/tty")
	for _, p := range ports {
		fmt.Fprintln(w, p.line())
	}
	if len(ports) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	return nil
}

func printHID(w io.Writer, devs []hid.Device, all bool) {
	slices.SortFunc(devs, func(a, b hid.Device) int { return strings.Compare(a.Path, b.Path) })
	emptyStrings := false
	for _, d := range devs {
		if d.Kind() == "mouse" && !all {
			continue
		}
		mark := " "
		if d.LikelyScanner() {
			mark = "*"
		}
		fmt.Fprintf(w, "%s %04x:%04x path=%s interface=%d kind=%s usage=%04x:%04x manufacturer=%s product=%s serial=%s\n",
			mark, d.VID, d.PID, d.Path, d.Interface, d.Kind(), d.UsagePage, d.Usage,
			strconv.Quote(d.Manufacturer), strconv.Quote(d.Product), strconv.Quote(d.Serial))
		emptyStrings = emptyStrings || d.Manufacturer == "" && d.Product == ""
	}
	if emptyStrings {
		fmt.Fprintf(w, "  (empty names: libusb could not open the device to read them; without permission on /dev/bus/usb install %s)\n", hid.UdevRule)
	}
}

// serialPort is a serial device and what sysfs says about it.
type serialPort struct {
	link, dev              string // link is the /dev/serial/by-id name, if any
	uart                   bool   // a built-in UART (ttyS, ttyAMA), not USB
	vid, pid               string
	serial, product, maker string
}

func (p serialPort) line() string {
	var b strings.Builder
	mark := " "
	if p.vid != "" {
		if v, err := parseHex16(p.vid); err == nil && (hid.Device{VID: v, Product: p.product, Manufacturer: p.maker}).LikelyScanner() {
			mark = "*"
		}
	}
	b.WriteString(mark + " ")
	if p.link != "" {
		b.WriteString(p.link + " -> ")
	}
	b.WriteString(p.dev)
	switch {
	case p.vid != "":
		fmt.Fprintf(&b, " %s:%s serial=%s product=%s", p.vid, p.pid, strconv.Quote(p.serial), strconv.Quote(p.product))
	case p.uart:
		b.WriteString(" built-in UART")
	}
	return b.String()
}

// serialNodes are the /dev name patterns of serial ports, each with whether
// it is a built-in UART that may be a placeholder (Linux creates ttyS0 to
// ttyS3, or up to 8250.nr_uarts, whether a UART is there or not).
var serialNodes = []struct {
	pattern     string
	uart, maybe bool
}{
	{"ttyACM*", false, false}, // USB CDC-ACM: most serial-mode scanners
	{"ttyUSB*", false, false}, // USB-serial adapters (FTDI, Prolific, CH340)
	{"ttyS*", true, true},     // 8250/16550 UARTs: a POS PC's RS-232 port; the Pi's mini UART
	{"ttyAMA*", true, false},  // ARM PL011 UARTs: the Raspberry Pi's GPIO serial port
}

// listSerial lists /dev/serial/by-id/* (with their targets), then the
// serial nodes no link names, ttyS ports only where sysfs shows a UART. It
// reads sysfs only; unlike go.bug.st/serial's enumerator it opens no port
// (that would reset an RS-232 port in use).
func listSerial(devRoot, sysTTY string) []serialPort {
	var out []serialPort
	seen := map[string]bool{}
	links, _ := filepath.Glob(filepath.Join(devRoot, "serial/by-id/*"))
	slices.Sort(links)
	for _, l := range links {
		target, err := filepath.EvalSymlinks(l)
		if err != nil {
			continue // dangling: unplugged a moment ago
		}
		seen[target] = true
		out = append(out, usbInfo(serialPort{link: l, dev: target}, sysTTY))
	}
	for _, n := range serialNodes {
		nodes, _ := filepath.Glob(filepath.Join(devRoot, n.pattern))
		slices.SortFunc(nodes, compareNodes)
		for _, node := range nodes {
			if seen[node] || n.maybe && !uartPresent(sysTTY, filepath.Base(node)) {
				continue
			}
			out = append(out, usbInfo(serialPort{dev: node, uart: n.uart}, sysTTY))
		}
	}
	return out
}

// uartPresent reports whether sysfs shows a UART behind the tty name: the
// serial core's port type is 0 (PORT_UNKNOWN) for a placeholder port. A
// kernel without the type attribute is asked whether a driver is bound.
func uartPresent(sysTTY, name string) bool {
	if b, err := os.ReadFile(filepath.Join(sysTTY, name, "type")); err == nil {
		return strings.TrimSpace(string(b)) != "0"
	}
	_, err := os.Stat(filepath.Join(sysTTY, name, "device", "driver"))
	return err == nil
}

// compareNodes orders device names by prefix, then number: ttyS2 before
// ttyS10.
func compareNodes(a, b string) int {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if c := strings.Compare(pa, pb); c != 0 {
		return c
	}
	return na - nb
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}

// usbInfo fills in VID, PID and strings from the USB device above the tty
// in sysfs (the interface for ttyACM, the port for ttyUSB).
func usbInfo(p serialPort, sysTTY string) serialPort {
	dir, err := filepath.EvalSymlinks(filepath.Join(sysTTY, filepath.Base(p.dev), "device"))
	if err != nil {
		return p
	}
	for range 4 {
		if b, err := os.ReadFile(filepath.Join(dir, "idVendor")); err == nil {
			read := func(name string) string {
				b, _ := os.ReadFile(filepath.Join(dir, name))
				return strings.TrimSpace(string(b))
			}
			p.vid, p.pid = strings.TrimSpace(string(b)), read("idProduct")
			p.serial, p.product, p.maker = read("serial"), read("product"), read("manufacturer")
			return p
		}
		dir = filepath.Dir(dir)
	}
	return p
}

// portUser is a process that has a device open.
type portUser struct {
	pid     int
	command string // its /proc/<pid>/comm
}

// portUsers lists the processes other than self that have the device at
// path (or what a by-id link points to) open, from procRoot's
// <pid>/fd/* links. Without root only one's own processes are visible, so
// an empty answer proves nothing.
func portUsers(procRoot, path string, self int) []portUser {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil // no such device: nobody has it open
	}
	fds, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*", "fd", "*"))
	var out []portUser
	seen := map[int]bool{}
	for _, fd := range fds {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(fd))))
		if err != nil || pid == self || seen[pid] {
			continue
		}
		if l, err := os.Readlink(fd); err != nil || l != target {
			continue
		}
		seen[pid] = true
		comm, _ := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "comm"))
		out = append(out, portUser{pid: pid, command: strings.TrimSpace(string(comm))})
	}
	slices.SortFunc(out, func(a, b portUser) int { return a.pid - b.pid })
	return out
}
