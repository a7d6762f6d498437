package vmtest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeModule writes a minimal ELF64 relocatable file whose only content is
// a .modinfo section, the way a .ko carries its metadata.
func writeModule(t *testing.T, dir, rel, modinfo string) {
	t.Helper()
	shstr := "\x00.modinfo\x00.shstrtab\x00"
	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(len(modinfo))
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(0)) // entry
	binary.Write(&b, le, uint64(0)) // phoff
	binary.Write(&b, le, shOff)
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(0)) // phentsize
	binary.Write(&b, le, uint16(0)) // phnum
	binary.Write(&b, le, uint16(shentsize))
	binary.Write(&b, le, uint16(3)) // shnum
	binary.Write(&b, le, uint16(2)) // shstrndx
	b.WriteString(modinfo)
	b.WriteString(shstr)
	for uint64(b.Len()) < shOff {
		b.WriteByte(0)
	}
	section := func(name, typ uint32, off, size uint64) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, off)
		binary.Write(&b, le, size)
		binary.Write(&b, le, uint32(0)) // link
		binary.Write(&b, le, uint32(0)) // info
		binary.Write(&b, le, uint64(1)) // addralign
		binary.Write(&b, le, uint64(0)) // entsize
	}
	section(0, 0, 0, 0)
	section(1, 1, infoOff, uint64(len(modinfo))) // .modinfo, PROGBITS
	section(10, 3, strOff, uint64(len(shstr)))   // .shstrtab, STRTAB
	p := filepath.Join(dir, "kernel", rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestModuleOrder(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, "drivers/usb/common/usb-common.ko", "license=GPL\x00depends=\x00name=usb_common\x00")
	writeModule(t, dir, "drivers/usb/core/usbcore.ko", "depends=usb-common\x00name=usbcore\x00")
	writeModule(t, dir, "drivers/usb/host/xhci-hcd.ko", "depends=usbcore,usb-common\x00")
	writeModule(t, dir, "drivers/usb/host/xhci-pci.ko", "depends=xhci-hcd,usbcore\x00")
	writeModule(t, dir, "drivers/input/evdev.ko", "license=GPL\x00")
	writeModule(t, dir, "drivers/loop/a.ko", "depends=b\x00")
	writeModule(t, dir, "drivers/loop/b.ko", "depends=a\x00")
	writeModule(t, dir, "drivers/orphan.ko", "depends=missing\x00")

	tests := []struct {
		names   []string
		want    []string
		wantErr string
	}{
		{names: []string{"xhci_pci", "evdev"}, want: []string{"usb-common", "usbcore", "xhci-hcd", "xhci-pci", "evdev"}},
		{names: []string{"usbcore", "xhci-hcd"}, want: []string{"usb-common", "usbcore", "xhci-hcd"}},
		{names: []string{"a"}, wantErr: "cycle"},
		{names: []string{"orphan"}, wantErr: "missing (needed by orphan) not found"},
		{names: []string{"nosuch"}, wantErr: "nosuch (needed by the test) not found"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			paths, err := moduleOrder(dir, tt.names...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range paths {
				got = append(got, strings.TrimSuffix(filepath.Base(p), ".ko"))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
