#!/usr/bin/env bash
# bench/peers/run.sh - portpath against its peers, in the network-namespace lab.
#
# usage: bench/peers/run.sh [--targets 100,1000,4000] [--regimes off,global,default]
#                           [--sample 20] [--tools portpath,scamper,traceroute,mtr]
#                           [--out bench/peers/RESULTS.md] [--build DIR] [--seed 1]
#                           [--tool-timeout 600] [--keep DIR]
#        bench/peers/run.sh --smoke [--build DIR]
#
# For every N (number of targets) and regime (the lab's LAB_RATELIMIT: off, global,
# default) it builds a fresh chain lab (tests/lab/lab.sh), generates N targets on the
# lab's bulk block with a known answer each (open, closed, filtered after hop 2,
# filtered after hop 5, prohibited at hop 5; the truth comes from the lab's case table,
# never from a tool), runs the tools one after another inside the lab's client
# namespace, measures each (wall, CPU, peak RSS, probes sent, ICMP answers asked of the
# busiest router, accuracy) and writes RESULTS.md. portpath and scamper trace all N
# targets in one run; traceroute -T and mtr --tcp trace a random sample one target at a
# time, and their figures are extrapolated to N (RESULTS.md says so). parse.py turns each
# tool's output into a common form and scores it; report.py writes the markdown.
#
# --smoke: N=20, regime off, portpath and scamper only (well under a minute); prints
# the table and exits non-zero when portpath is not 100 % accurate or a tool fails to run
# (ctest: bench.peers_smoke). --keep DIR keeps every raw output there.
#
# SAFETY: probes go only to addresses of the lab, whose namespaces this script creates
# under a unique prefix and always removes (trap on EXIT, also on failure or Ctrl-C).
# Needs root. Installs scamper, traceroute, mtr-tiny and time with apt-get if missing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=tests/lab/lab.sh
source "$REPO/tests/lab/lab.sh"

TARGETS=100,1000,4000
REGIMES=off,global,default
SAMPLE=20
TOOLS=portpath,scamper,traceroute,mtr
OUT="$HERE/RESULTS.md"
OUT_SET=0
BUILD="$REPO/build"
SEED=1
TOOL_TIMEOUT=600
KEEP=""
SMOKE=0
ARGS=("$@")

die() { echo "run.sh: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --targets) TARGETS=${2:?}; shift 2 ;;
    --regimes) REGIMES=${2:?}; shift 2 ;;
    --sample) SAMPLE=${2:?}; shift 2 ;;
    --tools) TOOLS=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; OUT_SET=1; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --tool-timeout) TOOL_TIMEOUT=${2:?}; shift 2 ;;
    --keep) KEEP=${2:?}; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if ((SMOKE)); then
  TARGETS=20 REGIMES=off TOOLS=portpath,scamper TOOL_TIMEOUT=120
fi
IFS=, read -r -a TARGET_LIST <<<"$TARGETS"
IFS=, read -r -a REGIME_LIST <<<"$REGIMES"
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
for n in "${TARGET_LIST[@]}"; do
  if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 5080)); then
    die "N must be 1..5080 (1016 bulk addresses x 5 ports), not '$n'"
  fi
done
for t in "${TOOL_LIST[@]}"; do
  case "$t" in portpath|scamper|traceroute|mtr) ;; *) die "unknown tool '$t'" ;; esac
done
[[ $EUID -eq 0 ]] || die "needs root (network namespaces, raw sockets)"
BUILD="$(cd "$BUILD" && pwd)" || die "no build directory"
PORTPATH="$BUILD/portpath"
LISTENER="$BUILD/portpath-lab-listen"
[[ -x $PORTPATH && -x $LISTENER ]] || die "build portpath and portpath-lab-listen first ($BUILD)"

