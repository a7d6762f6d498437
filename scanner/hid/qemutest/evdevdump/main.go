// Command evdevdump runs inside the qemutest guest. It waits until an
// input device whose name contains -name appears under /sys/class/input,
// reads key events from its /dev/input/eventN, and prints every line typed
// on it (US layout, ended by Enter or keypad Enter) as `evdev text="…"`,
// so the host can see what tillscan's pass-through keyboard typed. When the
// device goes away it waits for it to come back.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	name := flag.String("name", "", "substring of the input device's name (required)")
	flag.Parse()
	if *name == "" {
		fmt.Fprintln(os.Stderr, "evdevdump: -name is required")
		os.Exit(2)
	}
	for {
		dev, devName, err := find(*name)
		if err != nil {
			fmt.Println("evdevdump:", err)
			os.Exit(1)
		}
		if dev == "" {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err := dump(dev, devName, os.Stdout); err != nil {
			fmt.Printf("evdev gone path=%s err=%q\n", dev, err)
		}
	}
}

// find returns the /dev/input/eventN whose device name contains sub, or ""
// if there is none yet.
func find(sub string) (dev, name string, err error) {
	names, err := filepath.Glob("/sys/class/input/event*/device/name")
	if err != nil {
		return "", "", err
	}
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // went away while we looked
		}
		n := strings.TrimSpace(string(b))
		if strings.Contains(n, sub) {
			return "/dev/input/" + filepath.Base(filepath.Dir(filepath.Dir(p))), n, nil
		}
	}
	return "", "", nil
}

func dump(dev, name string, w io.Writer) error {
	var f *os.File
	var err error
	// devtmpfs may create the node a moment after sysfs shows the device.
	for range 50 {
		if f, err = os.Open(dev); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(w, "evdev open path=%s name=%q\n", dev, name)
	var d lineDecoder
	var raw [24]byte // struct input_event on 64-bit: timeval, u16 type, u16 code, s32 value
	for {
		if _, err := io.ReadFull(f, raw[:]); err != nil {
			return err
		}
		ev := inputEvent{
			Type:  binary.LittleEndian.Uint16(raw[16:]),
			Code:  binary.LittleEndian.Uint16(raw[18:]),
			Value: int32(binary.LittleEndian.Uint32(raw[20:])),
		}
		if line, ok := d.feed(ev); ok {
			fmt.Fprintf(w, "evdev text=%s\n", strconv.Quote(line))
		}
	}
}

type inputEvent struct {
	Type  uint16
	Code  uint16
	Value int32 // 1 press, 0 release, 2 autorepeat
}

const (
	evKey         = 1
	keyEnter      = 28
	keyKPEnter    = 96
	keyLeftShift  = 42
	keyRightShift = 54
)

// usKeys maps evdev key codes to (unshifted, shifted) characters, US layout.
var usKeys = func() map[uint16][2]byte {
	m := map[uint16][2]byte{
		2: {'1', '!'}, 3: {'2', '@'}, 4: {'3', '#'}, 5: {'4', '$'}, 6: {'5', '%'},
		7: {'6', '^'}, 8: {'7', '&'}, 9: {'8', '*'}, 10: {'9', '('}, 11: {'0', ')'},
		12: {'-', '_'}, 13: {'=', '+'}, 15: {'\t', '\t'}, 39: {';', ':'}, 40: {'\'', '"'},
		41: {'`', '~'}, 43: {'\\', '|'}, 51: {',', '<'}, 52: {'.', '>'}, 53: {'/', '?'},
		57: {' ', ' '}, 26: {'[', '{'}, 27: {']', '}'},
	}
	for row, first := range map[string]uint16{"qwertyuiop": 16, "asdfghjkl": 30, "zxcvbnm": 44} {
		for i, c := range row {
			m[first+uint16(i)] = [2]byte{byte(c), byte(c) - 'a' + 'A'}
		}
	}
	return m
}()

// lineDecoder turns key events into typed lines: presses (not releases or
// autorepeats) append characters, Shift is held state, Enter ends a line.
// Keys it does not know are kept as <code> so nothing is silently lost.
type lineDecoder struct {
	lshift, rshift bool
	buf            []byte
}

func (d *lineDecoder) feed(ev inputEvent) (string, bool) {
	if ev.Type != evKey {
		return "", false
	}
	switch ev.Code {
	case keyLeftShift:
		d.lshift = ev.Value != 0
		return "", false
	case keyRightShift:
		d.rshift = ev.Value != 0
		return "", false
	}
	if ev.Value != 1 {
		return "", false
	}
	if ev.Code == keyEnter || ev.Code == keyKPEnter {
		line := string(d.buf)
		d.buf = d.buf[:0]
		return line, true
	}
	c, ok := usKeys[ev.Code]
	switch {
	case !ok:
		d.buf = fmt.Appendf(d.buf, "<%d>", ev.Code)
	case d.lshift || d.rshift:
		d.buf = append(d.buf, c[1])
	default:
		d.buf = append(d.buf, c[0])
	}
	return "", false
}
