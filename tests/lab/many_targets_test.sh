#!/usr/bin/env bash
# Acceptance: 200 lab targets in one --targets-file run are traced concurrently:
# the run takes about one timeout plus send time (plus the one re-probe round of
# the filtered ones), not the sum of their traces. Half are open, half filtered
# behind r2. ICMP rate limiting is off in this lab (see rate_limit_test.sh for
# the kernel defaults). Usage: many_targets_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"

targets=$(mktemp)
trap 'rm -f "$targets"; lab_down "$LAB" >/dev/null 2>&1 || true' EXIT
for i in $(seq 1 100); do echo "198.18.0.$i:80"; done >"$targets"
for i in $(seq 101 200); do echo "198.18.0.$i:8443"; done >>"$targets"

start=$(date +%s.%N)
out=$(lab_portpath trace --json --rate 20000 --targets-file "$targets" || true)
# KEEP_OUT=FILE keeps the JSON for a look at a failure.
[[ -n ${KEEP_OUT:-} ]] && echo "$out" >"$KEEP_OUT"
wall=$(echo "$(date +%s.%N) - $start" | bc)

check "results" 200 "$(jq -s length <<<"$out")"
check "open ones: open at hop 7" 100 "$(jq -s '[.[] | select(.port == 80 and .outcome == "open" and .last_responding_hop.ttl == 7)] | length' <<<"$out")"
check "filtered ones: blocked at hop 2 (10.0.1.2)" 100 \
  "$(jq -s '[.[] | select(.port == 8443 and .outcome == "filtered" and .blocked_hop.address == "10.0.1.2" and .blocked_hop.ttl == 2)] | length' <<<"$out")"
sum=$(jq -s 'map(.duration_ms) | add / 1000' <<<"$out")
probes=$(jq -s 'map(.probes_sent) | add' <<<"$out")
echo "  wall time ${wall}s for 200 targets; sum of per-trace durations ${sum}s; $probes probes"
# Concurrency, not speed: the whole run must be far shorter than its traces
# one after another (a ratio, so it holds on a slow machine too).
check "run is concurrent (wall < sum of traces / 20)" yes "$(echo "$wall < $sum / 20" | bc | sed 's/1/yes/;s/0/no/')"
lab_test_end
