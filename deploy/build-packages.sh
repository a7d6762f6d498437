#!/usr/bin/env bash
# Builds tillscan for Linux and packs it into a .deb and an .rpm per
# architecture:
#
#   deploy/build-packages.sh [VERSION]
#
# Output in dist/: tillscan_<VERSION>_<debarch>.deb,
# tillscan-<VERSION>-1.<rpmarch>.rpm, and the binaries in
# dist/linux_<arch>/tillscan. VERSION defaults to one made from
# `git describe --tags --always --dirty`: tag v1.2.0 gives 1.2.0, three commits
# after it 1.2.0+3.g<sha>, no tag 0.0.0+<sha>; "dirty" is appended for
# uncommitted changes.
#
# Environment:
#   ARCHES     architectures to build (default "amd64 arm64 armv7"):
#              amd64 (PCs), arm64 (Raspberry Pi 3/4/5 on a 64-bit OS), armv7
#              (Raspberry Pi 2/3 and 32-bit Raspberry Pi OS: Debian armhf,
#              RPM armv7hl)
#   PACKAGERS  package formats (default "deb rpm")
#   DIST       output directory (default dist)
#
# cgo: the architecture of this machine is built with CGO_ENABLED=1 (USB-HID
# scanners need it: karalabe/hid wraps libusb in C). Another architecture is
# built with cgo when its Debian cross compiler is installed
# (apt-get install gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf), otherwise
# with CGO_ENABLED=0: serial and stdin scanners only, said in the package
# description. nfpm runs as a Go tool from tools/nfpm/go.mod, outside the
# daemon's module.
#
# Every package carries the binary, the systemd unit, udev rules, the example
# config, a copyright file listing every Go module linked in
# (deploy/copyright.sh), a man page generated from the CLI's help
# (deploy/manpage.sh) and a changelog made from the commit subjects.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

die() { echo "build-packages: $*" >&2; exit 1; }

