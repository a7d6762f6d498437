#!/usr/bin/env bash
# Builds tillscan for Linux and packs it into a .deb per architecture:
#
#   deploy/build-packages.sh [VERSION]
#
# Output: dist/tillscan_<VERSION>_<arch>.deb, and the binaries in
# dist/linux_<arch>/tillscan. VERSION defaults to one made from
# `git describe --tags --always --dirty`: tag v1.2.0 gives 1.2.0, three commits
# after it 1.2.0+3.g<sha>, no tag 0.0.0+<sha>; "dirty" is appended for
# uncommitted changes.
#
# Environment:
#   ARCHES   architectures to build (default "amd64 arm64")
#   DIST     output directory (default dist)
#
# cgo: the architecture of this machine is built with CGO_ENABLED=1 (USB-HID
# scanners need it: karalabe/hid wraps libusb in C). Another architecture is
# built with cgo when its Debian cross compiler is installed
# (apt-get install gcc-aarch64-linux-gnu for arm64), otherwise with
# CGO_ENABLED=0: serial and stdin scanners only, said in the package
# description. nfpm runs as a Go tool from tools/go.mod, outside the
# daemon's module.
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
arches=${ARCHES:-"amd64 arm64"}
host=$(go env GOHOSTARCH)
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
# File dates in the package: the last commit's, so a rebuild gives the same .deb.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

declare -A cross_cc=([amd64]=x86_64-linux-gnu-gcc [arm64]=aarch64-linux-gnu-gcc)

for arch in $arches; do
	[[ -v "cross_cc[$arch]" ]] || die "unsupported architecture '$arch' (amd64, arm64)"
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
	echo "== $arch: go build (CGO_ENABLED=$cgo${cc:+ CC=$cc}) -> $bin"
	env CGO_ENABLED="$cgo" GOOS=linux GOARCH="$arch" ${cc:+CC="$cc"} \
		go build -trimpath -buildmode=pie -ldflags "-s -w -X main.version=$version" -o "$bin" ./cmd/tillscan

	if [[ $cgo == 1 ]]; then
		# The newest glibc symbol version the binary needs is the dependency.
		glibc=$(readelf --version-info --wide "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -n1)
		[[ -n $glibc ]] || die "$bin: no GLIBC symbol versions found (is readelf from binutils installed?)"
		export TILLSCAN_LIBC_DEP="libc6 (>= $glibc)"
		export TILLSCAN_HID_NOTE="This build reads USB-HID scanners (through libusb) and serial scanners."
	else
		export TILLSCAN_LIBC_DEP=""
		export TILLSCAN_HID_NOTE="This build has no USB-HID support (CGO_ENABLED=0): serial scanners only."
	fi
	export ARCH=$arch VERSION=$version TILLSCAN_BIN=$bin
	deb=$dist/tillscan_${version}_$arch.deb
	echo "== $arch: nfpm -> $deb"
	go tool -modfile=tools/go.mod nfpm package --config deploy/nfpm.yaml --packager deb --target "$deb"
done