# The peers and GNU time come from Debian packages (also in scripts/setup.sh).
ensure_packages() {
  local missing=() spec
  for spec in scamper:scamper traceroute:traceroute mtr:mtr-tiny /usr/bin/time:time; do
    command -v "${spec%%:*}" >/dev/null || missing+=("${spec#*:}")
  done
  if ((${#missing[@]})); then
    echo "run.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
      die "could not install ${missing[*]}"
  fi
}
ensure_packages

WORK="$(mktemp -d /tmp/portpath-peers.XXXXXX)"
((SMOKE && !OUT_SET)) && OUT="$WORK/RESULTS.md"
LAB=""
cleanup() {
  local rc=$?
  if [[ -n $LAB ]]; then lab_down "$LAB" >/dev/null 2>&1 || true; fi
  if [[ -n $KEEP ]]; then mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------
# Ground truth per port, from the lab's own case table: port, outcome, hop ttl, hop
# address ("@target" = the target itself answers, at its distance).
write_expect() {
  local spec port case ttl addr
  for spec in 80:bulk 81:closed 8443:drop_r2 9443:drop_r5 135:prohibited; do
    port=${spec%%:*} case=${spec#*:}
    [[ $(lab_expect "$case" port) == "$port" ]] || die "lab case $case is not on port $port"
    if [[ $(lab_expect "$case" block_ttl) != - ]]; then
      ttl=$(lab_expect "$case" block_ttl) addr=$(lab_expect "$case" block_addr4)
    else
      ttl=$(lab_expect "$case" last_ttl) addr=$(lab_expect "$case" last_addr4)
      [[ $addr == "$(lab_expect "$case" dst4)" ]] && addr=@target
    fi
    printf '%s\t%s\t%s\t%s\n' "$port" "$(lab_expect "$case" outcome)" "$ttl" "$addr"
  done
}

# ---------------------------------------------------------------------------------
# Counters. Probes are counted where they enter r1 from the client: scamper sends its
# TCP probes on a datalink socket, which the client's own iptables OUTPUT never sees.
add_probe_counters() {
  local ns="$LAB-r1"
  ip netns exec "$ns" iptables -w -t mangle -A PREROUTING -i left -p tcp --syn -m comment --comment pb-syn
  ip netns exec "$ns" iptables -w -t mangle -A PREROUTING -i left -p icmp --icmp-type echo-request -m comment --comment pb-echo
  ip netns exec "$ns" ip6tables -w -t mangle -A PREROUTING -i left -p tcp --syn -m comment --comment pb-syn
  ip netns exec "$ns" ip6tables -w -t mangle -A PREROUTING -i left -p ipv6-icmp --icmpv6-type echo-request -m comment --comment pb-echo
}
zero_probe_counters() {
  ip netns exec "$LAB-r1" iptables -w -t mangle -Z PREROUTING
  ip netns exec "$LAB-r1" ip6tables -w -t mangle -Z PREROUTING
}
read_probe_counters() {  # prints: syn4 echo4 syn6 echo6
  local v4 v6
  v4=$(ip netns exec "$LAB-r1" iptables -w -t mangle -nvxL PREROUTING)
  v6=$(ip netns exec "$LAB-r1" ip6tables -w -t mangle -nvxL PREROUTING)
  echo "$(awk '/pb-syn/{print $1}' <<<"$v4") $(awk '/pb-echo/{print $1}' <<<"$v4")" \
    "$(awk '/pb-syn/{print $1}' <<<"$v6") $(awk '/pb-echo/{print $1}' <<<"$v6")"
}
# ICMP counters of every router (its own /proc/net/snmp{,6}: /proc/net follows the netns).
snmp_dump() {
  local r
  for r in r1 r2 r3 r4 r5 r6; do
    echo "== $r"
    ip netns exec "$LAB-$r" cat /proc/net/snmp /proc/net/snmp6
  done
}

# ---------------------------------------------------------------------------------
# Tool commands. DIR holds the case's targets; ADDR/PORT name one target.
tool_cmd() {  # tool dir [addr port] -> CMD array
  case "$1" in
    portpath) CMD=("$PORTPATH" trace --json -n --targets-file "$2/targets.txt" --rate 10000 -w 1s -q 1) ;;
    scamper) CMD=(scamper -O json -O cmdfile -n 127.0.0.1 -p 10000 -f "$2/scamper.cmds") ;;
    traceroute) CMD=(traceroute -T -p "$4" -q 1 -w 1 -n -O info "$3") ;;
    mtr) CMD=(mtr --tcp -P "$4" -c 1 -n --json -Z 1 -G 1 -U 5 "$3") ;;
  esac
}
declare -A COMMANDS=(
  [portpath]="portpath trace --json -n --targets-file F --rate 10000 -w 1s -q 1"
  [scamper]="scamper -O json -O cmdfile -n 127.0.0.1 -p 10000 -f CMDS   (CMDS lines: trace -P tcp -d PORT -q 1 -w 1 -g 5 ADDRESS)"
  [traceroute]="traceroute -T -p PORT -q 1 -w 1 -n -O info ADDRESS   (once per sampled target)"
  [mtr]="mtr --tcp -P PORT -c 1 -n --json -Z 1 -G 1 -U 5 ADDRESS   (once per sampled target)"
)

# The kernel's per-destination ICMP bucket refills at 1 token/s up to 6: after a tool
# has drained it, wait so that the next tool starts with the same budget.
settle_time() { [[ $1 == default ]] && echo 7 || echo 1; }

# measure TIMEOUT OUT ERR TIME_FILE cmd...: one timed, capped run in the lab's client.
# In the background plus `wait`, so that Ctrl-C or a TERM (ctest's timeout) reaches the
# traps at once; the EXIT trap's lab_down then stops the tool inside the namespace.
measure() {
  local limit=$1 out=$2 err=$3 tf=$4
  shift 4
  /usr/bin/time -q -a -o "$tf" -f '%e %U %S %M' \
    timeout -k 5 "$limit" ip netns exec "$LAB-c" "$@" </dev/null >"$out" 2>>"$err" &
  wait $!
}

# run_tool TOOL DIR N REGIME: one measured run (all targets, or the sample one by one).
run_tool() {
  local tool=$1 d=$2 n=$3 regime=$4 rc=0 timed_out=0 r mode=all
  sleep "$(settle_time "$regime")"
  zero_probe_counters
  snmp_dump >"$d/$tool.snmp0"
  : >"$d/$tool.time"
  if [[ $tool == portpath || $tool == scamper ]]; then
    tool_cmd "$tool" "$d"
    r=0
    measure "$TOOL_TIMEOUT" "$d/$tool.out" "$d/$tool.err" "$d/$tool.time" "${CMD[@]}" || r=$?
    rc=$r
    ((r == 124 || r == 137)) && timed_out=1
    python3 "$HERE/parse.py" parse "$tool" "$d/$tool.out" >"$d/$tool.tsv" || true
  else
    # One run per sampled target, back to back, as a person would run them. The cap
    # covers the whole sample: the remaining budget is each run's timeout.
    mode=sample
    local start=$SECONDS addr port left
    mkdir -p "$d/$tool"
    while read -r addr port; do
      left=$((TOOL_TIMEOUT - (SECONDS - start)))
      if ((left <= 0)); then timed_out=1; break; fi
      tool_cmd "$tool" "$d" "$addr" "$port"
      r=0
      measure "$left" "$d/$tool/${addr}_$port.out" "$d/$tool.err" "$d/$tool.time" "${CMD[@]}" || r=$?
      if ((r == 124 || r == 137)); then timed_out=1; rc=$r; break; fi
      ((r == 0)) || rc=$r
    done <"$d/sample.tsv"
    python3 "$HERE/parse.py" parse "$tool" "$d/$tool" >"$d/$tool.tsv" || true
  fi
  read_probe_counters >"$d/$tool.probes"
  snmp_dump >"$d/$tool.snmp1"
  local sample_args=()
  [[ $mode == sample ]] && sample_args=(--sample "$d/sample.tsv")
  python3 "$HERE/parse.py" record --n "$n" --regime "$regime" --tool "$tool" \
    --truth "$d/truth.tsv" --common "$d/$tool.tsv" "${sample_args[@]}" \
    --time "$d/$tool.time" --rc "$rc" --timed-out "$timed_out" --probes "$d/$tool.probes" \
    --snmp-before "$d/$tool.snmp0" --snmp-after "$d/$tool.snmp1" \
    --command "${COMMANDS[$tool]}" >>"$WORK/records.jsonl"
  python3 "$HERE/report.py" line "$WORK/records.jsonl" >&2
}

# ---------------------------------------------------------------------------------
START=$SECONDS
write_expect >"$WORK/expect.tsv"
: >"$WORK/records.jsonl"
case_no=0
for regime in "${REGIME_LIST[@]}"; do
  for n in "${TARGET_LIST[@]}"; do
    case_no=$((case_no + 1))
    LAB=$(printf 'pb%xx%d' $$ "$case_no")
    d="$WORK/n$n-$regime"
    mkdir -p "$d"
    echo "== N=$n LAB_RATELIMIT=$regime (lab $LAB)" >&2
    LAB_RATELIMIT=$regime lab_up "$LAB" >"$d/lab_up.log" 2>&1 || { cat "$d/lab_up.log" >&2; die "lab_up failed"; }
    lab_start_listener "$LAB" "$LISTENER" 80 >/dev/null
    add_probe_counters
    python3 "$HERE/parse.py" gen "$n" "$SEED" "$SAMPLE" "$WORK/expect.tsv" "$d"
    for tool in "${TOOL_LIST[@]}"; do
      run_tool "$tool" "$d" "$n" "$regime"
    done
    lab_down "$LAB" >/dev/null
    LAB=""
  done
done

# Metadata for RESULTS.md.
portpath_version="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO" status --porcelain -- probe app exporter 2>/dev/null)" ]]; then
  portpath_version+=" + uncommitted changes in probe/ app/ exporter/"
