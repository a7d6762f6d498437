package vmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Assets are the guest kernel, its modules and busybox, as laid out by
// .ci/qemu-deps.sh.
type Assets struct {
	Dir     string
	Vmlinux string
	Busybox string
	ModDir  string // lib/modules/<version>
}

// AssetsDir is where .ci/qemu-deps.sh puts the assets: $TILLSCAN_QEMU_ASSETS,
// else /var/cache/tillscan-qemu for root, else <user cache>/tillscan-qemu.
func AssetsDir() string {
	if d := os.Getenv("TILLSCAN_QEMU_ASSETS"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/tillscan-qemu"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tillscan-qemu")
	}
	return "/var/cache/tillscan-qemu"
}

// FindAssets checks that QEMU and every asset are there.
func FindAssets() (Assets, error) {
	dir := AssetsDir()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return Assets{}, fmt.Errorf("qemu-system-x86_64 not found: %w", err)
	}
	ver, err := os.ReadFile(filepath.Join(dir, "kernel-version"))
	if err != nil {
		return Assets{}, fmt.Errorf("no guest kernel in %s: %w", dir, err)
	}
	a := Assets{
		Dir:     dir,
		Vmlinux: filepath.Join(dir, "vmlinux"),
		Busybox: filepath.Join(dir, "busybox"),
		ModDir:  filepath.Join(dir, "lib", "modules", strings.TrimSpace(string(ver))),
	}
	for _, p := range []string{a.Vmlinux, a.Busybox, a.ModDir} {
		if _, err := os.Stat(p); err != nil {
			return Assets{}, fmt.Errorf("incomplete assets in %s: %w", dir, err)
		}
	}
	return a, nil
}

// Require returns the assets, or skips the test (fails it under CI=true)
// saying what to run when they are missing. -short always skips: a boot
// costs seconds.
func Require(t testing.TB) Assets {
	t.Helper()
	if testing.Short() {
		t.Skip("QEMU end-to-end test: skipped with -short")
	}
	a, err := FindAssets()
	if err != nil {
		MissingAsset(t, fmt.Sprintf("QEMU end-to-end test needs QEMU and the guest assets: %v", err))
	}
	return a
}

// MissingAsset fails under CI=true, else skips, saying what is missing and
// what installs it.
func MissingAsset(t testing.TB, what string) {
	t.Helper()
	msg := what + "; install them with `bash .ci/qemu-deps.sh` (root, Debian packages)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Accelerator is $TILLSCAN_QEMU_ACCEL (e.g. "kvm:tcg"), else TCG. KVM is
// not the default even where /dev/kvm opens: on sandboxed machines it may
// open and then fail with "KVM internal error" mid-boot, and the tests
// must pass under TCG alone anyway.
func Accelerator() string {
	if a := os.Getenv("TILLSCAN_QEMU_ACCEL"); a != "" {
		return a
	}
	return "tcg"
}

// LogAccel logs whether the guest runs under KVM or TCG.
func LogAccel(t testing.TB, ctx context.Context, v *VM) {
	t.Helper()
	ret, err := v.QMP.Execute(ctx, "query-kvm", nil)
	if err != nil {
		t.Fatal(err)
	}
	var kvm struct{ Enabled bool }
	if err := json.Unmarshal(ret, &kvm); err != nil {
		t.Fatalf("query-kvm returned %s: %v", ret, err)
	}
	if kvm.Enabled {
		t.Log("accelerator: kvm")
	} else {
		t.Log("accelerator: tcg")
	}
}

// FindMkfs finds mkfs.ext4 on $PATH, else in /usr/sbin or /sbin, which a
// normal user's $PATH often lacks (running it needs no root on a file).
func FindMkfs() (string, error) {
	p, err := exec.LookPath("mkfs.ext4")
	if err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
		if _, serr := os.Stat(p); serr == nil {
			return p, nil
		}
	}
	return "", err
}

// NewDisk creates an ext4 disk image of size bytes in a temporary
// directory of t and returns its path, for Config.Drives.
func NewDisk(t testing.TB, size int64) string {
	t.Helper()
	mkfs, err := FindMkfs()
	if err != nil {
		MissingAsset(t, fmt.Sprintf("a disk image needs mkfs.ext4 (Debian package e2fsprogs): %v", err))
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-F", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", mkfs, img, err, out)
	}
	return img
}
