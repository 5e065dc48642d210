#!/usr/bin/env bash
# Acceptance: routers keep the kernel's default ICMP rate limits (Linux: a burst
# of about 6 time-exceeded per source, then 1 per second). 16 targets behind the
# same routers, all filtered after hop 5: a hop that is silent only because it
# was policed must not turn into a wrong verdict (at most into "not confirmed").
# Usage: rate_limit_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1" default

args=()
for t in "${LAB_MANY4[@]}"; do args+=("$t:9443"); done
start=$(date +%s)
out=$(lab_portpath trace --json "${args[@]}" || true)
echo "  16 targets through policing routers took $(($(date +%s) - start)) s"
check "results" 16 "$(jq -s length <<<"$out")"
right=$(jq -s '[.[] | select(.outcome == "filtered" and .blocked_hop.ttl == 5 and .blocked_hop.address == "198.51.100.18")] | length' <<<"$out")
unsure=$(jq -s '[.[] | select(.outcome == "filtered" and .blocked_hop_confirmed == false and .blocked_hop == null)] | length' <<<"$out")
echo "  $right blocked at hop 5, $unsure reported as not confirmed (policed)"
# Never wrong, sometimes unsure: each result names hop 5 or names no hop.
check "every result right or unconfirmed, none blaming another hop" 16 "$((right + unsure))"
check "policing was real (some hop-5 answers went missing)" yes \
  "$(jq -rs 'if any(.[]; (.hops[] | select(.ttl == 5) | .rtt_ms | map(select(. == null)) | length) > 0) then "yes" else "no" end' <<<"$out")"
lab_test_end
