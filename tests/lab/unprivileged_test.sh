#!/usr/bin/env bash
# Acceptance for the unprivileged mode: run as an ordinary user with no
# capability at all (what Kubernetes' restricted Pod Security Standard leaves),
# portpath falls back by itself to TCP connect() probes with a TTL per probe and
# the IP_RECVERR error queue, says so (a notice on stderr, a "probe mode" line,
# "probe_mode" in --json, serve's log line and portpath_probe_mode metric), and
# reaches the same verdicts as raw mode (run as root on the same lab) for every
# case it can see: open, closed, filtered after hop 2 and hop 5, !X at hop 5,
# host and network unreachable, over IPv4 and IPv6. Without ping sockets
# (net.ipv4.ping_group_range) it runs without ICMP echoes: right or unconfirmed,
# never a wrong hop. Usage: unprivileged_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"

work=$(mktemp -d)
chmod 755 "$work"
serve_pid=""
cleanup() {
  if [[ -n $serve_pid ]]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  lab_down "$LAB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# portpath as an ordinary user (nobody) with every capability gone; exec keeps
# the PID, so lab_start_serve's SERVE_PID is portpath itself.
cat >"$work/portpath-unprivileged" <<EOF
#!/bin/sh
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \\
  "$PORTPATH" "\$@"
EOF
chmod 755 "$work/portpath-unprivileged"
unprivileged() { PORTPATH="$work/portpath-unprivileged" lab_portpath "$@"; }
ping_sockets_for() { ip netns exec "$LAB-c" sysctl -q -w net.ipv4.ping_group_range="$1"; }
# r6's IPv4 "no route" errors are rate limited per source even with the lab's
# limits lifted (ip_error: a burst of 5, then 1/s); each run gets a full bucket.
let_routers_refill() { sleep 6; }

yesno() { if "$@" >/dev/null 2>&1; then echo yes; else echo no; fi; }

# case | target | outcome | last hop | blocked hop (ttl address; "-" for none)
cases_for() {
  local fam=$1 d hu nu
  local -a hop=("${LAB_HOP4[@]}")
  d=$LAB_TARGET4 hu=$LAB_HOSTUNREACH4 nu=$LAB_NETUNREACH4
  if [[ $fam == 6 ]]; then
    hop=("${LAB_HOP6[@]}")
    d="[$LAB_TARGET6]" hu="[$LAB_HOSTUNREACH6]" nu="[$LAB_NETUNREACH6]"
  fi
  local da=${d//[\[\]]/}
  printf '%s\n' \
    "open|$d:80|open|7 $da|- -" \
    "closed|$d:81|closed|7 $da|- -" \
    "filtered after hop 2|$d:8443|filtered|2 ${hop[2]}|2 ${hop[2]}" \
    "filtered after hop 5|$d:9443|filtered|5 ${hop[5]}|5 ${hop[5]}" \
    "!X at hop 5|$d:135|prohibited|5 ${hop[5]}|5 ${hop[5]}" \
    "host unreachable|$hu:80|unreachable|6 ${hop[6]}|6 ${hop[6]}" \
    "no route|$nu:80|unreachable|6 ${hop[6]}|6 ${hop[6]}"
}
mapfile -t cases < <(cases_for 4; cases_for 6)
targets=()
for c in "${cases[@]}"; do IFS='|' read -r _ t _ <<<"$c"; targets+=("$t"); done

pick() { jq -c --arg t "$2" 'select(.target == $t)' <<<"$1"; }
hop_of() { jq -r ".$2 | \"\(.ttl // \"-\") \(.address // \"-\")\"" <<<"$1"; }
# What a verdict rests on, for comparing the two modes.
verdict_of() {
  jq -r '"\(.outcome) reached=\(.destination_reached) last=\(.last_responding_hop.ttl // "-")/\(.last_responding_hop.address // "-") blocked=\(.blocked_hop.ttl // "-")/\(.blocked_hop.address // "-") confirmed=\(.blocked_hop_confirmed) marker=\(.icmp.marker // "-") ping=\(.icmp_reachable)"' <<<"$1"
}
# Every address shown at TTL n must be the router at n, the destination or the
# router that sent the unreachable: a reply credited to the wrong probe shows here.
misplaced() {
  local r=$1 fam=$2 dest blocked
  local -a hop=("${LAB_HOP4[@]}")
  [[ $fam == 6 ]] && hop=("${LAB_HOP6[@]}")
  dest=$(jq -r .address <<<"$r")
  blocked=$(jq -r '.blocked_hop.address // "none"' <<<"$r")
  jq -r --argjson hops "$(printf '%s\n' "${hop[@]:1}" | jq -R . | jq -sc .)" \
    --arg dest "$dest" --arg blocked "$blocked" '
    .hops[] | select(.address != null) |
    select(.address != ($hops[.ttl - 1] // "none") and .address != $dest and .address != $blocked) |
    "ttl \(.ttl): \(.address)"' <<<"$r"
}

echo "raw mode (root):"
raw=$(lab_portpath trace -n --json "${targets[@]}" || true)
check "raw results say probe_mode raw" "${#targets[@]}" "$(jq -s '[.[] | select(.probe_mode == "raw")] | length' <<<"$raw")"

echo "connect mode (uid 65534, no capabilities, ping sockets allowed for its group):"
let_routers_refill
ping_sockets_for "65534 65534"
set +e
conn=$(unprivileged trace -n --json "${targets[@]}" 2>"$work/stderr")
rc=$?
set -e
echo "  notice: $(cat "$work/stderr")"
check "exit status (some ports not open; not 3 = cannot probe)" 1 "$rc"
check "stderr says raw sockets were refused and connect mode runs" yes \
  "$(yesno grep -q 'raw sockets refused (no CAP_NET_RAW): probing in connect mode' "$work/stderr")"
check "... with ICMP echo through ping sockets" yes "$(yesno grep -q 'ICMP echo through ping sockets' "$work/stderr")"
check "every result says probe_mode connect" "${#targets[@]}" \
  "$(jq -s '[.[] | select(.probe_mode == "connect")] | length' <<<"$conn")"
for c in "${cases[@]}"; do
  IFS='|' read -r name t outcome last blocked <<<"$c"
  fam=4
  [[ $t == \[* ]] && fam=6
  r=$(pick "$conn" "$t")
  rr=$(pick "$raw" "$t")
  echo "IPv$fam $name ($t):"
  check "outcome" "$outcome" "$(jq -r .outcome <<<"$r")"
  check "last responding hop" "$last" "$(hop_of "$r" last_responding_hop)"
  check "blocked hop" "$blocked" "$(hop_of "$r" blocked_hop)"
  check "the same verdict as raw mode" "$(verdict_of "$rr")" "$(verdict_of "$r")"
  check "no hop credited with a reply it did not send" "" "$(misplaced "$r" "$fam")"
done

echo "connect mode without ping sockets (net.ipv4.ping_group_range excludes the group):"
let_routers_refill
ping_sockets_for "1 0"
noping=$(unprivileged trace -n --json "${targets[@]}" 2>"$work/stderr" || true)
check "stderr says there are no ICMP echo probes" yes \
  "$(yesno grep -q 'no ICMP echo probes (ping sockets not allowed' "$work/stderr")"
check "no ping comparison (icmp_reachable null) anywhere" "${#targets[@]}" \
  "$(jq -s '[.[] | select(.icmp_reachable == null and .probe_mode == "connect")] | length' <<<"$noping")"
for c in "${cases[@]}"; do
  IFS='|' read -r name t outcome last blocked <<<"$c"
  r=$(pick "$noping" "$t")
  got="$(jq -r .outcome <<<"$r") $(hop_of "$r" last_responding_hop) blocked $(hop_of "$r" blocked_hop)"
  if [[ $outcome == filtered && $(jq -r .blocked_hop_confirmed <<<"$r") == false ]]; then
    # Unsure is allowed where only an echo control could tell a filter from a
    # policer; a hop is then never named.
    doubt=$(jq -r '.unconfirmed_hop_ttl // 0' <<<"$r")
    check "$t: unconfirmed, naming no hop" "filtered $last blocked - - doubt after hop ${last%% *}" \
      "$got doubt $([[ $doubt -gt ${last%% *} ]] && echo "after hop ${last%% *}" || echo "at $doubt")"
  else
    check "$t: right" "$outcome $last blocked $blocked" "$got"
  fi
done

echo "human output:"
ping_sockets_for "65534 65534"
text=$(unprivileged trace -n "$LAB_TARGET4:9443" 2>/dev/null || true)
check "a line says the probe mode" yes "$(yesno grep -q '^probe mode: connect' <<<"$text")"
check "the verdict names hop 5" yes "$(yesno grep -q "^verdict: .*after hop 5 (${LAB_HOP4[5]}" <<<"$text")"

echo "forced raw mode without the capability still refuses (PORTPATH_PROBE_MODE=raw):"
set +e
msg=$(PORTPATH_PROBE_MODE=raw unprivileged trace "$LAB_TARGET4:80" 2>&1)
rc=$?
set -e
check "exit status 3" 3 "$rc"
check "names the capability" yes "$(yesno grep -q 'CAP_NET_RAW' <<<"$msg")"

echo "portpath serve (uid 65534, no capabilities):"
cat >"$work/config.yaml" <<EOF
defaults:
  interval: 2s
  timeout: 1s
targets:
  - host: $LAB_TARGET4
    ports: [80, 9443]
  - host: $LAB_TARGET6
    port: 135
EOF
chmod 644 "$work/config.yaml"
PORTPATH="$work/portpath-unprivileged" lab_start_serve "$work/config.yaml" "$work/serve.log"
serve_pid=$SERVE_PID port=$SERVE_PORT
scrape() { ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$port/metrics"; }
# Ready once every target has a result (rounds are spread over the interval).
ready() { ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$port/-/ready"; }
for _ in $(seq 1 60); do ready >/dev/null 2>&1 && break; sleep 0.5; done
scrape >"$work/scrape.txt" || true
check "log line: probe mode connect" yes "$(yesno grep -q 'probe mode: connect' "$work/serve.log")"
check "metric portpath_probe_mode{mode=\"connect\"} 1" 1 \
  "$(grep -c '^portpath_probe_mode{mode="connect"} 1' "$work/scrape.txt" || true)"
check "metric portpath_probe_mode{mode=\"raw\"} 0" 1 \
  "$(grep -c '^portpath_probe_mode{mode="raw"} 0' "$work/scrape.txt" || true)"
check "blocked hop of :9443 exported (hop 5)" 1 \
  "$(grep -c "^portpath_blocked_hop_info{.*target=\"$LAB_TARGET4:9443\".*ttl=\"5\",hop_address=\"${LAB_HOP4[5]}\"" "$work/scrape.txt" || true)"
check "open port exported" 1 "$(grep -c "^portpath_port_open{.*target=\"$LAB_TARGET4:80\".*} 1" "$work/scrape.txt" || true)"
check "!X over IPv6 exported" 1 \
  "$(grep -c "^portpath_outcome{.*target=\"\[$LAB_TARGET6\]:135\".*outcome=\"prohibited\"} 1" "$work/scrape.txt" || true)"
# One socket per probe: after several rounds the process holds no more than
# its fixed descriptors plus the probes in flight.
sleep 5
fds=$(find "/proc/$serve_pid/fd" -mindepth 1 | wc -l)
check "no probe socket leaks (open descriptors after rounds < 40)" yes "$([[ $fds -lt 40 ]] && echo yes || echo "no: $fds")"
kill "$serve_pid"
wait "$serve_pid" && rc=0 || rc=$?
serve_pid=""
check "serve stops cleanly" 0 "$rc"
lab_test_end
