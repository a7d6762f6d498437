#!/usr/bin/env bash
# Installs what the QEMU tests need (deploy/vmtest boots Debian's own kernel
# under QEMU for them: the USB-HID tests in scanner/hid/qemutest, the
# queue's power-cut test in queue/powercut_test.go and the whole daemon's in
# cmd/tillscan/powercut_qemu_test.go), all from Debian's packages:
#   - qemu-system-x86, gcc + libc6-dev for the static cgo build of
#     tillscan, and e2fsprogs (mkfs.ext4 formats the power-cut tests' disk
#     images) (apt-get install, host-wide)
#   - the guest kernel and busybox-static, fetched with `apt-get download`
#     and unpacked with `dpkg -x` into an assets dir, so the host's /boot and
#     /lib/modules stay untouched.
# The assets dir then holds:
#   vmlinux          uncompressed ELF kernel (boots directly through PVH,
#                    ~2.5 s faster than the bzImage under TCG)
#   busybox          static busybox for the guest's /init
#   lib/modules/<v>/ the kernel's modules as packaged (no modules.dep: the
#                    test reads each .ko's depends= from .modinfo)
#   kernel-version   <v>
# Assets dir: $TILLSCAN_QEMU_ASSETS, else /var/cache/tillscan-qemu as root,
# else ${XDG_CACHE_HOME:-$HOME/.cache}/tillscan-qemu (the test looks in the
# same places). Idempotent: a second run with everything present does
# nothing and touches no network. Run as root (apt-get install).
set -euo pipefail

if [[ -n "${TILLSCAN_QEMU_ASSETS:-}" ]]; then
	dir=$TILLSCAN_QEMU_ASSETS
elif [[ $(id -u) -eq 0 ]]; then
	dir=/var/cache/tillscan-qemu
else
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/tillscan-qemu
fi

have_assets() {
	[[ -s $dir/vmlinux && -x $dir/busybox && -s $dir/kernel-version ]] &&
		[[ -s $dir/lib/modules/$(cat "$dir/kernel-version")/modules.order ]]
}

# The test builds tillscan as a static cgo binary: gcc and libc.a.
have_cc() {
	command -v gcc >/dev/null && [[ -e /usr/lib/x86_64-linux-gnu/libc.a ]]
}

# The power-cut tests format their disk images with mkfs.ext4 (in /usr/sbin,
# which a normal user's PATH may lack).
have_mkfs() {
	command -v mkfs.ext4 >/dev/null || [[ -x /usr/sbin/mkfs.ext4 || -x /sbin/mkfs.ext4 ]]
}

if command -v qemu-system-x86_64 >/dev/null && have_assets && have_cc && have_mkfs; then
	echo "qemu-deps: ready in $dir (kernel $(cat "$dir/kernel-version"))"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt_updated=
apt_update_once() {
	if [[ -z $apt_updated ]]; then
		apt-get update -qq
		apt_updated=1
	fi
}

if ! command -v qemu-system-x86_64 >/dev/null; then
	apt_update_once
	apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi
if ! have_cc; then
	apt_update_once
	apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
fi
if ! have_mkfs; then
	apt_update_once
	apt-get install -y -qq --no-install-recommends e2fsprogs >/dev/null
fi
if ! command -v xz >/dev/null; then # to unpack the kernel's payload
	apt_update_once
	apt-get install -y -qq --no-install-recommends xz-utils >/dev/null
fi

if ! have_assets; then
	apt_update_once
	# linux-image-amd64 is the metapackage; it depends on the current
	# linux-image-6.1.0-N-amd64 (possibly through a "-unsigned" alternative).
	pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
	if [[ -z $pkg ]]; then
		echo "qemu-deps: cannot tell the current kernel package from 'apt-cache depends linux-image-amd64'" >&2
		exit 1
	fi
	mkdir -p "$dir"
	work=$(mktemp -d "$dir/.work.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	chmod 0755 "$work" # apt-get download drops privileges to _apt
	(cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" busybox-static)
	mkdir -p "$work/root"
	for deb in "$work"/*.deb; do
		dpkg -x "$deb" "$work/root"
	done
	vmlinuz=$(ls "$work"/root/boot/vmlinuz-* | head -n1)
	ver=${vmlinuz##*/vmlinuz-}
	# The bzImage carries the kernel as one xz stream: find its magic
	# (FD 37 7A 58 5A 00) and decompress from there; --single-stream
	# ignores the trailer that follows it.
	off=$(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
	if [[ -z $off ]]; then
		echo "qemu-deps: no xz payload in $vmlinuz" >&2
		exit 1
	fi
	tail -c +"$((off + 1))" "$vmlinuz" | xz -dc --single-stream >"$work/vmlinux" 2>/dev/null || true
	if [[ $(head -c 4 "$work/vmlinux" | od -An -tx1 | tr -d ' ') != 7f454c46 ]]; then
		echo "qemu-deps: extracting vmlinux from $vmlinuz gave no ELF file" >&2
		exit 1
	fi
	rm -rf "$dir/lib" "$dir/vmlinux" "$dir/busybox" "$dir/kernel-version"
	mkdir -p "$dir/lib/modules"
	mv "$work/root/lib/modules/$ver" "$dir/lib/modules/$ver"
	mv "$work/vmlinux" "$dir/vmlinux"
	install -m 0755 "$work/root/bin/busybox" "$dir/busybox"
	echo "$ver" >"$dir/kernel-version"
fi

echo "qemu-deps: ready in $dir (kernel $(cat "$dir/kernel-version"), $(qemu-system-x86_64 --version | head -n1))"
