#!/usr/bin/env bash
# tests/lab/lab_selftest.sh - prove that the lab built by lab.sh behaves as documented,
# using only standard tools: ip, traceroute -T (Debian "traceroute"), bash's /dev/tcp,
# plus ping and tcpdump when they are installed (their checks are skipped otherwise).
# It does not use portpath itself.
#
# usage: tests/lab/lab_selftest.sh [LISTENER_BINARY]
#   LISTENER_BINARY (or $LAB_LISTEN_BIN): a built portpath-lab-listen. Without it the
#   script compiles tests/lab/lab_listen.cc with g++ into a temporary directory.
# Needs root. Exit status 0 only if every check passed. The lab (unique prefix) is
# always removed on exit, also on failure or Ctrl-C.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lab.sh source-path=SCRIPTDIR
source "$HERE/lab.sh"

# The checks below assume no ICMP rate limiting; the default mode is tested at the end.
export LAB_RATELIMIT=off
PREFIX="pplab$$x$((RANDOM % 1000))"
TMP="$(mktemp -d /tmp/portpath-lab-selftest.XXXXXX)"
CAPTURE_PID=""
FAILS=0
PASSES=0
SKIPS=0
FACTS=()

cleanup() {
  local rc=$?
  if [[ -n "$CAPTURE_PID" ]]; then kill "$CAPTURE_PID" 2>/dev/null || true; fi
  lab_down "$PREFIX" || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSES=$((PASSES + 1)); echo "PASS  $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL  $*"; }
