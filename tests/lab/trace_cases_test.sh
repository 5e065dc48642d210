#!/usr/bin/env bash
# Acceptance: `portpath trace --json` gives the right outcome, last responding hop
# and blocked hop for every case of the chain lab, over IPv4 and IPv6, and never
# reports a hop that did not answer its own probe.
# Usage: trace_cases_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"

# case | target | outcome | reached | last ttl | last address | blocked ttl | blocked address | class
# (addresses as IPv4|IPv6; "-" for null)
run_family() {
  local fam=$1 idx
  if [[ $fam == 4 ]]; then idx=0; else idx=1; fi
  pick() { local IFS='|'; read -r -a parts <<<"$1"; echo "${parts[$idx]}"; }
  local dest hu nu
  dest=$(pick "$LAB_TARGET4|[$LAB_TARGET6]")
  hu=$(pick "$LAB_HOSTUNREACH4|[$LAB_HOSTUNREACH6]")
  nu=$(pick "$LAB_NETUNREACH4|[$LAB_NETUNREACH6]")
  local dest_addr; dest_addr=$(pick "$LAB_TARGET4|$LAB_TARGET6")
  local -a hop=("${LAB_HOP4[@]}"); [[ $fam == 6 ]] && hop=("${LAB_HOP6[@]}")
  local intranet_class; intranet_class=$(pick "private|unique-local")
  local cases=(
    "open|$dest:80|open|true|7|$dest_addr|-|-|-"
    "closed|$dest:81|closed|true|7|$dest_addr|-|-|-"
    "filtered behind an intranet hop|$dest:8443|filtered|false|2|${hop[2]}|2|${hop[2]}|$intranet_class"
    "silent routers, then a block|$dest:9443|filtered|false|5|${hop[5]}|5|${hop[5]}|documentation"
    "admin prohibited|$dest:135|prohibited|false|5|${hop[5]}|5|${hop[5]}|documentation"
    "host unreachable|$hu:80|unreachable|false|6|${hop[6]}|6|${hop[6]}|documentation"
    "no route|$nu:80|unreachable|false|6|${hop[6]}|6|${hop[6]}|documentation"
  )
  local targets=()
  for c in "${cases[@]}"; do IFS='|' read -r _ t _ <<<"$c"; targets+=("$t"); done
  # All cases in one run: they are traced concurrently, as a user would.
  local out; out=$(lab_portpath trace --json "${targets[@]}" || true)
  for c in "${cases[@]}"; do
    IFS='|' read -r name t outcome reached lttl laddr bttl baddr bclass <<<"$c"
    local r; r=$(jq -c --arg t "$t" 'select(.target == $t)' <<<"$out")
    echo "IPv$fam $name ($t):"
    check "outcome" "$outcome" "$(jq -r .outcome <<<"$r")"
    check "destination_reached" "$reached" "$(jq -r .destination_reached <<<"$r")"
    check "last_responding_hop" "$lttl $laddr" "$(jq -r '"\(.last_responding_hop.ttl // "-") \(.last_responding_hop.address // "-")"' <<<"$r")"
    check "blocked_hop" "$bttl $baddr $bclass" \
      "$(jq -r '"\(.blocked_hop.ttl // "-") \(.blocked_hop.address // "-") \(.blocked_hop.address_class // "-")"' <<<"$r")"
    # Every address shown at TTL n must be the router that really sits at n (or,
    # at the end, the destination / the router that sent the unreachable): a hop
    # credited with a reply to someone else's probe would show up here.
    local wrong; wrong=$(jq -r --argjson hops "$(printf '%s\n' "${hop[@]:1}" | jq -R . | jq -sc .)" \
      --arg dest "$dest_addr" --arg blocked "$baddr" '
      .hops[] | select(.address != null) |
      select(.address != ($hops[.ttl - 1] // "none") and .address != $dest and .address != $blocked) |
      "ttl \(.ttl): \(.address)"' <<<"$r")
    check "no hop credited with a reply it did not send" "" "$wrong"
    check "silent routers stay silent (TTL 3, 4)" "null null" "$(jq -r '[.hops[] | select(.ttl == 3 or .ttl == 4) | .address] | map(tostring) | join(" ")' <<<"$r")"
  done
}

run_family 4
run_family 6
lab_test_end
