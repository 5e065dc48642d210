#!/usr/bin/env bash
# tests/lab/ecmp_selftest.sh - prove that the "ecmp" lab of lab.sh (lab_up_ecmp) behaves
# as documented, using only standard tools: ip, sysctl, traceroute -T (Debian
# "traceroute", one fixed source port per trace with --sport) and tcpdump (captures on
# the two branch routers ra and rb). It does not use portpath itself.
#
# It shows that
#  - r1 spreads flows over both branches by the L4 hash: the branch (seen as the hop-2
#    address) of source ports 20000..20031 matches the table in lab.sh, v4 and v6,
#    for destination ports 8443 and 80;
#  - port 8443 is blocked on ONE branch: through A the probe reaches the server (RST,
#    nothing listens), through B rb answers TTL 2 and everything after is silent;
#    port 80 (listener) is open through both branches;
#  - Paris: for a fixed source port every probe of a trace (TTL 2, 3, 4; two probes
#    each) crosses the same branch router and none crosses the other (tcpdump);
#  - kernel facts: the hash ignores TTL; with L4 policy the v6 flow label is ignored,
#    with the L3 policy (0) it picks the branch; the v6 hash uses the v4 seed sysctl;
#  - the lab adds nothing to the root namespace, a failed build leaves nothing behind,
#    lab_down removes everything and is idempotent.
#
# usage: tests/lab/ecmp_selftest.sh [LISTENER_BINARY]
#   LISTENER_BINARY (or $LAB_LISTEN_BIN): a built portpath-lab-listen. Without it the
#   script compiles tests/lab/lab_listen.cc with g++ into a temporary directory.
# Needs root. Exit status 0 only if every check passed. The labs (unique prefixes) are
# always removed on exit, also on failure or Ctrl-C.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lab.sh source-path=SCRIPTDIR
source "$HERE/lab.sh"

export LAB_RATELIMIT=off
PREFIX="ppecmp$$x$((RANDOM % 1000))"
BADPREFIX="${PREFIX}f"
TMP="$(mktemp -d /tmp/portpath-ecmp-selftest.XXXXXX)"
CAP_PIDS=()
FAILS=0
PASSES=0
FACTS=()

