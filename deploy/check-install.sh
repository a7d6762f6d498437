#!/usr/bin/env bash
# Installs a tillscan .deb into a throwaway Debian 12 root (debootstrap
# minbase, cached as a tarball) and runs the maintainer scripts for real:
#
#   deploy/check-install.sh DEB
#
# Checked, in order:
#   1. install: the tillscan user and group, /etc/tillscan root:tillscan 0750,
#      its config and the POS token 0640, the unit enabled (multi-user.target.wants link),
#      `tillscan version`, `tillscan check-config` with a key file
#   2. remove: the queue directory, the config, the key and the token are kept, the unit
#      is masked; reinstall: enabled again, unmasked (remove + reinstall
#      leaves the service as it was)
#   3. an admin disables it; remove + reinstall: still disabled
#   4. reinstall over itself (the upgrade path): state and token unchanged
#   5. purge: key, token and /etc/tillscan gone, no mask left, queue kept
#
# There is no systemd PID 1 in the root (as in an image build): the scripts
# must manage enablement through deb-systemd-helper alone, and must not fail.
# Needs root and debootstrap (Debian package); the first run downloads a
# minimal Debian 12 (~40 MB) into $TILLSCAN_CHROOT_CACHE
# (default /var/cache/tillscan-chroot); later runs reuse it and need no network.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(realpath "${1:?usage: check-install.sh DEB}")
[[ $(id -u) -eq 0 ]] || {
	echo "check-install: needs root (chroot, dpkg)" >&2
	exit 1
}
cache=${TILLSCAN_CHROOT_CACHE:-/var/cache/tillscan-chroot}
tarball=$cache/bookworm-minbase.tar

if [[ ! -f $tarball ]]; then
	command -v debootstrap >/dev/null || {
		echo "check-install: debootstrap is not installed (apt-get install debootstrap)" >&2
		exit 1
	}
	mkdir -p "$cache"
	build=$(mktemp -d "$cache/build.XXXXXX")
	echo "check-install: debootstrap --variant=minbase bookworm (first run only)"
	debootstrap --variant=minbase bookworm "$build" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || {
		tail -n 20 "$cache/debootstrap.log" >&2
		rm -rf "$build"
		echo "check-install: debootstrap failed (log: $cache/debootstrap.log)" >&2
		exit 1
	}
	tar -C "$build" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	rm -rf "$build"
fi

root=$(mktemp -d /tmp/tillscan-root.XXXXXX)
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$tarball"
cp "$deb" "$root/tmp/tillscan.deb"

