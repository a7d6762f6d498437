// Command probe is a stand-in for `tillscan listen` inside the qemutest
// guest until that command lands: it opens QEMU's USB keyboard through
// github.com/karalabe/hid (cgo, built static), decodes digits, '-' and Enter
// in the us or fr layout, and prints the same kind of lines listen prints.
// It exists only to prove the harness and goes away when listen lands.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/karalabe/hid"
)

func main() {
	layout := flag.String("layout", "us", "us or fr")
	flag.Parse()
	if !hid.Supported() {
		fmt.Println("probe: hid not supported (no cgo)")
		os.Exit(1)
	}
	for {
		infos, err := hid.Enumerate(0x0627, 0x0001)
		if err != nil {
			fmt.Println("probe: enumerate:", err)
		}
		for _, info := range infos {
			if info.Product != "QEMU USB Keyboard" {
				continue
			}
			read(info, *layout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func read(info hid.DeviceInfo, layout string) {
	dev, err := info.Open()
	if err != nil {
		fmt.Printf("probe: open %s: %v\n", info.Path, err)
		return
	}
	defer dev.Close()
	fmt.Printf("device connected path=%s product=%q\n", info.Path, info.Product)
	var prev [8]byte
	var text []byte
	buf := make([]byte, 64)
	for {
		n, err := dev.ReadTimeout(buf, 200)
		if err != nil {
			fmt.Printf("device gone path=%s err=%q\n", info.Path, err)
			return
		}
		if n < 8 {
			continue
		}
		shift := buf[0]&0x22 != 0
		for _, u := range buf[2:8] {
			if u == 0 || u == 1 || has(prev[2:], u) {
				continue
			}
			switch {
			case u == 0x28:
				fmt.Printf("scan scanner=probe text=%s\n", strconv.Quote(string(text)))
				text = text[:0]
			case u >= 0x1e && u <= 0x27 && (layout == "us") != shift:
				text = append(text, "1234567890"[u-0x1e])
			case u == 0x23 && layout == "fr" && !shift, u == 0x2d && layout == "us" && !shift:
				text = append(text, '-')
			default:
				text = append(text, '?')
			}
		}
		copy(prev[:], buf[:8])
	}
}

func has(b []byte, u byte) bool {
	for _, x := range b {
		if x == u {
			return true
		}
	}
	return false
}
