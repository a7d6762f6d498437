#!/usr/bin/env bash
# Builds the amd64 .deb and .rpm into a temporary directory and checks them:
#
#   deploy/check-package.sh [VERSION]     (default VERSION: 0.0.0+check)
#
# - control fields, Depends on libc6 (cgo build)
# - every packaged path with its mode and owner, and nothing else
# - the copyright file names every Go module linked into the binary, the man
#   page renders without a warning and covers every command, the changelog
#   names this version
# - the .rpm: the same paths (rpm -qlp), its %post/%preun/%postun are
#   deploy/scripts/rpm's (rpm -qp --scripts), Requires glibc
# - as root: deploy/check-install.sh installs the .deb into a throwaway
#   Debian 12 root and runs the maintainer scripts
# - packaged files identical to their sources in the repo
# - conffiles lists exactly /etc/tillscan/tillscan.yaml
# - postinst/prerm/postrm present, executable, identical to deploy/scripts,
#   valid sh (and shellcheck-clean when shellcheck is installed)
# - the binary: stripped, PIE, built with -trimpath and cgo, reports VERSION
# - the systemd unit passes `systemd-analyze verify` with no output at all
#   (it exits 0 even on unknown keys, so any stderr line is a failure),
#   skipped with a message when systemd-analyze is not installed
#
# Needs dpkg-deb, readelf and go. Runs every check, prints each failure, and
# exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

version=${1:-0.0.0+check}
failures=0 # in the current group of checks
failed_groups=()
fail() {
	echo "check-package: FAIL: $*" >&2
	failures=$((failures + 1))
}
group_done() {
	if ((failures > 0)); then
		echo "FAIL $1 ($failures)"
		failed_groups+=("$1")
		failures=0
	else
		echo "ok   $1"
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ARCHES=amd64 PACKAGERS="deb rpm" DIST=$tmp/dist deploy/build-packages.sh "$version" >"$tmp/build.log" 2>&1 || {
	cat "$tmp/build.log" >&2
	echo "check-package: build-packages.sh failed" >&2
	exit 1
}
deb=$tmp/dist/tillscan_${version}_amd64.deb
[[ -f $deb ]] || {
	echo "check-package: expected $deb, build produced: $(ls "$tmp/dist")" >&2
	exit 1
}
echo "built $deb"

# --- control --------------------------------------------------------------------
field() { dpkg-deb --field "$deb" "$1"; }
[[ $(field Package) == tillscan ]] || fail "Package: got '$(field Package)', want tillscan"
[[ $(field Version) == "$version" ]] || fail "Version: got '$(field Version)', want $version"
[[ $(field Architecture) == amd64 ]] || fail "Architecture: got '$(field Architecture)', want amd64"
[[ $(field Depends) =~ ^libc6\ \(\>=\ 2\.[0-9]+\)$ ]] || fail "Depends: got '$(field Depends)', want libc6 (>= 2.N) for the cgo build"
[[ $(field Description) == *"reads USB-HID scanners"* ]] || fail "Description does not say the amd64 build reads USB-HID scanners"
group_done "control fields"

# --- contents: path, mode, owner; nothing missing, nothing extra -------------------
# want: mode owner path (directories end in /)
want=$(
	cat <<'EOF'
drwxr-x--- root/root ./etc/tillscan/
-rw-r----- root/root ./etc/tillscan/tillscan.yaml
-rwxr-xr-x root/root ./usr/bin/tillscan
-rw-r--r-- root/root ./usr/lib/modules-load.d/tillscan.conf
-rw-r--r-- root/root ./usr/lib/systemd/system/tillscan.service
-rw-r--r-- root/root ./usr/lib/udev/rules.d/70-tillscan.rules
-rw-r--r-- root/root ./usr/share/doc/tillscan/README.md
-rw-r--r-- 0/0 ./usr/share/doc/tillscan/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/tillscan/copyright
-rw-r--r-- root/root ./usr/share/doc/tillscan/examples/sandbox-seed.yaml
-rw-r--r-- root/root ./usr/share/doc/tillscan/examples/tillscan.yaml
-rw-r--r-- root/root ./usr/share/doc/tillscan/udev.md
-rw-r--r-- root/root ./usr/share/man/man1/tillscan.1.gz
EOF
)
want=$(LC_ALL=C sort -k3 <<<"$want")
# dpkg-deb -c: mode owner size date time path. Parent directories other than
# the package's own (./etc/, ./usr/lib/…) are left out of the comparison.
got=$(dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}' |
	grep -Ev '^d[^ ]* [^ ]* \./(etc|usr|usr/bin|usr/lib|usr/lib/[^/]+|usr/lib/[^/]+/[^/]+|usr/share|usr/share/doc|usr/share/doc/tillscan|usr/share/doc/tillscan/examples|usr/share/man|usr/share/man/man1)/$' |
	LC_ALL=C sort -k3)