default_version() {
	local d dirty="" base extra="" v
	if ! d=$(git describe --tags --always --dirty 2>/dev/null); then
		echo "0.0.0+unknown"
		return
	fi
	if [[ $d == *-dirty ]]; then
		dirty=1
		d=${d%-dirty}
	fi
	base=$d
	if [[ $d =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		base=${BASH_REMATCH[1]}
		extra="+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
	fi
	# Without a tag describe prints the abbreviated commit, which may start
	# with a digit too.
	if [[ $base != "$(git rev-parse --short HEAD)" && ${base#v} =~ ^[0-9] ]]; then
		base=${base#v}
		# A tag. Debian sorts ~ before everything: 1.2.0~rc1 < 1.2.0.
		v=${base//-/\~}$extra
	else
		# No tag (describe printed the abbreviated commit), or not a version tag.
		v="0.0.0+$(git rev-parse --short HEAD)"
	fi
	if [[ -n $dirty ]]; then
		if [[ $v == *+* ]]; then v+=.dirty; else v+=+dirty; fi
	fi
	echo "$v"
}

version=${1:-$(default_version)}
# A Debian version without epoch (it would not fit the file name).
if ! [[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ && $version != *- ]]; then
	die "version '$version' is not a Debian version: it must start with a digit and hold only letters, digits and . + ~ - (e.g. 1.2.0, 1.2.0~rc1, 1.2.0+3.gabc1234)"
fi
dist=${DIST:-dist}
arches=${ARCHES:-"amd64 arm64 armv7"}
packagers=${PACKAGERS:-"deb rpm"}
host=$(go env GOHOSTARCH)
[[ $host == arm ]] && host=armv7 # our name for GOARCH=arm GOARM=7
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
# File dates in the package: the last commit's, so a rebuild gives the same .deb.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

declare -A cross_cc=([amd64]=x86_64-linux-gnu-gcc [arm64]=aarch64-linux-gnu-gcc [armv7]=arm-linux-gnueabihf-gcc)
declare -A goarch=([amd64]=amd64 [arm64]=arm64 [armv7]=arm)
[[ -v "goarch[$host]" ]] || die "this machine's architecture '$host' is not one tillscan packages"
declare -A nfpm_arch=([amd64]=amd64 [arm64]=arm64 [armv7]=arm7)
declare -A deb_arch=([amd64]=amd64 [arm64]=arm64 [armv7]=armhf)
declare -A rpm_arch=([amd64]=x86_64 [arm64]=aarch64 [armv7]=armv7hl)

for p in $packagers; do
	[[ $p == deb || $p == rpm ]] || die "unsupported packager '$p' (deb, rpm)"
done

# What every architecture shares: the man page (from a build for this
# machine, which can run it) and the changelog.
work=$dist/.build
mkdir -p "$work"
echo "== man page and changelog"
build() { # arch cgo cc output
	env CGO_ENABLED="$2" GOOS=linux GOARCH="${goarch[$1]}" GOARM=7 ${3:+CC="$3"} \
		go build -trimpath -buildmode=pie -ldflags "-s -w -X main.version=$version" -o "$4" ./cmd/tillscan
}
# Built exactly as this machine's package build, which then reuses it.
host_bin=$work/tillscan-host
build "$host" 1 "" "$host_bin"
deploy/manpage.sh "$host_bin" "$version" | gzip -9n >"$work/tillscan.1.gz"
export TILLSCAN_MAN=$work/tillscan.1.gz

# The changelog (nfpm's chglog format): one entry for this version, listing
# the last commits' subjects. JSON strings are valid YAML scalars.
json_string() { sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/"/'; }
{
	echo "- semver: \"$version\""
	echo "  date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
	echo "  packager: tillscan maintainers <maintainers@tillscan.invalid>"
	echo "  deb:"
	echo "    urgency: medium"
	echo "    distributions: [stable]"
	echo "  changes:"
	git log -30 --format=%s 2>/dev/null | json_string | sed 's/^/    - note: /'
} >"$work/changelog.yml"
# nfpm expands no variables in the changelog field: a copy of the config
# names the generated file.
{
	cat deploy/nfpm.yaml
	echo "changelog: $work/changelog.yml"
} >"$work/nfpm.yaml"

for arch in $arches; do
	[[ -v "cross_cc[$arch]" ]] || die "unsupported architecture '$arch' (amd64, arm64, armv7)"
	cc=""
	cgo=0
	if [[ $arch == "$host" ]]; then
		cgo=1
	elif command -v "${cross_cc[$arch]}" >/dev/null; then
		cgo=1
		cc=${cross_cc[$arch]}
	else
		echo "build-packages: ${cross_cc[$arch]} not found: building $arch with CGO_ENABLED=0 (no USB-HID; apt-get install gcc-${cross_cc[$arch]%-gcc} for HID)" >&2
	fi

	bin=$dist/linux_$arch/tillscan
	mkdir -p "$(dirname "$bin")"
	if [[ $arch == "$host" ]]; then
		cp "$host_bin" "$bin"
	else
		echo "== $arch: go build (CGO_ENABLED=$cgo${cc:+ CC=$cc}) -> $bin"
		build "$arch" "$cgo" "$cc" "$bin"
	fi

	if [[ $cgo == 1 ]]; then
		# The newest glibc symbol version the binary needs is the dependency.
		glibc=$(readelf --version-info --wide "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n1)
		[[ -n $glibc ]] || die "$bin: no GLIBC symbol versions found (is readelf from binutils installed?)"
		export TILLSCAN_LIBC_DEP="libc6 (>= $glibc)"
		export TILLSCAN_RPM_LIBC_DEP="glibc >= $glibc"
		export TILLSCAN_HID_NOTE="This build reads USB-HID scanners (through libusb) and serial scanners."
	else
		export TILLSCAN_LIBC_DEP="" TILLSCAN_RPM_LIBC_DEP=""
		export TILLSCAN_HID_NOTE="This build has no USB-HID support (CGO_ENABLED=0): serial scanners only."
	fi
	deploy/copyright.sh "$bin" >"$dist/linux_$arch/copyright"
	export TILLSCAN_COPYRIGHT=$dist/linux_$arch/copyright
	export ARCH=${nfpm_arch[$arch]} VERSION=$version TILLSCAN_BIN=$bin
	for p in $packagers; do
		if [[ $p == deb ]]; then
			out=$dist/tillscan_${version}_${deb_arch[$arch]}.deb
		else
			out=$dist/tillscan-${version}-1.${rpm_arch[$arch]}.rpm
		fi
		echo "== $arch: nfpm $p -> $out"
		go tool -modfile=tools/nfpm/go.mod nfpm package --config "$work/nfpm.yaml" --packager "$p" --target "$out"
	done
done