failures=0 total=0
fail() {
	echo "check-install: FAIL: $*" >&2
	failures=$((failures + 1))
}
step_done() { # what was checked
	if ((failures > 0)); then
		echo "FAIL $1 ($failures)"
		total=$((total + failures))
		failures=0
	else
		echo "ok   $1"
	fi
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
dpkg_in_root() { # dpkg arguments; output kept for a failure report
	local out
	if ! out=$(in_root dpkg "$@" 2>&1); then
		fail "dpkg $*: $out"
		return 1
	fi
}
wants=$root/etc/systemd/system/multi-user.target.wants/tillscan.service
mask=$root/etc/systemd/system/tillscan.service
enabled() { [[ -L $wants ]]; }
masked() { [[ $(readlink "$mask" 2>/dev/null) == /dev/null ]]; }
mode_of() { in_root stat -c '%U:%G %a' "$1"; }

# --- 1. install ----------------------------------------------------------------
dpkg_in_root -i /tmp/tillscan.deb
in_root getent passwd tillscan >/dev/null || fail "install: no tillscan user"
in_root id -nG tillscan | tr ' ' '\n' | grep -qx tillscan || fail "install: tillscan is not in group tillscan"
[[ $(mode_of /etc/tillscan) == "root:tillscan 750" ]] || fail "install: /etc/tillscan is $(mode_of /etc/tillscan), want root:tillscan 750"
[[ $(mode_of /etc/tillscan/tillscan.yaml) == "root:tillscan 640" ]] ||
	fail "install: /etc/tillscan/tillscan.yaml is $(mode_of /etc/tillscan/tillscan.yaml), want root:tillscan 640"
[[ $(mode_of /etc/tillscan/pos-token) == "root:tillscan 640" ]] ||
	fail "install: /etc/tillscan/pos-token is $(mode_of /etc/tillscan/pos-token 2>&1), want root:tillscan 640"
[[ $(wc -c <"$root/etc/tillscan/pos-token") -ge 32 ]] || fail "install: the POS token is shorter than 32 characters"
token=$(cat "$root/etc/tillscan/pos-token")
enabled || fail "install: the unit is not enabled (no $wants)"
masked && fail "install: the unit is masked"
want_version=$(dpkg-deb --field "$deb" Version)
got=$(in_root tillscan version 2>&1) || fail "install: tillscan version failed: $got"
[[ $got == *"$want_version"* ]] || fail "install: tillscan version printed '$got', want $want_version"
# The admin's next steps, as postinst prints them: a key, then check-config.
printf 'chroot-test-key-0123456789\n' >"$root/etc/tillscan/api-key"
chmod 0600 "$root/etc/tillscan/api-key"
# --no-device-check: the root is not the till; the example config names a
# pass-through keyboard (/dev/uinput) and scanners this machine does not have.
out=$(in_root tillscan check-config --no-device-check --config /etc/tillscan/tillscan.yaml 2>&1) ||
	fail "install: tillscan check-config on the packaged config failed: $out"
step_done "install ($want_version): user, modes, enabled, version, check-config"

# --- 2. remove keeps data and enablement; reinstall restores it ----------------------
mkdir -p "$root/var/lib/tillscan"
echo "scans not yet sent" >"$root/var/lib/tillscan/queue.db"
dpkg_in_root -r tillscan
[[ -f $root/var/lib/tillscan/queue.db ]] || fail "remove: deleted the queue"
[[ -f $root/etc/tillscan/tillscan.yaml ]] || fail "remove: deleted the config (a conffile is kept until purge)"
[[ -f $root/etc/tillscan/api-key ]] || fail "remove: deleted the API key"
[[ $(cat "$root/etc/tillscan/pos-token" 2>/dev/null) == "$token" ]] || fail "remove: the POS token was deleted or changed"
[[ -e $root/usr/bin/tillscan ]] && fail "remove: /usr/bin/tillscan is still there"
masked || fail "remove: the unit is not masked (deb-systemd-helper mask)"
dpkg_in_root -i /tmp/tillscan.deb
enabled || fail "remove + reinstall: the unit was enabled and is not any more"
masked && fail "remove + reinstall: the unit is still masked"
step_done "remove keeps queue, config and key; reinstall leaves it enabled"

# --- 3. an admin's "disable" survives remove + reinstall ---------------------------
# `systemctl disable` removes the unit's symlinks; the root has no systemctl
# (no systemd package), so the test removes the link as it would.
rm "$wants"
dpkg_in_root -r tillscan
dpkg_in_root -i /tmp/tillscan.deb
enabled && fail "disabled, remove + reinstall: the unit was enabled against the admin's choice"
# ... and `systemctl enable` makes the link again.
ln -s /lib/systemd/system/tillscan.service "$wants"
step_done "an admin's disable survives remove + reinstall"

# --- 4. reinstall over itself (postinst configure <version>) -------------------------
dpkg_in_root -i /tmp/tillscan.deb
enabled || fail "upgrade: the unit is no longer enabled"
[[ $(cat "$root/etc/tillscan/pos-token") == "$token" ]] || fail "upgrade: the POS token changed (POS software would lose access)"
[[ $(mode_of /etc/tillscan) == "root:tillscan 750" ]] || fail "upgrade: /etc/tillscan is $(mode_of /etc/tillscan)"
step_done "upgrade in place keeps the state"

# --- 5. purge --------------------------------------------------------------------
dpkg_in_root -P tillscan
[[ -e $root/etc/tillscan/api-key ]] && fail "purge: the API key is still there"
[[ -e $root/etc/tillscan/pos-token ]] && fail "purge: the POS token is still there"
[[ -e $root/etc/tillscan ]] && fail "purge: /etc/tillscan is still there: $(ls -A "$root/etc/tillscan")"
[[ -e $mask || -L $mask ]] && fail "purge: left $mask"
[[ -f $root/var/lib/tillscan/queue.db ]] || fail "purge: deleted the queue (it may hold scans not yet sent)"
step_done "purge removes key and config, keeps the queue"

if ((total > 0)); then
	echo "check-install: $total check(s) FAILED" >&2
	exit 1
fi
echo "check-install: all checks passed ($deb in a Debian 12 root)"
