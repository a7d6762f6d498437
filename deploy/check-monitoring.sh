#!/usr/bin/env bash
# Checks the monitoring files a chain's IT deploys beside the tills:
#
#   deploy/check-monitoring.sh
#
# - deploy/prometheus/tillscan-alerts.yml: promtool check rules, and the
#   alert unit tests in tillscan-alerts.test.yml (promtool test rules)
# promtool comes from Debian's prometheus package (.ci/run installs it).
# The Go tests of package deploy check the dashboard's structure and that every
# metric the rules and the dashboard query is documented in docs/metrics.md.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v promtool >/dev/null || {
	echo "check-monitoring: promtool not found (apt-get install prometheus)" >&2
	exit 1
}
promtool check rules deploy/prometheus/tillscan-alerts.yml
(cd deploy/prometheus && promtool test rules tillscan-alerts.test.yml)

