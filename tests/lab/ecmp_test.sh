#!/usr/bin/env bash
# Acceptance for several paths: in the ECMP lab (r1 load-balances per flow over
# two branches, ra and rb, with an L4 hash; rb drops port 8443), `--flows 8`
# finds both paths, reports the one blocked at rb and the one that gets
# through, and keeps each flow on its own branch. Then `portpath serve` counts
# a path change when r1's route is changed to one branch and then the other.
# Usage: ecmp_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1" off ecmp

for fam in 4 6; do
  if [[ $fam == 4 ]]; then dest=$LAB_ECMP_TARGET4; a=$LAB_ECMP_HOP2A_4; b=$LAB_ECMP_HOP2B_4;
  else dest="[$LAB_ECMP_TARGET6]"; a=$LAB_ECMP_HOP2A_6; b=$LAB_ECMP_HOP2B_6; fi
  out=$(lab_portpath trace --json -n --no-ping --flows 8 "$dest:8443" || true)
  echo "IPv$fam, 8 flows to $dest:8443:"
  check "distinct paths" 2 "$(jq '.paths | length' <<<"$out")"
  check "the path through rb is filtered at rb (hop 2)" "filtered 2 $b" \
    "$(jq -r --arg b "$b" '.paths[] | select(.hops[1].address == $b) | "\(.outcome) \(.blocked_hop.ttl) \(.blocked_hop.address)"' <<<"$out")"
  check "the path through ra reaches the host (closed: nothing listens)" closed \
    "$(jq -r --arg a "$a" '.paths[] | select(.hops[1].address == $a) | .outcome' <<<"$out")"
  check "all 8 flows accounted for, each on one path" 8 "$(jq '[.paths[].flows[]] | unique | length' <<<"$out")"
  check "verdict: 1 of 2 paths blocked" yes \
    "$(jq -r .verdict <<<"$out" | grep -q '2 distinct paths, 1 blocked' && echo yes || echo no)"
done

echo "path changes counted by portpath serve:"
work=$(mktemp -d)
serve_pid=""
trap 'kill $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null; lab_down "$LAB" >/dev/null 2>&1; rm -rf "$work"' EXIT
cat >"$work/config.yaml" <<EOF2
# hop_metrics: all, for portpath_path_last_change_timestamp_seconds (a detail series);
# full_round_every: 1, so that each round traces the whole path and sees the branch
# change of the same length at once (by default one round in 4 does).
defaults: {interval: 2s, timeout: 500ms, jitter: 0%, hop_metrics: all, full_round_every: 1}
targets:
  - host: $LAB_ECMP_TARGET4
    port: 80
EOF2
lab_start_serve "$work/config.yaml" "$work/serve.log"
serve_pid=$SERVE_PID port=$SERVE_PORT
metric() { ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 ~ "^"m"[{]" {print $2}'; }
wait_metric() {  # name, value, seconds
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    [[ "$(metric "$1")" == "$2" ]] && return 0
    sleep 0.3
  done
  return 1
}
check "first round traced" yes "$(wait_metric portpath_port_open 1 15 && echo yes || echo no)"
check "no path change yet" 0 "$(metric portpath_path_changes_total)"
ip -n "$LAB-r1" route replace 192.0.2.0/24 via "$LAB_ECMP_HOP2A_4" dev brA
sleep 5
ip -n "$LAB-r1" route replace 192.0.2.0/24 via "$LAB_ECMP_HOP2B_4" dev brB
check "a change of branch is counted" yes "$(wait_metric portpath_path_changes_total 1 15 && echo yes || metric portpath_path_changes_total)"
check "... with its time" yes "$([[ -n "$(metric portpath_path_last_change_timestamp_seconds)" ]] && echo yes || echo no)"
check "... and logged" yes "$(grep -q 'path changed' "$work/serve.log" && echo yes || echo no)"
lab_test_end
