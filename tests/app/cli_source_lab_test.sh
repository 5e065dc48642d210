#!/usr/bin/env bash
# Lab acceptance for what the command line refuses (issue 8): -s must be an
# address of this host, and a refused command sends nothing at all (no spoofed
# SYN leaves the client); a local -s still traces, over IPv4 and IPv6.
# Usage: cli_source_lab_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../lab/test_lib.sh"
lab_test_begin "$1"

# Counts every TCP SYN the client sends (raw sockets pass the OUTPUT hook too).
ip netns exec "$LAB-c" iptables -I OUTPUT -p tcp --syn -j ACCEPT
ip netns exec "$LAB-c" ip6tables -I OUTPUT -p tcp --syn -j ACCEPT
syns_sent() {
  local v4 v6
  v4=$(ip netns exec "$LAB-c" iptables -L OUTPUT -v -x -n | awk 'NR==3 {print $1}')
  v6=$(ip netns exec "$LAB-c" ip6tables -L OUTPUT -v -x -n | awk 'NR==3 {print $1}')
  echo $((v4 + v6))
}

refused() {  # NAME EXPECTED_TEXT ARGS...: exit 2, the text, and no SYN sent
  local name=$1 text=$2 before msg rc
  shift 2
  before=$(syns_sent)
  set +e
  msg=$(lab_portpath trace "$@" 2>&1)
  rc=$?
  set -e
  echo "  message: $msg"
  check "$name: exit status" 2 "$rc"
  check "$name: says why" yes "$(grep -qF -- "$text" <<<"$msg" && echo yes || echo no)"
  check "$name: no SYN sent" 0 "$(($(syns_sent) - before))"
}

refused "foreign -s" "--source: 198.51.100.77 is not an address of this host" \
  -n -s 198.51.100.77 "$LAB_TARGET4:$LAB_PORT_OPEN"
refused "foreign -s (IPv6)" "is not an address of this host" \
  -n -s 2001:db8:ff::77 "[$LAB_TARGET6]:$LAB_PORT_OPEN"
refused "a router's address as -s" "--source: ${LAB_HOP4[1]} is not an address of this host" \
  -n --source="${LAB_HOP4[1]}" "$LAB_TARGET4:$LAB_PORT_OPEN"
refused "all-numeric host" "'3221225994' is not a valid IPv4 address" -n 3221225994:80

# A source address of the client itself traces as before.
set +e
out4=$(lab_portpath trace -n --json -s "$LAB_CLIENT4" "$LAB_TARGET4:$LAB_PORT_OPEN")
rc4=$?
out6=$(lab_portpath trace -n --json --source="$LAB_CLIENT6" "[$LAB_TARGET6]:$LAB_PORT_OPEN")
rc6=$?
set -e
check "local -s: exit status" 0 "$rc4"
check "local -s: open" open "$(jq -r .outcome <<<"$out4")"
check "local -s (IPv6, [..]:port): exit status" 0 "$rc6"
check "local -s (IPv6, [..]:port): open" open "$(jq -r .outcome <<<"$out6")"
check "local -s: SYNs did go out" yes "$( (($(syns_sent) > 0)) && echo yes || echo no)"
lab_test_end
