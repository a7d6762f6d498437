package vmtest

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

// GuestFile is a file put into the initramfs at Path (absolute, guest side).
type GuestFile struct {
	Path string
	Mode uint32
	Data []byte
}

// Config is what one guest boots with.
type Config struct {
	Assets   Assets
	Modules  []string    // module names; dependencies are added in front
	Files    []GuestFile // programs under test and their helpers
	Commands []string    // shell command lines /init starts in the background
	Devices  []string    // extra -device arguments (the USB devices)
	Drives   []string    // -drive arguments (the power-cut test's disk)
	// NIC is QEMU's -nic argument; "" is "none": no network at all.
	NIC string
	// Args are further QEMU arguments (a -chardev and a -serial for a
	// second serial line, say).
	Args  []string
	Accel string // QEMU accelerator list, e.g. "tcg" or "kvm:tcg"
}

//go:embed init.sh.tmpl
var initTemplate string

var initTmpl = template.Must(template.New("init").Parse(initTemplate))

// writeInitramfs writes an uncompressed newc initramfs with busybox, a
// /dev/console node (without it early output never reaches the serial
// console), the modules under /lib/modules in load order, cfg.Files and
// the rendered /init. Uncompressed because under TCG the guest inflating
// ~20 MB of gzip costs more than the host reading it.
func writeInitramfs(w io.Writer, cfg Config) error {
	mods, err := moduleOrder(cfg.Assets.ModDir, cfg.Modules...)
	if err != nil {
		return err
	}
	bb, err := os.ReadFile(cfg.Assets.Busybox)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	c := newCPIOWriter(w)
	dirs := map[string]bool{}
	var mkdirs func(dir string)
	mkdirs = func(dir string) {
		if dir == "." || dir == "/" || dirs[dir] {
			return
		}
		mkdirs(path.Dir(dir))
		dirs[dir] = true
		c.Dir(strings.TrimPrefix(dir, "/"), 0o755)
	}
	for _, d := range []string{"/bin", "/sbin", "/dev", "/proc", "/sys", "/tmp", "/lib/modules"} {
		mkdirs(d)
	}
	c.File("bin/busybox", 0o755, bb)
	c.CharDev("dev/console", 0o600, 5, 1)
	var guestMods []string
	for i, m := range mods {
		data, err := os.ReadFile(m)
		if err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
		// The index keeps the order visible in the guest's file names.
		p := fmt.Sprintf("/lib/modules/%02d-%s", i, filepath.Base(m))
		guestMods = append(guestMods, p)
		c.File(strings.TrimPrefix(p, "/"), 0o644, data)
	}
	files := append([]GuestFile(nil), cfg.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return fmt.Errorf("initramfs: guest path %q is not absolute", f.Path)
		}
		mkdirs(path.Dir(f.Path))
		c.File(strings.TrimPrefix(f.Path, "/"), f.Mode, f.Data)
	}
	var init bytes.Buffer
	if err := initTmpl.Execute(&init, struct{ Modules, Commands []string }{guestMods, cfg.Commands}); err != nil {
		return fmt.Errorf("initramfs: render /init: %w", err)
	}
	c.File("init", 0o755, init.Bytes())
	return c.Close()
}
