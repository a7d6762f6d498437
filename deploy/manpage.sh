#!/usr/bin/env bash
# Writes the tillscan(1) man page, generated from the command line's own help,
# so the page never disagrees with the binary it ships with:
#
#   deploy/manpage.sh BINARY VERSION > tillscan.1
#
# BINARY must run on this machine (build-packages.sh passes the host build).
# The page has NAME, SYNOPSIS, DESCRIPTION, one subsection per command with
# its `--help` text verbatim, FILES, ENVIRONMENT and SEE ALSO. The date is
# SOURCE_DATE_EPOCH's (else today), so a rebuild gives the same page.
set -euo pipefail

bin=${1:?usage: manpage.sh BINARY VERSION}
version=${2:?usage: manpage.sh BINARY VERSION}
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# roff escapes for verbatim text: backslashes first, then a leading . or '
# (a control line) is protected with \&.
esc() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# The command paths, in the order --help lists them: "run", "queue stats", …
# kong prints each as two-space-indented words followed by flags/arguments.
commands() {
	"$bin" --help | awk '
		/^Commands:/ { in_cmds = 1; next }
		in_cmds && /^  [a-z]/ {
			path = ""
			for (i = 1; i <= NF; i++) {
				if ($i !~ /^[a-z][a-z-]*$/) break
				path = path (path == "" ? "" : " ") $i
			}
			print path
		}
		in_cmds && /^[^ ]/ && !/^Commands:/ { in_cmds = 0 }'
}

help_of() { # command path words
	# shellcheck disable=SC2068 # the path is split into words on purpose
	"$bin" $@ --help
}

cat <<EOF
.TH TILLSCAN 1 "$date" "tillscan $version" "User Commands"
.SH NAME
tillscan \\- loyalty-card scans at the till, applied once and never lost
.SH SYNOPSIS
.B tillscan
.I command
.RI [ flags ]
.SH DESCRIPTION
tillscan reads a USB-HID or serial barcode scanner at a shop till, finds the
loyalty card number in each scan, saves the scan to a durable queue on disk
and applies the configured action to the card through the Highlight Cards
API, exactly once, through network outages, crashes and power cuts.
It normally runs as the systemd service
.BR tillscan.service ;
the other commands set up scanners, check the configuration, and inspect or
fix the queue.
.PP
Try it without an API key or a scanner:
.B tillscan demo
.SH COMMANDS
EOF

commands | while read -r path; do
	[[ -n $path ]] || continue
	echo ".SS tillscan $path"
	echo ".nf"
	# Drop the usage's leading "Usage: " (the subsection names the command)
	# and the global -h line, which every command repeats.
	# shellcheck disable=SC2086
	help_of $path | grep -Ev -- '^ +-h, --help +Show context-sensitive help\.$' | esc
	echo ".fi"
done

cat <<'EOF'
.SH FILES
.TP
.I /etc/tillscan/tillscan.yaml
The configuration: till id, scanners, rules per card type, API settings.
Check it with
.BR "tillscan check-config" .
.TP
.I /etc/tillscan/api-key
The Highlight Cards API key, alone in the file, mode 0600, owned by root; the
service reads its private copy through systemd's LoadCredential.
.TP
.I /var/lib/tillscan/queue.db
The queue of saved scans. Never delete it while scans are waiting: see
.BR "tillscan queue stats" .
.TP
.I /var/lib/tillscan/api-handover.json
Left by a clean stop: when the last API requests went out, so that the next
start need not wait a second before its first request. Read and removed at
start; safe to delete.
.SH ENVIRONMENT
.TP
.B TILLSCAN_CONFIG
The configuration file, instead of /etc/tillscan/tillscan.yaml.
.TP
.B TILLSCAN_API_KEY
The API key, instead of the key file (for tests; the service uses the
credential).
.SH EXIT STATUS
0 on success; 1 on an error, and from
.B tillscan status
when something needs attention.
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
/usr/share/doc/tillscan/README.md
EOF
