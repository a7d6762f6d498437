// Package qemutest proves the USB-HID path end to end against a real Linux
// USB stack: it boots Debian's own kernel under QEMU with an emulated USB
// keyboard (xHCI + usb-kbd), runs the real static `tillscan listen` inside a
// busybox initramfs, types on the emulated keyboard from the host over QMP,
// unplugs and re-plugs it, and reads what the guest prints on its serial
// console.
//
// The package owns only test machinery: a cpio newc writer for the
// initramfs, kernel-module dependency resolution from .modinfo, a minimal
// QMP client, the host-side key tables (which qcodes a scanner set to a
// given keyboard country sends for a text), and the VM runner. The guest
// kernel, its modules and busybox come from Debian's packages through
// .ci/qemu-deps.sh (see assetsDir for where the test looks).
//
// Running it: `bash .ci/qemu-deps.sh` once (root: apt-get), then
// `go test -run TestQEMU ./scanner/hid/qemutest/ -v` (~30–45 s under TCG on
// 2 cores, plus the first static build of tillscan). Root is not needed to
// run the test itself. The test is skipped with -short, and skipped (or
// failed when CI=true) when qemu-system-x86_64 or the assets are missing.
// Environment:
//
//	TILLSCAN_QEMU_ASSETS  assets dir (default /var/cache/tillscan-qemu as root,
//	                      else <user cache dir>/tillscan-qemu), as for qemu-deps.sh
//	TILLSCAN_QEMU_ACCEL   QEMU accelerator list (default tcg; e.g. kvm:tcg)
//	TILLSCAN_QEMU_APPEND  extra guest kernel arguments (e.g. loglevel=7 to debug a boot)
package qemutest