fi
portpath_version+=" (binary built $(date -r "$PORTPATH" '+%Y-%m-%d %H:%M'))"
for tool in "${TOOL_LIST[@]}"; do printf '%s\t%s\n' "$tool" "${COMMANDS[$tool]}"; done >"$WORK/commands.tsv"
# Values go in as arguments (key=value), so no quoting surprises in the python below.
python3 - "$WORK/meta.json" "$WORK/commands.tsv" \
  "command=bash bench/peers/run.sh ${ARGS[*]}" \
  "date=$(date '+%Y-%m-%d %H:%M %Z')" \
  "elapsed_s=$((SECONDS - START))" \
  "nproc=$(nproc)" \
  "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
  "mem=$(free -g | awk '/^Mem:/{print $2 " GiB RAM"}')" \
  "kernel=$(uname -r)" \
  "debian=$(cat /etc/debian_version)" \
  "portpath=$portpath_version" \
  "scamper=$(scamper -v 2>&1 | head -1)" \
  "traceroute=$(traceroute -V 2>&1 | head -1)" \
  "mtr=$(mtr -v 2>&1 | head -1)" \
  "shared_machine=Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg) (other work may share this machine: compare tools within one run)." \
  "sample=$SAMPLE" "tool_timeout=$TOOL_TIMEOUT" "settle=1 s (7 s in regime default)" <<'EOF'
import json, sys
meta = dict(arg.split("=", 1) for arg in sys.argv[3:])
meta["elapsed_s"] = float(meta["elapsed_s"])
with open(sys.argv[2]) as f:
    meta["commands"] = dict(line.rstrip("\n").split("\t", 1) for line in f)
with open(sys.argv[1], "w") as f:
    json.dump(meta, f, indent=1)
EOF

mkdir -p "$(dirname "$OUT")"
python3 "$HERE/report.py" render "$WORK/records.jsonl" "$WORK/meta.json" "$OUT"
echo "run.sh: wrote $OUT ($((SECONDS - START)) s)" >&2
if ((SMOKE)); then
  cat "$OUT"
  python3 "$HERE/report.py" check "$WORK/records.jsonl"
fi
