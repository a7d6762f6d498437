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
// The test is skipped with -short, and skipped (or failed when CI=true)
// when qemu-system-x86_64 or the assets are missing.
package qemutest