if [[ $got != "$want" ]]; then
	fail "package contents differ (- want, + got):"
	diff <(echo "$want") <(echo "$got") | grep '^[<>]' | sed 's/^</  -/; s/^>/  +/' >&2 || true
fi
group_done "contents, modes, owners"

x=$tmp/root
dpkg-deb --extract "$deb" "$x"
same() { # packaged path, source
	cmp -s "$x$1" "$2" || fail "$1 differs from $2"
}
same /etc/tillscan/tillscan.yaml configs/tillscan.yaml
same /usr/lib/modules-load.d/tillscan.conf deploy/modules-load.d/tillscan.conf
same /usr/lib/systemd/system/tillscan.service deploy/systemd/tillscan.service
same /usr/lib/udev/rules.d/70-tillscan.rules deploy/udev/70-tillscan.rules
same /usr/share/doc/tillscan/README.md README.md
same /usr/share/doc/tillscan/udev.md deploy/udev/README.md
same /usr/share/doc/tillscan/examples/sandbox-seed.yaml configs/sandbox-seed.yaml
same /usr/share/doc/tillscan/examples/tillscan.yaml configs/tillscan.yaml
group_done "files identical to their sources"

# --- control archive: conffiles, maintainer scripts ---------------------------------
ctrl=$tmp/control
dpkg-deb --control "$deb" "$ctrl"
conffiles=$(cat "$ctrl/conffiles" 2>/dev/null || true)
[[ $conffiles == /etc/tillscan/tillscan.yaml ]] || fail "conffiles: got '$conffiles', want /etc/tillscan/tillscan.yaml"
for s in postinst prerm postrm; do
	if [[ ! -f $ctrl/$s ]]; then
		fail "maintainer script $s missing"
		continue
	fi
	[[ -x $ctrl/$s ]] || fail "maintainer script $s is not executable"
	cmp -s "$ctrl/$s" "deploy/scripts/$s" || fail "maintainer script $s differs from deploy/scripts/$s"
	sh -n "$ctrl/$s" || fail "maintainer script $s: sh -n found a syntax error"
	if command -v shellcheck >/dev/null; then
		shellcheck -s sh "$ctrl/$s" >&2 || fail "maintainer script $s: shellcheck"
	fi
done
# (Output captured first: with pipefail, grep -q closing the pipe early
# would make the pipeline fail.)
info=$(dpkg-deb --info "$deb")
grep -Eq '^ +[0-9]+ bytes, +[0-9]+ lines +\* +postinst ' <<<"$info" || fail "dpkg-deb --info does not list postinst as executable"
group_done "conffiles and maintainer scripts"

# --- the binary -------------------------------------------------------------------
bin=$x/usr/bin/tillscan
got_version=$("$bin" version 2>&1) || fail "'tillscan version' failed: $got_version"
[[ $got_version == *"$version"* ]] || fail "'tillscan version' printed '$got_version', want it to contain $version (-X main.version)"
buildinfo=$(go version -m "$bin")
grep -Eq $'^\tbuild\t-trimpath=true$' <<<"$buildinfo" || fail "binary not built with -trimpath"
grep -Eq $'^\tbuild\tCGO_ENABLED=1$' <<<"$buildinfo" || fail "amd64 binary not built with CGO_ENABLED=1 (USB-HID needs cgo)"
sections=$(readelf --sections --wide "$bin")
if grep -Eq ' \.(symtab|debug_[a-z]+) ' <<<"$sections"; then
	fail "binary is not stripped (-ldflags -s -w): it has .symtab or .debug_* sections"
fi
header=$(readelf --file-header "$bin")
grep -Eq '^ +Type: +DYN ' <<<"$header" || fail "binary is not position-independent (-buildmode=pie): $(grep -E '^ +Type:' <<<"$header")"
group_done "binary: version, -trimpath, cgo, stripped, PIE"

# --- copyright, man page, changelog ---------------------------------------------------
copyright=$x/usr/share/doc/tillscan/copyright
head -n1 "$copyright" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$' ||
	fail "copyright: not in Debian's machine-readable format"
for mod in $(go version -m "$bin" | awk '$1 == "dep" { print $2 }'); do
	grep -qx "Files: go-module/$mod" "$copyright" || fail "copyright: Go module $mod is linked in but not listed"
done
grep -q '^License: other$' "$copyright" && fail "copyright: a module's licence was not recognised (License: other)"
man=$x/usr/share/man/man1/tillscan.1.gz
if warnings=$(zcat "$man" | groff -K utf8 -man -ww -z 2>&1) && [[ -z $warnings ]]; then :; else
	fail "man page: groff warns: $warnings"