skip() { SKIPS=$((SKIPS + 1)); echo "SKIP  $*"; }
fact() { FACTS+=("$*"); echo "FACT  $*"; }
quiet() { "$@" >/dev/null 2>&1; }
check() {  # check DESCRIPTION command... : pass if the command succeeds
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

[[ $EUID -eq 0 ]] || { echo "lab_selftest: must run as root" >&2; exit 1; }
for tool in ip iptables ip6tables traceroute ss; do
  command -v "$tool" >/dev/null || { echo "lab_selftest: '$tool' is not installed" >&2; exit 1; }
done
HAVE_PING=0; command -v ping >/dev/null && HAVE_PING=1
HAVE_TCPDUMP=0; command -v tcpdump >/dev/null && HAVE_TCPDUMP=1

LISTEN_BIN="${1:-${LAB_LISTEN_BIN:-}}"
if [[ -z "$LISTEN_BIN" ]]; then
  LISTEN_BIN="$TMP/portpath-lab-listen"
  g++ -std=c++17 -O2 -Wall -Wextra -o "$LISTEN_BIN" "$HERE/lab_listen.cc"
fi

# ---------------------------------------------------------------------------------
# Helpers around traceroute -T run in the client namespace.

# trace ARGS...: traceroute output without its header line, one line per TTL.
trace() { lab_exec "$PREFIX" c traceroute -n "$@" 2>&1 | tail -n +2 || true; }

# line_for OUTPUT TTL: the line for that TTL.
line_for() { awk -v t="$2" '$1 == t' <<<"$1"; }

# is_silent LINE: every probe timed out (or the line is missing entirely).
is_silent() { [[ -z "$1" ]] || awk '{for (i = 2; i <= NF; i++) if ($i != "*") exit 1}' <<<"$1"; }

# answered_only_by LINE ADDR [FLAG]: every answer comes from ADDR, each answer carries
# FLAG (e.g. !X) or, without FLAG, none carries a flag; at least one answer.
answered_only_by() {
  local line=$1 addr=$2 flag=${3:-}
  awk -v a="$addr" -v f="$flag" '
    { for (i = 2; i <= NF; i++) {
        if ($i == "*" || $i == "ms") continue
        if ($i ~ /^![A-Za-z0-9]*$/) { if (f == "" || $i != f) bad = 1; continue }
        if ($(i + 1) == "ms") { n++; if (f != "" && $(i + 2) != f) bad = 1; continue }
        if ($i != a) bad = 1
      } }
    END { exit (bad || n == 0) }' <<<"$line"
}

# first_rtt LINE: the first RTT (ms) on the line.
first_rtt() { awk '{for (i = 2; i < NF; i++) if ($(i + 1) == "ms") { print $i; exit }}' <<<"$1"; }

# tcp_connect FAMILY-ADDR PORT -> prints open | refused | timeout
tcp_connect() {
  local out rc=0
  out=$(lab_exec "$PREFIX" c timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>&1) || rc=$?
  if [[ $rc -eq 0 ]]; then echo open
  elif [[ "$out" == *"refused"* ]]; then echo refused
  else echo "timeout($rc)"; fi
}

# Packet capture in the client namespace (tcpdump), one hex line per packet.
capture_start() {
  local filter=$1
  : >"$TMP/cap.txt"
  : >"$TMP/cap.err"
  lab_exec "$PREFIX" c tcpdump -l -n -x -i right "$filter" >"$TMP/cap.txt" 2>"$TMP/cap.err" &
  CAPTURE_PID=$!
  local i
  for i in $(seq 1 50); do grep -q 'listening on' "$TMP/cap.err" && return 0; sleep 0.1; done
  echo "tcpdump did not start: $(cat "$TMP/cap.err")" >&2
  return 1
}
capture_stop() {  # prints one line per packet: hex bytes of the IP packet
  sleep 0.3
  kill "$CAPTURE_PID" 2>/dev/null || true
  wait "$CAPTURE_PID" 2>/dev/null || true
  CAPTURE_PID=""
  awk '/^[0-9]/ { if (hex != "") print hex; hex = ""; next }
       /0x[0-9a-f]+:/ { for (i = 2; i <= NF; i++) hex = hex $i }
       END { if (hex != "") print hex }' "$TMP/cap.txt"
}
byte() { echo $((16#${1:$(($2 * 2)):2})); }  # byte HEX OFFSET

# describe_packet HEX: "ICMP type/code quoted_ttl=N outer_ttl=M" or "TCP flags outer_ttl=M".
describe_packet() {
  local hex=$1 ver
  ver=$(($(byte "$hex" 0) >> 4))
  if [[ $ver -eq 4 ]]; then
    local ihl=$((($(byte "$hex" 0) & 15) * 4)) proto
    proto=$(byte "$hex" 9)
    if [[ $proto -eq 1 ]]; then
      echo "icmp type=$(byte "$hex" $ihl) code=$(byte "$hex" $((ihl + 1))) quoted_ttl=$(byte "$hex" $((ihl + 16))) outer_ttl=$(byte "$hex" 8)"
    else
      echo "tcp flags=0x$(printf %02x "$(byte "$hex" $((ihl + 13)))") outer_ttl=$(byte "$hex" 8)"
    fi
  else
    if [[ $(byte "$hex" 6) -eq 58 ]]; then
      echo "icmp6 type=$(byte "$hex" 40) code=$(byte "$hex" 41) quoted_ttl=$(byte "$hex" 55) outer_ttl=$(byte "$hex" 7)"
    else
      echo "tcp flags=0x$(printf %02x "$(byte "$hex" 53)") outer_ttl=$(byte "$hex" 7)"
    fi
  fi
}

# probe_each_ttl FAMILY_FLAG DST PORT TTL...: one single-probe traceroute per TTL while
# capturing ICMP errors and TCP resets; prints "TTL -> packet description" lines.
CAP_FILTER='(icmp and icmp[0] != 0 and icmp[0] != 8) or (ip and tcp[13] & 4 != 0) or (icmp6 and ip6[40] < 128) or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)'
probe_each_ttl() {
  local fam=$1 dst=$2 port=$3 t pkts i=0
  shift 3
  capture_start "$CAP_FILTER"
  for t in "$@"; do trace "$fam" -T -w 2 -q 1 -f "$t" -m "$t" -p "$port" "$dst" >/dev/null; done
  mapfile -t pkts < <(capture_stop)
  # One traceroute per TTL, one probe each: answers arrive in TTL order.
  for t in "$@"; do
    if [[ $i -lt ${#pkts[@]} ]]; then echo "TTL $t -> $(describe_packet "${pkts[i]}")"; else echo "TTL $t -> (nothing)"; fi
    i=$((i + 1))
  done
}

# ---------------------------------------------------------------------------------
echo "== building lab '$PREFIX'"
links_before=$(ip -o link | wc -l)
t0=$(date +%s.%N)
lab_up "$PREFIX"
t1=$(date +%s.%N)
echo "lab_up took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
check "no interface was added to the root namespace" test "$(ip -o link | wc -l)" -eq "$links_before"
check "lab_up is idempotent (second call succeeds)" lab_up "$PREFIX"
check "all 8 namespaces exist" quiet lab_status "$PREFIX"
check "listener starts (port 80)" lab_start_listener "$PREFIX" "$LISTEN_BIN" 80

# --- reachability with ping ---------------------------------------------------------
if [[ $HAVE_PING -eq 1 ]]; then
  for n in 1 2 3 4 5 6; do
    check "ping hop $n ${LAB_HOP4[n]}" quiet lab_exec "$PREFIX" c ping -n -q -c 1 -W 2 "${LAB_HOP4[n]}"
    check "ping hop $n ${LAB_HOP6[n]}" quiet lab_exec "$PREFIX" c ping -6 -n -q -c 1 -W 2 "${LAB_HOP6[n]}"
  done
  for a in "$LAB_TARGET4" "$LAB_TARGET6" "${LAB_MANY4[15]}" "${LAB_MANY6[15]}" 198.18.0.200 2001:db8:100::c8; do
    check "ping target $a" quiet lab_exec "$PREFIX" c ping -n -q -c 1 -W 2 "$a"
  done
else
  skip "ping is not installed"
fi

# --- open / closed ------------------------------------------------------------------
for a in "$LAB_TARGET4" "$LAB_TARGET6"; do
  r=$(tcp_connect "$a" 80); check "TCP $a:80 is open (got $r)" test "$r" = open
  r=$(tcp_connect "$a" 81); check "TCP $a:81 is closed (got $r)" test "$r" = refused
  r=$(tcp_connect "$a" 7000); check "TCP $a:7000 is reset by r4 (got $r)" test "$r" = refused
done
ok=$(lab_exec "$PREFIX" c bash -c '
  ok=0
  for a in "$@"; do timeout 2 bash -c "exec 3<>/dev/tcp/$a/80" 2>/dev/null && ok=$((ok + 1)); done
  echo $ok' _ "${LAB_MANY4[@]}" "${LAB_MANY6[@]}")
check "all 32 'many' targets are open on :80 ($ok/32)" test "$ok" -eq 32
ok=$(lab_exec "$PREFIX" c bash -c '
  ok=0
  for i in $(seq 1 200); do
    timeout 2 bash -c "exec 3<>/dev/tcp/198.18.0.$i/80" 2>/dev/null && ok=$((ok + 1))
    timeout 2 bash -c "exec 3<>/dev/tcp/2001:db8:100::$(printf %x "$i")/80" 2>/dev/null && ok=$((ok + 1))
  done
  echo $ok')
check "all 400 bulk targets (198.18.0.1-200, 2001:db8:100::1-c8) are open on :80 ($ok/400)" test "$ok" -eq 400

# --- hop addresses and silent routers (port 80, both families) ----------------------
for fam in 4 6; do
  if [[ $fam == 4 ]]; then ff=-4; dst=$LAB_TARGET4; hops=("${LAB_HOP4[@]}"); else ff=-6; dst=$LAB_TARGET6; hops=("${LAB_HOP6[@]}"); fi
  out=$(trace $ff -T -w 1 -q 2 -m 9 -p 80 "$dst")
  echo "$out" | sed 's/^/      /'
  for n in 1 2 5 6; do
    check "v$fam hop $n answers from ${hops[n]}" answered_only_by "$(line_for "$out" $n)" "${hops[n]}"
  done
  for n in 3 4; do
    check "v$fam hop $n is silent" is_silent "$(line_for "$out" $n)"
  done
  check "v$fam TTL 7 reaches $dst" answered_only_by "$(line_for "$out" 7)" "$dst"
  check "v$fam trace ends at TTL 7" test -z "$(line_for "$out" 8)"
done

# --- filtered: 8443 dropped at r2, 9443 dropped at r5 --------------------------------
for fam in 4 6; do
  if [[ $fam == 4 ]]; then ff=-4; dst=$LAB_TARGET4; hops=("${LAB_HOP4[@]}"); else ff=-6; dst=$LAB_TARGET6; hops=("${LAB_HOP6[@]}"); fi
  out=$(trace $ff -T -w 1 -q 2 -m 9 -p 8443 "$dst")
  for n in 1 2; do check "v$fam :8443 hop $n answers (${hops[n]})" answered_only_by "$(line_for "$out" $n)" "${hops[n]}"; done
  for n in 3 4 5 6 7 8 9; do check "v$fam :8443 TTL $n is silent" is_silent "$(line_for "$out" $n)"; done
  out=$(trace $ff -T -w 1 -q 2 -m 9 -p 9443 "$dst")
  for n in 1 2 5; do check "v$fam :9443 hop $n answers (${hops[n]})" answered_only_by "$(line_for "$out" $n)" "${hops[n]}"; done
  for n in 3 4 6 7 8 9; do check "v$fam :9443 TTL $n is silent" is_silent "$(line_for "$out" $n)"; done
done
fact "A router that DROPs in FORWARD still sends time-exceeded for probes expiring on it: 8443 is answered at TTL 2 by r2, 9443 at TTL 5 by r5; every larger TTL is silent."

# --- admin prohibited at r5 (port 135) ----------------------------------------------
for fam in 4 6; do
  if [[ $fam == 4 ]]; then ff=-4; dst=$LAB_TARGET4; hops=("${LAB_HOP4[@]}"); else ff=-6; dst=$LAB_TARGET6; hops=("${LAB_HOP6[@]}"); fi
  out=$(trace $ff -T -w 1 -q 2 -m 9 -p 135 "$dst")
  check "v$fam :135 TTL 5 gets plain time-exceeded from r5" answered_only_by "$(line_for "$out" 5)" "${hops[5]}"
  xttls=()
  for t in 5 6 7 8 9; do
    l=$(line_for "$(trace $ff -T -w 1 -q 1 -f $t -m $t -p 135 "$dst")" $t)
    [[ "$l" == *'!X'* ]] && xttls+=("$t")
  done
  check "v$fam :135 !X from ${hops[5]} at TTL 6" answered_only_by "$(line_for "$out" 6)" "${hops[5]}" '!X'
  check "v$fam :135 TTLs drawing !X are 6..9 (got ${xttls[*]})" test "${xttls[*]}" = "6 7 8 9"
  fact "v$fam port 135 (REJECT admin-prohibited in r5 FORWARD, r5 = hop 5): !X for TTL ${xttls[*]}; TTL 5 gets time-exceeded from r5 itself."
done

# --- host unreachable (r6 neighbour resolution fails) --------------------------------
for fam in 4 6; do
  if [[ $fam == 4 ]]; then ff=-4; dst=$LAB_HOSTUNREACH4; hops=("${LAB_HOP4[@]}"); else ff=-6; dst=$LAB_HOSTUNREACH6; hops=("${LAB_HOP6[@]}"); fi
  out=$(trace $ff -T -w 3 -q 1 -f 5 -m 9 -p 80 "$dst")
  echo "$out" | sed 's/^/      /'
  check "v$fam $dst TTL 6 gets time-exceeded from r6" answered_only_by "$(line_for "$out" 6)" "${hops[6]}"
  check "v$fam $dst TTL 7 gets !H from r6" answered_only_by "$(line_for "$out" 7)" "${hops[6]}" '!H'
  rtt=$(first_rtt "$(line_for "$out" 7)")
  check "v$fam $dst !H arrives within 1 s (${rtt:-?} ms)" awk -v r="${rtt:-99999}" 'BEGIN { exit !(r < 1000) }'
  fact "v$fam host unreachable ($dst): TTL 6 -> time-exceeded from r6, TTL>=7 -> !H from r6 after ${rtt:-?} ms (1 ARP/NS probe of 200 ms)."
done

# --- no route at r6 ------------------------------------------------------------------
# IPv4 "net unreachable" from a Linux router is rate limited by ip_error() with the
# global (root-namespace only) net.ipv4.route.error_cost/error_burst, independently of
# icmp_ratelimit: about 1 per second per source with a burst of 5. So: few probes,
# and one retry after a pause.
for fam in 4 6; do
  if [[ $fam == 4 ]]; then ff=-4; dst=$LAB_NETUNREACH4; hops=("${LAB_HOP4[@]}"); else ff=-6; dst=$LAB_NETUNREACH6; hops=("${LAB_HOP6[@]}"); fi
  sleep 1.2
  out=$(trace $ff -T -w 2 -q 1 -f 5 -m 9 -p 80 "$dst")
  if ! answered_only_by "$(line_for "$out" 6)" "${hops[6]}" '!N'; then
    sleep 2
    out=$(trace $ff -T -w 2 -q 1 -f 5 -m 9 -p 80 "$dst")
  fi
  echo "$out" | sed 's/^/      /'
  check "v$fam $dst TTL 5 gets time-exceeded from r5" answered_only_by "$(line_for "$out" 5)" "${hops[5]}"
  check "v$fam $dst TTL 6 already gets !N from r6 (route lookup precedes the TTL check)" \
    answered_only_by "$(line_for "$out" 6)" "${hops[6]}" '!N'
  check "v$fam $dst trace stops at TTL 6" test -z "$(line_for "$out" 7)"
done

# --- forged reset from r4 (port 7000) ------------------------------------------------
for fam in 4 6; do
  if [[ $fam == 4 ]]; then ff=-4; dst=$LAB_TARGET4; else ff=-6; dst=$LAB_TARGET6; fi
  out=$(trace $ff -T -w 1 -q 2 -m 9 -p 7000 "$dst")
  check "v$fam :7000 TTL 4 is silent (r4 is a silent router)" is_silent "$(line_for "$out" 4)"
  check "v$fam :7000 TTL 5 already gets the destination's (forged) RST" answered_only_by "$(line_for "$out" 5)" "$dst"
done

# --- ICMP details with tcpdump: codes, quoted TTL, outer TTL --------------------------
if [[ $HAVE_TCPDUMP -eq 1 ]]; then
  measure() {  # label fam dst port ttl...
    local label=$1 ff=$2 dst=$3 port=$4 res
    shift 4
    res=$(probe_each_ttl "$ff" "$dst" "$port" "$@")
    echo "      $label:"
    echo "$res" | sed 's/^/        /'
    fact "$label: $(echo "$res" | paste -sd ';' | sed 's/;/; /g')"
    MEASURED=$res
  }
  expect_line() {  # description pattern
    if grep -qE "$2" <<<"$MEASURED"; then pass "$1"; else fail "$1 (wanted /$2/)"; fi
  }
  sleep 1
  measure "v4 :135 via r5" -4 "$LAB_TARGET4" 135 5 6 7 8
  expect_line "v4 TTL 5 time-exceeded quotes TTL 1" 'TTL 5 -> icmp type=11 code=0 quoted_ttl=1 outer_ttl=60'
  expect_line "v4 TTL 6 !X (3/13) quotes TTL 1 (already decremented by r5)" 'TTL 6 -> icmp type=3 code=13 quoted_ttl=1 outer_ttl=60'
  expect_line "v4 TTL 8 !X quotes TTL 3" 'TTL 8 -> icmp type=3 code=13 quoted_ttl=3'
  measure "v6 :135 via r5" -6 "$LAB_TARGET6" 135 5 6 7 8
  expect_line "v6 TTL 5 time-exceeded quotes hlim 1" 'TTL 5 -> icmp6 type=3 code=0 quoted_ttl=1 outer_ttl=60'
  expect_line "v6 TTL 6 !X (1/1) quotes hlim 1" 'TTL 6 -> icmp6 type=1 code=1 quoted_ttl=1 outer_ttl=60'
  expect_line "v6 TTL 8 !X quotes hlim 3" 'TTL 8 -> icmp6 type=1 code=1 quoted_ttl=3'
  measure "v4 host unreachable" -4 "$LAB_HOSTUNREACH4" 80 6 7 8
  expect_line "v4 TTL 7 !H (3/1) quotes TTL 1" 'TTL 7 -> icmp type=3 code=1 quoted_ttl=1 outer_ttl=59'
  expect_line "v4 TTL 8 !H quotes TTL 2" 'TTL 8 -> icmp type=3 code=1 quoted_ttl=2'
  measure "v6 host unreachable" -6 "$LAB_HOSTUNREACH6" 80 6 7 8
  expect_line "v6 TTL 7 address unreachable (1/3) quotes hlim 1" 'TTL 7 -> icmp6 type=1 code=3 quoted_ttl=1 outer_ttl=59'
  sleep 3  # let the v4 ip_error token bucket refill
  measure "v4 net unreachable" -4 "$LAB_NETUNREACH4" 80 6 8
  expect_line "v4 TTL 6 !N (3/0) quotes TTL 1 (not decremented)" 'TTL 6 -> icmp type=3 code=0 quoted_ttl=1 outer_ttl=59'
  expect_line "v4 TTL 8 !N quotes TTL 3" 'TTL 8 -> icmp type=3 code=0 quoted_ttl=3'
  measure "v6 no route" -6 "$LAB_NETUNREACH6" 80 6 8
  expect_line "v6 TTL 6 no route (1/0) quotes hlim 1" 'TTL 6 -> icmp6 type=1 code=0 quoted_ttl=1 outer_ttl=59'
  expect_line "v6 TTL 8 no route quotes hlim 3" 'TTL 8 -> icmp6 type=1 code=0 quoted_ttl=3'
  measure "v4 :7000 forged RST from r4" -4 "$LAB_TARGET4" 7000 5
  expect_line "v4 forged RST arrives with TTL 61 (sent by hop 4)" 'TTL 5 -> tcp flags=0x14 outer_ttl=61'
  measure "v4 :81 real RST from s" -4 "$LAB_TARGET4" 81 7
  expect_line "v4 real RST arrives with TTL 58 (sent by hop 7)" 'TTL 7 -> tcp flags=0x14 outer_ttl=58'
  measure "v6 :7000 forged RST from r4" -6 "$LAB_TARGET6" 7000 5
  expect_line "v6 forged RST arrives with hlim 61" 'TTL 5 -> tcp flags=0x14 outer_ttl=61'
else
  skip "tcpdump is not installed: ICMP codes and quoted TTLs not measured"
fi

# --- ICMP rate limiting: off (default of lab_up) vs kernel defaults ------------------
# 20 probes at once: 10 expiring on r5, 10 on r6.
burst_answers() {
  trace "$1" -T -w 1 -q 10 -N 40 -f 5 -m 6 -p 80 "$2" | grep -oE '[0-9.]+ ms' | wc -l
}
sleep 1
for fam in 4 6; do
  if [[ $fam == 4 ]]; then dst=$LAB_TARGET4; else dst=$LAB_TARGET6; fi
  n=$(burst_answers -$fam "$dst")
  check "v$fam LAB_RATELIMIT=off: all 20 simultaneous TTL-expiring probes answered ($n/20)" test "$n" -eq 20
done
LAB_RATELIMIT=default lab_up "$PREFIX"
sleep 1
for fam in 4 6; do
  if [[ $fam == 4 ]]; then dst=$LAB_TARGET4; else dst=$LAB_TARGET6; fi
  n=$(burst_answers -$fam "$dst")
  check "v$fam LAB_RATELIMIT=default: kernel rate limit drops some of 20 probes ($n/20)" test "$n" -lt 20
  fact "v$fam with kernel default ICMP rate limits, $n of 20 simultaneous probes expiring on two routers were answered (per-source token bucket per router, partly used up by the probes just before)."
done
LAB_RATELIMIT=off lab_up "$PREFIX"

# --- teardown ----------------------------------------------------------------------
check "lab_down succeeds" lab_down "$PREFIX"
check "lab_down is idempotent" lab_down "$PREFIX"
check "no namespace with prefix '$PREFIX' is left" bash -c "! ip netns list | grep -q '^$PREFIX-'"

echo
echo "== facts"
printf '  %s\n' "${FACTS[@]}"
echo "== $PASSES passed, $FAILS failed, $SKIPS skipped"
[[ $FAILS -eq 0 ]]
