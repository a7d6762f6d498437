// Package qemutest holds the QEMU end-to-end tests: the USB-HID path and the
// queue's power-cut safety, both on Debian's own kernel under QEMU with a
// busybox initramfs, read through the guest's serial console.
//
// TestQEMU_USBKeyboard proves the USB-HID path against a real Linux USB
// stack: an emulated USB keyboard (xHCI + usb-kbd), the real static
// `tillscan listen` in the guest, typing on the emulated keyboard from the
// host over QMP, unplugging and re-plugging it.
//
// TestQEMU_QueuePowerCut proves that an acknowledged scan survives a power
// cut: the queue's crash child (queue/crash_test.go) runs in the guest on
// an ext4 virtio disk, the host SIGKILLs QEMU mid-work (the guest's page
// cache is lost, the disk keeps what the guest wrote), boots again on the
// same disk and has the queue's oracle check the file; several cuts, then a
// drain. Its doc comment says what it cannot show.
//
// The package owns only test machinery: a cpio newc writer for the
// initramfs, kernel-module dependency resolution from .modinfo, a minimal
// QMP client, the host-side key tables (which qcodes a scanner set to a
// given keyboard country sends for a text), and the VM runner. The guest
// kernel, its modules and busybox come from Debian's packages through
// .ci/qemu-deps.sh (see assetsDir for where the test looks).
//
// Running it: `bash .ci/qemu-deps.sh` once (root: apt-get), then
// `go test -run TestQEMU ./scanner/hid/qemutest/ -v` (under TCG on 2 cores:
// ~20–45 s for the USB test plus the first static build of tillscan, ~30 s
// for 5 power cuts; -powercut.rounds=50 for the long run). Root is not
// needed to run the tests themselves. They are skipped with -short, and
// skipped (or failed when CI=true) when qemu-system-x86_64, the assets or
// mkfs.ext4 are missing.
// Environment:
//
//	TILLSCAN_QEMU_ASSETS  assets dir (default /var/cache/tillscan-qemu as root,
//	                      else <user cache dir>/tillscan-qemu), as for qemu-deps.sh
//	TILLSCAN_QEMU_ACCEL   QEMU accelerator list (default tcg; e.g. kvm:tcg)
//	TILLSCAN_QEMU_APPEND  extra guest kernel arguments (e.g. loglevel=7 to debug a boot)
package qemutest