fi
for cmd in $("$bin" --help | awk '/^Commands:/ { c = 1; next } c && /^  [a-z]/ { print $1 }' | sort -u); do
	zcat "$man" | grep -q "^\.SS tillscan $cmd" || fail "man page: no section for 'tillscan $cmd'"
done
changelog=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/doc/tillscan/changelog.Debian.gz | zcat)
[[ $(head -n1 <<<"$changelog") == "tillscan ($version) "* ]] || fail "changelog: first entry is '$(head -n1 <<<"$changelog")', want version $version"
group_done "copyright, man page, changelog"

# --- the .rpm ---------------------------------------------------------------------------
rpm_file=$tmp/dist/tillscan-${version}-1.x86_64.rpm
if ! command -v rpm >/dev/null; then
	fail "rpm is not installed (Debian package: rpm): cannot check $rpm_file"
elif [[ ! -f $rpm_file ]]; then
	fail "expected $rpm_file, build produced: $(ls "$tmp/dist")"
else
	want_rpm=$(awk '$1 !~ /^d/ { sub(/^\./, "", $3); print $3 } $1 ~ /^d/ && $3 == "./etc/tillscan/" { print "/etc/tillscan" }' <<<"$want" | LC_ALL=C sort)
	got_rpm=$(rpm -qlp "$rpm_file" 2>/dev/null | grep -v '/changelog.Debian.gz$' | LC_ALL=C sort)
	if [[ $got_rpm != "$(grep -v '/changelog.Debian.gz$' <<<"$want_rpm")" ]]; then
		fail "rpm -qlp differs (- want, + got):"
		diff <(grep -v '/changelog.Debian.gz$' <<<"$want_rpm") <(echo "$got_rpm") | grep '^[<>]' | sed 's/^</  -/; s/^>/  +/' >&2 || true
	fi
	scripts=$(rpm -qp --scripts "$rpm_file" 2>/dev/null)
	for pair in "postinstall:postinst" "preuninstall:preun" "postuninstall:postun"; do
		tag=${pair%%:*} src=deploy/scripts/rpm/${pair#*:}
		body=$(awk -v tag="$tag" '$0 ~ "^" tag " scriptlet" { on = 1; next } /^[a-z]+ scriptlet/ { on = 0 } on' <<<"$scripts")
		[[ $body == "$(cat "$src")" ]] || fail "rpm $tag scriptlet differs from $src"
		sh -n "$src" || fail "$src: sh -n found a syntax error"
	done
	rpm -qp --requires "$rpm_file" 2>/dev/null | grep -Eq '^glibc >= 2\.[0-9]+$' || fail "rpm does not require glibc >= 2.N"
	[[ $(rpm -qp --qf '%{ARCH}' "$rpm_file" 2>/dev/null) == x86_64 ]] || fail "rpm arch is not x86_64"
	[[ $(rpm -qp --changelog "$rpm_file" 2>/dev/null | head -n1) == *" - $version" ]] || fail "rpm changelog does not start with version $version"
fi
group_done "rpm: files, scripts, requires, changelog"

# --- the systemd unit ----------------------------------------------------------------
if ! command -v systemd-analyze >/dev/null; then
	echo "skip systemd-analyze verify: systemd-analyze is not installed (Debian package: systemd)"
else
	# verify checks that ExecStart exists: point it at the packaged binary.
	mkdir "$tmp/unit"
	sed "s|/usr/bin/tillscan|$bin|g" "$x/usr/lib/systemd/system/tillscan.service" >"$tmp/unit/tillscan.service"
	if ! out=$(systemd-analyze verify "$tmp/unit/tillscan.service" 2>&1); then
		fail "systemd-analyze verify exited non-zero: $out"
	elif [[ -n $out ]]; then
		fail "systemd-analyze verify printed (any output is a failure): $out"
	fi
	group_done "systemd-analyze verify"
	# For information only: the unit's sandboxing score.
	systemd-analyze security --offline=yes "$tmp/unit/tillscan.service" 2>/dev/null | tail -n1 | sed 's/^/info /' || true
fi

# --- installed for real, in a throwaway root ------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
	if deploy/check-install.sh "$deb"; then :; else
		failed_groups+=("install into a Debian 12 root (deploy/check-install.sh)")
	fi
else
	if [[ ${CI:-} == true ]]; then
		failed_groups+=("install into a throwaway root: needs root, and CI=true")
	else
		echo "skip install into a throwaway root: needs root (CI runs as root)"
	fi
fi

if ((${#failed_groups[@]} > 0)); then
	printf 'check-package: FAILED: %s\n' "${failed_groups[@]}" >&2
	exit 1
fi
echo "check-package: all checks passed ($deb)"
