#!/usr/bin/env bash
# Acceptance for the diagnosis beyond traceroute, in the chain lab, IPv4 and
# IPv6: a host that answers ping while its port is dropped (icmp_reachable,
# divergence hop), a router that resets on the destination's behalf (reported
# as reset_by_middlebox at its own hop, not as "closed"), and AS annotation of
# the blocked hop from a small database in both formats (ip-location-db CSV and
# MaxMind DB), in `portpath trace` and in `portpath serve`'s metrics.
# Usage: diagnosis_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"
FIX="$(cd "$(dirname "$0")/../fixtures/asn/lab" && pwd)"

for fam in 4 6; do
  if [[ $fam == 4 ]]; then dest=$LAB_TARGET4; hop2=${LAB_HOP4[2]}; hop5=${LAB_HOP4[5]};
  else dest="[$LAB_TARGET6]"; hop2=${LAB_HOP6[2]}; hop5=${LAB_HOP6[5]}; fi
  out=$(lab_portpath trace --json --asn-db "$FIX/asn-ipv4.csv,$FIX/asn-ipv6.csv" \
    "$dest:8443" "$dest:7000" "$dest:9443" "$dest:81" || true)
  r() { jq -c --arg t "$1" 'select(.target == $t)' <<<"$out"; }
  echo "IPv$fam host pingable, port dropped ($dest:8443):"
  check "icmp_reachable" true "$(r "$dest:8443" | jq -r .icmp_reachable)"
  check "divergence_hop (TCP stops after hop 2, ping goes on)" 2 "$(r "$dest:8443" | jq -r .divergence_hop)"
  check "blocked hop" "2 $hop2" "$(r "$dest:8443" | jq -r '"\(.blocked_hop.ttl) \(.blocked_hop.address)"')"
  check "verdict says the host answers ping" yes "$(r "$dest:8443" | jq -r .verdict | grep -q 'The host answers ping' && echo yes || echo no)"
  echo "IPv$fam reset injected by r4 ($dest:7000):"
  check "outcome (not closed)" reset_by_middlebox "$(r "$dest:7000" | jq -r .outcome)"
  check "destination_reached" false "$(r "$dest:7000" | jq -r .destination_reached)"
  check "blocked hop: the middlebox's own hop (r4, silent, address unknown)" "4 null" \
    "$(r "$dest:7000" | jq -r '"\(.blocked_hop.ttl) \(.blocked_hop.address)"')"
  echo "IPv$fam a real RST stays closed ($dest:81):"
  check "outcome" closed "$(r "$dest:81" | jq -r .outcome)"
  echo "IPv$fam AS of the blocked hop, CSV ($dest:9443):"
  check "blocked hop AS" "$hop5 64500 Example Transit, Inc." \
    "$(r "$dest:9443" | jq -r '"\(.blocked_hop.address) \(.blocked_hop.asn) \(.blocked_hop.as_org)"')"
  check "every answering public hop has an AS" 0 \
    "$(r "$dest:9443" | jq '[.hops[] | select(.address != null and .asn == null and (.address | test("^(10\\.|fd)") | not))] | length')"
  check "verdict names the AS" yes \
    "$(r "$dest:9443" | jq -r .verdict | grep -q 'AS64500 Example Transit, Inc., so contact that provider' && echo yes || echo no)"
  mm=$(lab_portpath trace --json --no-ping --asn-db "$FIX/lab-asn.mmdb" "$dest:9443" || true)
  echo "IPv$fam AS of the blocked hop, MaxMind DB:"
  check "blocked hop AS" "$hop5 64500 Example Transit, Inc." \
    "$(jq -r '"\(.blocked_hop.address) \(.blocked_hop.asn) \(.blocked_hop.as_org)"' <<<"$mm")"
  check "--no-ping leaves icmp_reachable null" null "$(jq -r .icmp_reachable <<<"$mm")"
done

echo "a bad database is refused with its file and line:"
bad=$(mktemp)
printf '198.51.100.0,198.51.100.255,64500,ok\n198.51.100.9,198.51.100.1,1,backwards\n' >"$bad"
set +e
msg=$(lab_portpath trace --asn-db "$bad" "$LAB_TARGET4:80" 2>&1)
rc=$?
set -e
rm -f "$bad"
check "exit status" 2 "$rc"
check "message names FILE:2" yes "$(grep -q "$bad:2:" <<<"$msg" && echo yes || echo "no: $msg")"

echo "portpath serve exports the same:"
work=$(mktemp -d)
serve_pid=""
trap 'kill $serve_pid 2>/dev/null; wait $serve_pid 2>/dev/null; lab_down "$LAB" >/dev/null 2>&1; rm -rf "$work"' EXIT
cat >"$work/config.yaml" <<EOF2
defaults: {interval: 5s, timeout: 1s}
asn_db: $FIX/lab-asn.mmdb
targets:
  - host: $LAB_TARGET4
    ports: [8443, 7000, 9443]
EOF2
lab_start_serve "$work/config.yaml" "$work/serve.log"
serve_pid=$SERVE_PID port=$SERVE_PORT
for _ in $(seq 1 150); do
  ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break
  sleep 0.2
done
ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$port/metrics" >"$work/scrape.txt"
check "promtool check metrics" "0:" "$(promtool check metrics <"$work/scrape.txt" 2>&1; echo "$?:")"
check "portpath_icmp_reachable for :8443" 1 \
  "$(grep -c '^portpath_icmp_reachable{target="192.0.2.10:8443".*} 1$' "$work/scrape.txt")"
check "portpath_divergence_hop_ttl for :8443" 1 \
  "$(grep -c '^portpath_divergence_hop_ttl{target="192.0.2.10:8443".*} 2$' "$work/scrape.txt")"
check "reset_by_middlebox outcome for :7000" 1 \
  "$(grep -c '^portpath_outcome{target="192.0.2.10:7000".*outcome="reset_by_middlebox"} 1$' "$work/scrape.txt")"
check "blocked hop metric carries asn and as_org" 1 \
  "$(grep -c '^portpath_blocked_hop_info{target="192.0.2.10:9443".*hop_address="198.51.100.18".*asn="64500",as_org="Example Transit, Inc."} 1$' "$work/scrape.txt")"
lab_test_end