cleanup() {
  local rc=$? pid
  for pid in "${CAP_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  lab_down "$PREFIX" || true
  lab_down "$BADPREFIX" || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { PASSES=$((PASSES + 1)); echo "PASS  $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL  $*"; }
fact() { FACTS+=("$*"); echo "FACT  $*"; }
quiet() { "$@" >/dev/null 2>&1; }
check() {  # check DESCRIPTION command... : pass if the command succeeds
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

[[ $EUID -eq 0 ]] || { echo "ecmp_selftest: must run as root" >&2; exit 1; }
for tool in ip iptables ip6tables traceroute ss tcpdump; do
  command -v "$tool" >/dev/null || { echo "ecmp_selftest: '$tool' is not installed" >&2; exit 1; }
done

LISTEN_BIN="${1:-${LAB_LISTEN_BIN:-}}"
if [[ -z "$LISTEN_BIN" ]]; then
  LISTEN_BIN="$TMP/portpath-lab-listen"
  g++ -std=c++17 -O2 -Wall -Wextra -o "$LISTEN_BIN" "$HERE/lab_listen.cc"
fi

SPORTS=$(seq "$LAB_ECMP_SPORT_FIRST" $((LAB_ECMP_SPORT_FIRST + 31)))

# trace ARGS...: traceroute -T -n in the client, output without its header line.
trace() { lab_exec "$PREFIX" c traceroute -T -n "$@" 2>&1 | tail -n +2 || true; }
# addrs_at OUTPUT TTL: the distinct addresses that answered at that TTL (sorted).
addrs_at() {
  awk -v t="$2" '$1 == t { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9a-f.:]+$/ && $i ~ /[.:]/ && $(i + 1) != "ms") print $i }' <<<"$1" |
    sort -u | tr '\n' ' ' | sed 's/ $//'
}
# silent_at OUTPUT TTL: the line exists and only has stars.
silent_at() { awk -v t="$2" '$1 == t { found = 1; for (i = 2; i <= NF; i++) if ($i != "*") bad = 1 } END { exit (!found || bad) }' <<<"$1"; }
# hop2_table FAMILY DST DPORT [traceroute args]: one character (A/B/-) per source port,
# from single-probe traces of TTL 2 only.
hop2_table() {
  local fam=$1 dst=$2 dport=$3 sp out="" a
  shift 3
  for sp in $SPORTS; do
    a=$(trace "-$fam" "$@" -q 1 -f 2 -m 2 -w 1 -p "$dport" --sport="$sp" "$dst" | awk '$1 == 2 { print $2 }')
    out+=$(lab_ecmp_branch "$a")
  done
  echo "$out"
}
# ports_of TABLE LETTER: the source ports whose character is LETTER.
ports_of() {
  local table=$1 letter=$2 i ports=()
  for ((i = 0; i < ${#table}; i++)); do
    [[ "${table:i:1}" == "$letter" ]] && ports+=($((LAB_ECMP_SPORT_FIRST + i)))
  done
  echo "${ports[*]}"
}

# Captures of the probes arriving at the branch routers (their "left" interface).
capture_start() {  # NODE FILTER
  local node=$1 filter=$2 i
  : >"$TMP/cap.$node.err"
  lab_exec "$PREFIX" "$node" tcpdump -l -n -v -i left "$filter" >"$TMP/cap.$node" 2>"$TMP/cap.$node.err" &
  CAP_PIDS+=($!)
  for i in $(seq 1 50); do grep -q 'listening on' "$TMP/cap.$node.err" && return 0; sleep 0.1; done
  echo "tcpdump in $node did not start: $(cat "$TMP/cap.$node.err")" >&2
  return 1
}
capture_stop_all() {
  local pid
  sleep 0.3
  for pid in "${CAP_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  CAP_PIDS=()
}
# seen NODE: "sport dport ttl flowlabel" per captured SYN probe (tcpdump -v, v4 or v6;
# the client kernel's resets after a SYN-ACK are left out: they carry a random hash
# of their own and may take the other branch).
seen() {
  awk '
    { if (match($0, /ttl [0-9]+/)) ttl = substr($0, RSTART + 4, RLENGTH - 4)
      if (match($0, /hlim [0-9]+/)) ttl = substr($0, RSTART + 5, RLENGTH - 5)
      fl = "-"; if (match($0, /flowlabel 0x[0-9a-f]+/)) fl = substr($0, RSTART + 10, RLENGTH - 10)
      if (fl != "-") lastfl = fl
      if ($0 !~ /Flags \[S\]/) next
      for (i = 1; i < NF; i++) if ($(i + 1) == ">") {
        n = split($i, s, ".")
        m = split($(i + 2), dd, "."); dp = dd[m]; sub(/:$/, "", dp)
        print s[n], dp, ttl, (lastfl == "" ? "-" : lastfl); lastfl = ""
      } }' "$TMP/cap.$1"
}

# ---------------------------------------------------------------------------------
echo "== building ecmp lab '$PREFIX'"
links_before=$(ip -o link | wc -l)
t0=$(date +%s.%N)
lab_up_ecmp "$PREFIX"
t1=$(date +%s.%N)
echo "lab_up_ecmp took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
check "no interface was added to the root namespace" test "$(ip -o link | wc -l)" -eq "$links_before"
check "lab_up_ecmp is idempotent (second call succeeds)" lab_up_ecmp "$PREFIX"
check "all 6 namespaces exist" quiet lab_status_ecmp "$PREFIX"
check "listener starts (port 80)" lab_start_listener "$PREFIX" "$LISTEN_BIN" 80
check "r1 has a v4 multipath route to 192.0.2.0/24" \
  bash -c "ip -n '$PREFIX-r1' route show 192.0.2.0/24 | grep -c nexthop | grep -qx 2"
check "r1 has a v6 multipath route to 2001:db8:ff::/48" \
  bash -c "ip -n '$PREFIX-r1' -6 route show 2001:db8:ff::/48 | grep -c nexthop | grep -qx 2"

# --- per family: the branch table, the one-branch block, Paris ----------------------
declare -A GOT=()
for fam in 4 6; do
  if [[ $fam == 4 ]]; then
    dst=$LAB_ECMP_TARGET4 hop1=$LAB_ECMP_HOP1_4 a2=$LAB_ECMP_HOP2A_4 b2=$LAB_ECMP_HOP2B_4
    a3=$LAB_ECMP_HOP3A_4 b3=$LAB_ECMP_HOP3B_4
  else
    dst=$LAB_ECMP_TARGET6 hop1=$LAB_ECMP_HOP1_6 a2=$LAB_ECMP_HOP2A_6 b2=$LAB_ECMP_HOP2B_6
    a3=$LAB_ECMP_HOP3A_6 b3=$LAB_ECMP_HOP3B_6
  fi
  # Warm-up (neighbour caches): a fresh lab's very first v6 trace sometimes loses its
  # first probe, after which traceroute pairs every answer with the wrong probe.
  trace "-$fam" -q 1 -w 1 -m 5 -p 80 "$dst" >/dev/null
  echo "== IPv$fam, target $dst"
  capture_start ra "tcp and (dst port 8443 or dst port 80)"
  capture_start rb "tcp and (dst port 8443 or dst port 80)"

  # Port 8443: full traces, TTL 1..4, two probes per TTL, one fixed source port each.
  table="" bad_block=() bad_mixed=()
  for sp in $SPORTS; do
    out=$(trace "-$fam" -q 2 -w 0.3 -m 4 -p 8443 --sport="$sp" "$dst")
    h2=$(addrs_at "$out" 2)
    case "$h2" in
      "$a2") br=A ;;
      "$b2") br=B ;;
      *) br=-; bad_mixed+=("$sp:[$h2]") ;;
    esac
    table+=$br
    if [[ $br == A ]]; then
      # closed port on the server: RST from the destination at TTL 4
      [[ "$(addrs_at "$out" 1)" == "$hop1" && "$(addrs_at "$out" 3)" == "$a3" &&
         "$(addrs_at "$out" 4)" == "$dst" ]] || bad_block+=("$sp(A)")
    elif [[ $br == B ]]; then
      # rb drops in FORWARD: TTL 2 still answered by rb, TTL 3 and 4 silent
      { [[ "$(addrs_at "$out" 1)" == "$hop1" ]] && silent_at "$out" 3 && silent_at "$out" 4; } ||
        bad_block+=("$sp(B)")
    fi
  done
  GOT[$fam.8443]=$table
  check "v$fam dport 8443: both probes of TTL 2 answered by one branch router, for every source port" \
    test ${#bad_mixed[@]} -eq 0
  check "v$fam dport 8443: source ports use both branches (A: $(ports_of "$table" A | wc -w), B: $(ports_of "$table" B | wc -w))" \
    bash -c "[[ '$table' == *A* && '$table' == *B* ]]"
  check "v$fam dport 8443: branch per source port matches lab.sh ($table)" \
    test "$table" == "${LAB_ECMP_BRANCHES[$fam.8443]}"
  check "v$fam dport 8443: via A the server answers at TTL 4 (RST), via B everything after rb is silent${bad_block[*]:+ (bad: ${bad_block[*]})}" \
    test ${#bad_block[@]} -eq 0

  # Port 80: the listener is reachable through both branches.
  table80="" bad80=()
  for sp in $SPORTS; do
    out=$(trace "-$fam" -q 1 -w 1 -m 5 -p 80 --sport="$sp" "$dst")
    br=$(lab_ecmp_branch "$(addrs_at "$out" 2)")
    table80+=$br
    if [[ $br == A ]]; then h3=$a3; else h3=$b3; fi
    # r2 (hop 3) answers from the address of the branch the probe came over.
    [[ "$(addrs_at "$out" 3)" == "$h3" && "$(addrs_at "$out" 4)" == "$dst" ]] || bad80+=("$sp")
  done
  GOT[$fam.80]=$table80
  check "v$fam dport 80: the open server answers at TTL 4 through both branches, hop 3 (r2) shows the branch too${bad80[*]:+ (bad: ${bad80[*]})}" \
    bash -c "[[ ${#bad80[@]} -eq 0 && '$table80' == *A* && '$table80' == *B* ]]"
  check "v$fam dport 80: branch per source port matches lab.sh ($table80)" \
    test "$table80" == "${LAB_ECMP_BRANCHES[$fam.80]}"
  [[ "$table80" != "${GOT[$fam.8443]}" ]] &&
    fact "v$fam: the destination port is part of the hash (the 80 and 8443 tables differ)"

  # Paris: per source port, every probe past r1 crossed exactly one branch router.
  capture_stop_all
  seen ra >"$TMP/seen.ra"
  seen rb >"$TMP/seen.rb"
  bad_paris=()
  for dport in 8443 80; do
    if [[ $dport == 8443 ]]; then t=$table; want_ttls="1 2 3"; else t=$table80; want_ttls="1 2 3"; fi
    for sp in $SPORTS; do
      exp=${t:$((sp - LAB_ECMP_SPORT_FIRST)):1}
      na=$(awk -v s="$sp" -v d="$dport" '$1 == s && $2 == d' "$TMP/seen.ra" | wc -l)
      nb=$(awk -v s="$sp" -v d="$dport" '$1 == s && $2 == d' "$TMP/seen.rb" | wc -l)
      if [[ $exp == A ]]; then on=ra; n_on=$na; n_off=$nb; else on=rb; n_on=$nb; n_off=$na; fi
      ttls=$(awk -v s="$sp" -v d="$dport" '$1 == s && $2 == d { print $3 }' "$TMP/seen.$on" | sort -un | tr '\n' ' ' | sed 's/ $//')
      [[ $n_off -eq 0 && $n_on -gt 0 && "$ttls" == "$want_ttls" ]] || bad_paris+=("$dport/$sp:$on=$n_on,other=$n_off,ttls=[$ttls]")
    done
  done
  check "v$fam Paris: for each fixed source port all probes with TTL 2..4 (TTL 1..3 on arrival) cross the same branch router, none the other${bad_paris[*]:+ (bad: ${bad_paris[*]})}" \
    test ${#bad_paris[@]} -eq 0
done

# --- kernel facts -----------------------------------------------------------------
echo "== kernel facts"
# The flow label does not enter the L4 hash (policy 1).
t_l1=$(hop2_table 6 "$LAB_ECMP_TARGET6" 8443 -l 1)
t_l2=$(hop2_table 6 "$LAB_ECMP_TARGET6" 8443 -l 0x54321)
check "v6 L4 policy: the flow label does not change the branch (-l 1 and -l 0x54321 give the 8443 table)" \
  bash -c "[[ '$t_l1' == '${GOT[6.8443]}' && '$t_l2' == '${GOT[6.8443]}' ]]"
# With the L3 policy (0) v6 hashes addresses, flow label and next header, not ports.
lab_exec "$PREFIX" r1 sysctl -q -w net.ipv6.fib_multipath_hash_policy=0 >/dev/null
t_pol0=$(hop2_table 6 "$LAB_ECMP_TARGET6" 8443 -l 1)
fl_br=""
for l in 1 2 3 4 5 6 7 8; do
  a=$(trace -6 -q 1 -f 2 -m 2 -w 1 -p 8443 --sport=20000 -l "$l" "$LAB_ECMP_TARGET6" | awk '$1 == 2 { print $2 }')
  fl_br+=$(lab_ecmp_branch "$a")
done
lab_exec "$PREFIX" r1 sysctl -q -w net.ipv6.fib_multipath_hash_policy=1 >/dev/null
check "v6 L3 policy (0): source ports do not matter ($t_pol0), the flow label does (labels 1..8: $fl_br)" \
  bash -c "[[ ! '$t_pol0' =~ A.*B|B.*A && '$fl_br' == *A* && '$fl_br' == *B* ]]"
# The seed: v4 sysctl, also used by v6.
lab_exec "$PREFIX" r1 sysctl -q -w net.ipv4.fib_multipath_hash_seed=999 >/dev/null
t4_999=$(hop2_table 4 "$LAB_ECMP_TARGET4" 8443)
t6_999=$(hop2_table 6 "$LAB_ECMP_TARGET6" 8443)
lab_exec "$PREFIX" r1 sysctl -q -w net.ipv4.fib_multipath_hash_seed="$LAB_ECMP_HASH_SEED" >/dev/null
t4_back=$(hop2_table 4 "$LAB_ECMP_TARGET4" 8443)
check "net.ipv4.fib_multipath_hash_seed changes both the v4 and the v6 table (seed 999: $t4_999 / $t6_999)" \
  bash -c "[[ '$t4_999' != '${GOT[4.8443]}' && '$t6_999' != '${GOT[6.8443]}' ]]"
check "restoring the seed restores the v4 table" test "$t4_back" == "${GOT[4.8443]}"

# --- failure and teardown -------------------------------------------------------------
echo "== failure and teardown"
if LAB_ECMP_HASH_SEED=not-a-number lab_up_ecmp "$BADPREFIX" 2>/dev/null; then
  fail "a failing build (bad hash seed) reports failure"
else
  pass "a failing build (bad hash seed) reports failure"
fi
check "a failed build leaves no namespace behind" bash -c "! ip netns list | grep -q '^$BADPREFIX-'"
check "lab_down_ecmp succeeds" lab_down_ecmp "$PREFIX"
check "lab_down_ecmp is idempotent" lab_down_ecmp "$PREFIX"
check "no namespace with prefix '$PREFIX' is left" bash -c "! ip netns list | grep -q '^$PREFIX-'"
check "no interface is left in the root namespace" test "$(ip -o link | wc -l)" -eq "$links_before"

echo
echo "== branch per source port (A = via ra, B = via rb)"
for key in 4.8443 4.80 6.8443 6.80; do
  echo "  v${key%%.*} dport ${key#*.}: ${GOT[$key]:-?}"
  echo "      A: $(ports_of "${GOT[$key]:-}" A)"
  echo "      B: $(ports_of "${GOT[$key]:-}" B)"
done
echo "== facts"
printf '  %s\n' "${FACTS[@]}"
echo "== $PASSES passed, $FAILS failed"
[[ $FAILS -eq 0 ]]
