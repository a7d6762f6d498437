// Package qemutest holds the USB-HID end-to-end tests, run on Debian's own
// kernel under QEMU (a VM from deploy/vmtest) and read through the guest's
// serial console.
//
// TestQEMU_USBKeyboard proves the USB-HID path against a real Linux USB
// stack: an emulated USB keyboard (xHCI + usb-kbd), the real static
// `tillscan listen` in the guest, typing on the emulated keyboard from the
// host over QMP, unplugging and re-plugging it, and pass-through to a real
// uinput keyboard read back by evdevdump (this is where uinput is proven:
// the host test in scanner/passthrough needs a kernel that has it).
//
// The package owns only what is USB-HID specific: the host-side key tables
// (which qcodes a scanner set to a given keyboard country sends for a
// text) and evdevdump. The QEMU machinery is deploy/vmtest's.
//
// Running it: `bash .ci/qemu-deps.sh` once (root: apt-get), then
// `go test -run TestQEMU ./scanner/hid/qemutest/ -v` (under TCG on 2 cores:
// ~20–45 s plus the first static build of tillscan). Root is not needed to
// run the test itself. It is skipped with -short, and skipped (or failed
// when CI=true) when qemu-system-x86_64 or the assets are missing; see
// deploy/vmtest for the environment variables.
package qemutest
