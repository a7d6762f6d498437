#!/usr/bin/env bash
# Writes the package's copyright file (Debian's machine-readable format) for a
# built tillscan binary: tillscan's own notice, then every Go module linked
# into that binary (read from its embedded build information, so the list is
# exactly what ships) with the module's licence text from the module cache.
#
#   deploy/copyright.sh BINARY > copyright
#
# The modules must be in the module cache (they are, right after `go build`).
# A module whose licence file cannot be found fails the script: a package
# must not ship code whose licence it does not state.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"

bin=${1:?usage: copyright.sh BINARY}
modcache=$(go env GOMODCACHE)

# The module cache escapes upper-case letters as '!' + lower case.
escape() { sed -e 's/\([A-Z]\)/!\L\1/g' <<<"$1"; }

# A short licence name from the text, for the License: field.
classify() { # file
	local f=$1
	if grep -q 'LGPL 2.1 or later on Linux' "$f"; then
		echo LGPL-2.1+ # karalabe/hid: it compiles libusb in on Linux
	elif grep -q 'Apache License' "$f" && grep -q 'Version 2.0' "$f"; then
		echo Apache-2.0
	elif grep -q 'Permission is hereby granted, free of charge' "$f"; then
		echo Expat
	elif grep -q 'Neither the name' "$f" || grep -qi 'names of its contributors' "$f"; then
		echo BSD-3-clause
	elif grep -q 'Redistribution and use in source and binary forms' "$f"; then
		echo BSD-2-clause
	elif grep -q 'GNU LESSER GENERAL PUBLIC LICENSE' "$f"; then
		echo LGPL-2.1+
	else
		echo other
	fi
}

cat <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tillscan
Upstream-Contact: tillscan maintainers <maintainers@tillscan.invalid>
Comment: The tillscan binary is statically linked with the Go modules listed
 below (read from the binary's build information). Each section carries the
 licence text shipped with that module.

Files: *
Copyright: 2026 the tillscan maintainers
License: tillscan
 All rights reserved by the tillscan maintainers. No licence to redistribute
 or modify has been granted yet; a licence will be chosen before a public
 release.

EOF

go version -m "$bin" | awk '$1 == "dep" || $1 == "=>" { print $2, $3 }' | sort -u | while read -r mod ver; do
	dir=$modcache/$(escape "$mod")@$(escape "$ver")
	lic=""
	for name in LICENSE LICENSE.md LICENSE.txt LICENCE COPYING; do
		if [[ -f $dir/$name ]]; then
			lic=$dir/$name
			break
		fi
	done
	if [[ -z $lic ]]; then
		echo "copyright.sh: no licence file for $mod@$ver in $dir (run go mod download)" >&2
		exit 1
	fi
	echo "Files: go-module/$mod"
	echo "Comment: Go module $mod $ver, linked into /usr/bin/tillscan."
	echo "License: $(classify "$lic")"
	# Each licence line indented one space; empty lines become " ." as the
	# format requires.
	sed -e 's/[[:space:]]*$//' -e 's/^$/./' -e 's/^/ /' "$lic"
	echo
done

# karalabe/hid compiles the C sources of libusb (LGPL-2.1+) and hidapi
# (BSD-3-clause) into a cgo build; its licence file names them but does not
# carry libusb's text.
if go version -m "$bin" | grep -q 'github.com/karalabe/hid'; then
	cat <<'EOF'
License: LGPL-2.1+
 This library is free software; you can redistribute it and/or modify it
 under the terms of the GNU Lesser General Public License as published by the
 Free Software Foundation; either version 2.1 of the License, or (at your
 option) any later version.
 .
 On Debian systems, the complete text of the GNU Lesser General Public
 License version 2.1 can be found in /usr/share/common-licenses/LGPL-2.1.
EOF
fi
