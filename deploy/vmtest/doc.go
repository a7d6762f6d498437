// Package vmtest boots a throwaway Debian guest under QEMU to test
// tillscan as deployed: Debian's own kernel and modules, a busybox
// initramfs built on the fly, the programs under test built static, their
// output read line by line from the guest's serial console, the machine
// driven over QMP (keys typed on an emulated USB keyboard, devices
// unplugged) and, for power-cut tests, SIGKILLed with an ext4 virtio disk
// that outlives it.
//
// It is test machinery shared by the tests that need a real kernel: the
// USB-HID tests (scanner/hid/qemutest), the queue's power-cut test
// (queue/powercut_test.go) and the whole daemon's
// (cmd/tillscan/powercut_qemu_test.go: a user network with restrict=on
// and one guestfwd to the sandbox on the host, scans on a second UART; see
// Config.NIC and Config.Args). It owns no test of its own beyond its parts: a cpio newc
// writer for the initramfs, kernel-module dependency resolution from
// .modinfo, a minimal QMP client, the asset discovery, the VM runner and
// what the power-cut tests share (PowerCuts: the boots and when each is
// cut; MountScript, DiskModules and WritebackDrive: the guest's disk).
//
// The guest kernel, its modules and busybox come from Debian's packages
// through .ci/qemu-deps.sh (run it once as root); Require finds them, and
// skips the calling test when they are missing, or fails it when CI=true.
// Tests using a VM are skipped with -short. Environment:
//
//	TILLSCAN_QEMU_ASSETS  assets dir (default /var/cache/tillscan-qemu as root,
//	                      else <user cache dir>/tillscan-qemu), as for qemu-deps.sh
//	TILLSCAN_QEMU_ACCEL   QEMU accelerator list (default tcg; e.g. kvm:tcg)
//	TILLSCAN_QEMU_APPEND  extra guest kernel arguments (e.g. loglevel=7 to debug a boot)
package vmtest
