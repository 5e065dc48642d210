#!/usr/bin/env bash
# bench/serve/run.sh - the cost of `portpath serve` at 1,000 to 10,000 target ports.
#
# usage: bench/serve/run.sh [--targets 1000,4000,10000] [--interval 60] [--scrape 15]
#                           [--measure 300] [--rate auto|PPS] [--hop-metrics none|blocked|all]
#                           [--build DIR] [--out FILE] [--keep DIR] [--perf SECONDS]
#                           [--lab-forwarding threads|inline]
#        bench/serve/run.sh --smoke [--build DIR]
#        bench/serve/run.sh --soak SECONDS [--targets 1000] [--max-growth 5] [--build DIR]
#        bench/serve/run.sh --load SECONDS [--targets 1000] [--load-warm S] [--wrk-conns 4]
#                           [--wrk-delay-ms 20] [--idle 8] [--slow 2] [--probe-period 1.5]
#                           [--health-max 1.0] [--max-growth 5] [--build DIR] [--out FILE]
#
# For each N it builds a fresh chain lab (tests/lab/lab.sh, LAB_RATELIMIT=off: no ICMP
# policing, so only the exporter's own cost shows; --lab-forwarding threads, the default:
# LAB_THREADED_NAPI=on, every namespace receives in kernel threads of its own, so the
# routers' and the server's work is not charged to the exporter's CPU time as it is with
# `inline`, where veth runs all of it in the exporter's sendto), starts `portpath serve` in the lab's
# client namespace with N target ports on the lab's bulk block (N/10 addresses x the 10
# ports below: 10% open, 40% closed, 20% filtered after hop 2 or 5, 10% prohibited !X,
# 10% reset by a middlebox at hop 4, 10% closed), waits one interval plus 15 s (every
# target traced once), then measures for --measure seconds while it scrapes /metrics
# every --scrape seconds with `Accept-Encoding: gzip` (as Prometheus does):
#  - resident memory (VmRSS, sampled each second): at the start and end of the
#    measurement and its peak; growth = end / start - 1; the measurement starts
#    after the warm-up and 512 more scrapes (warm_http_workers: every HTTP worker
#    has served once),
#  - CPU of the exporter process (utime + stime over the measurement; scrapes included),
#  - every scrape's wall time (curl's time_total) and size on the wire (gzip) and
#    decompressed, the series per target port and the targets with a result.
# Rate: --rate auto is max(1000, N / 2) pps (the default 1000 up to 2,000 targets, 5000
# at 10,000): each round of a target costs about 15 probes.
#
# --smoke: 200 targets, 10 s interval, 45 s measured; fails when a limit is exceeded
# (ctest lab.serve_bench_smoke). --soak S: N targets (default 1000) measured for S
# seconds, RSS sampled every 10 s; fails when the end exceeds the start by more than
# --max-growth percent (the short version runs in ctest as lab.serve_soak_short).
# --load S (issue 8): the same lab and serve, then after the warm-up the exporter under
# load for --load-warm (default 60 s, 15 s when S < 240) plus S seconds: wrk
# (bench/serve/wrk_report.lua) with --wrk-conns connections on /metrics with
# Accept-Encoding: gzip, --wrk-delay-ms between a response and the next request on a
# connection, and bench/serve/load_clients.py: two sequential /probe?target=HOST:PORT
# workers over the configured targets (one request each at most every --probe-period s;
# the exporter runs two /probe at once, so they never see a 429), --idle idle and --slow
# slow (a byte a second) connections, each reopened when the exporter drops it, and
# /-/healthy polled every 0.5 s. VmRSS, open fds, threads and CPU are sampled every 5 s.
# Fails (bench/serve/load_report.py prints the Markdown table) unless: wrk has no
# non-2xx answer and no socket error (timeouts, 2 s, included); every /probe is a 200
# with the target's portpath_outcome and last-trace series; no /-/healthy fails or takes
# --health-max s; the mean RSS of the last half of the samples (after the load's warm-up)
# is within --max-growth % of the first half's; the open fds once the clients have left equal those before the load, and under
# load stay within that count plus one per client connection. The short version runs in
# ctest as lab.serve_load_short.
# Writes RESULTS.md-style rows to --out (default: stdout). --perf S records `perf record -g`
# of the exporter for S seconds into --keep DIR.
#
# SAFETY: probes go only to addresses of the lab, whose namespaces this script creates
# under a unique prefix and always removes (trap on EXIT). Scrapes go to the exporter on
# the loopback of the lab's client namespace. Needs root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=tests/lab/lab.sh
source "$REPO/tests/lab/lab.sh"

TARGETS=1000,4000,10000
INTERVAL=60
SCRAPE=15
MEASURE=300
RATE=auto
HOP_METRICS=""
BUILD="$REPO/build"
OUT=""
KEEP=""
PERF=0
SMOKE=0
SOAK=0
MAX_GROWTH=5
LOAD=0
LOAD_WARM=""
WRK_CONNS=4
WRK_DELAY_MS=20
WRK_TIMEOUT=2s
IDLE=8
SLOW=2
PROBE_WORKERS=2
PROBE_PERIOD=1.5
HEALTH_MAX_S=1.0
SAMPLE=5
# Smoke limits (generous: the smoke run shares the CI machine with other tests).
SMOKE_MAX_RSS_MB=40
SMOKE_MAX_SCRAPE_S=1.0
SMOKE_MAX_SERIES_PER_TARGET=14
LAB_FORWARDING=threads

while [[ $# -gt 0 ]]; do
  case $1 in
    --targets) TARGETS=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --scrape) SCRAPE=$2; shift 2 ;;
    --measure) MEASURE=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --hop-metrics) HOP_METRICS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    --perf) PERF=$2; shift 2 ;;
    --smoke) SMOKE=1; shift ;;
    --soak) SOAK=$2; shift 2 ;;
    --max-growth) MAX_GROWTH=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    --load-warm) LOAD_WARM=$2; shift 2 ;;
    --wrk-conns) WRK_CONNS=$2; shift 2 ;;
    --wrk-delay-ms) WRK_DELAY_MS=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --slow) SLOW=$2; shift 2 ;;
    --probe-period) PROBE_PERIOD=$2; shift 2 ;;
    --health-max) HEALTH_MAX_S=$2; shift 2 ;;
    --lab-forwarding) LAB_FORWARDING=$2; shift 2 ;;
    -h|--help) sed -n '2,59p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case $LAB_FORWARDING in
  threads)
    THREADED_NAPI=on
    command -v ethtool >/dev/null ||
      { echo "--lab-forwarding threads needs ethtool (apt-get install ethtool), or use --lab-forwarding inline" >&2; exit 2; }
    ;;
  inline) THREADED_NAPI=off ;;
  *) echo "--lab-forwarding is 'threads' or 'inline', not '$LAB_FORWARDING'" >&2; exit 2 ;;
esac
if [[ $SMOKE -eq 1 ]]; then TARGETS=200 INTERVAL=10 SCRAPE=5 MEASURE=45; fi
if [[ $SOAK -gt 0 ]]; then
  [[ $TARGETS == *,* ]] && TARGETS=1000
  MEASURE=$SOAK
fi
if [[ $LOAD -gt 0 ]]; then
  [[ $TARGETS == *,* ]] && TARGETS=1000
  [[ -n $LOAD_WARM ]] || LOAD_WARM=$(( LOAD >= 240 ? 60 : 15 ))
  command -v wrk >/dev/null || { echo "--load needs wrk (apt-get install wrk)" >&2; exit 2; }
fi
BUILD=$(cd "$BUILD" && pwd)
PORTPATH="$BUILD/portpath"
[[ -x $PORTPATH ]] || { echo "no portpath binary at $PORTPATH" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }

LAB=$(printf 'pb%x%x' $$ $((RANDOM % 4096)))
WORK=$(mktemp -d)
SERVE_PID=""
cleanup() {
  [[ -n $SERVE_PID ]] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  lab_down "$LAB" >/dev/null 2>&1 || true
  if [[ -n $KEEP ]]; then mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10 ports per address; what the lab does with each (tests/lab/lab.sh, case table).
PORTS=(80 81 22 443 8443 9443 135 7000 5432 3389)

write_config() {  # N RATE FILE
  local n=$1 rate=$2 file=$3 addresses=$(( ($1 + 9) / 10 )) i=0 a b left=$1 count
  {
    echo "defaults: {interval: ${INTERVAL}s, timeout: 1s${HOP_METRICS:+, hop_metrics: $HOP_METRICS}}"
    echo "rate: $rate"
    echo "targets:"
    for ((i = 0; i < addresses; i++)); do
      a=$((i / 254)) b=$((i % 254 + 1))
      count=$(( left < 10 ? left : 10 ))
      left=$((left - count))
      echo "  - host: 198.18.$a.$b"
      echo "    ports: [$(IFS=,; echo "${PORTS[*]:0:count}")]"
    done
  } >"$file"
}

rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 " " $15}' "/proc/$1/stat" 2>/dev/null || echo "0 0"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
thread_count() { awk '/^Threads:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_serve N DIR: builds the lab, starts the listener and `portpath serve` with N
# target ports in the lab's client namespace. Sets SERVE_PID, SERVE_PORT and RATE_USED.
start_serve() {
  local n=$1 dir=$2
  RATE_USED=$RATE
  [[ $RATE_USED == auto ]] && RATE_USED=$(( n / 2 > 1000 ? n / 2 : 1000 ))
  LAB_RATELIMIT=off LAB_THREADED_NAPI=$THREADED_NAPI lab_up "$LAB" >"$dir/lab-up.log" 2>&1 || { cat "$dir/lab-up.log" >&2; return 1; }
  lab_start_listener "$LAB" "$BUILD/portpath-lab-listen" 80 >/dev/null
  write_config "$n" "$RATE_USED" "$dir/config.yaml"
  # SERVE_WRAP (environment): a command to run portpath under (heaptrack, for one).
  # shellcheck disable=SC2086
  (exec ip netns exec "$LAB-c" ${SERVE_WRAP:-} "$PORTPATH" serve --config "$dir/config.yaml" \
    --web.listen-address 127.0.0.1:0 >"$dir/serve.log" 2>&1) &
  SERVE_PID=$!
  local _
  SERVE_PORT=""
  for _ in $(seq 1 100); do
    SERVE_PORT=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$dir/serve.log" | head -1)
    [[ -n $SERVE_PORT ]] && break
    sleep 0.1
  done
  [[ -n $SERVE_PORT ]] || { cat "$dir/serve.log" >&2; echo "portpath serve did not start" >&2; return 1; }
}

# stop_serve: stops `portpath serve` and removes the lab.
stop_serve() {
  kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=""
  lab_down "$LAB" >/dev/null 2>&1 || true
}

# warm_http_workers URL: 512 scrapes one after the other. CivetWeb hands each new
# connection (keep-alive is off) to the next of its 256 workers, and each worker
# keeps about 26 KB (stack pages, glibc's per-thread cache) from the first request
# it serves: ~6.5 MB once, after the first 256 scrapes, which at one scrape every
# 15 s takes an hour. The measurement starts with every worker used, so its
# memory figures include the warm pool and its growth is growth with time.
warm_http_workers() {
  local args=() i
  for ((i = 0; i < 512; i++)); do args+=(-o /dev/null "$1"); done
  ip netns exec "$LAB-c" curl -s -m 120 -H 'Accept-Encoding: gzip' "${args[@]}" || true
}

# lab_drops: packets the lab's veths have dropped so far (received and sent, every namespace).
# With --lab-forwarding threads a veth's NAPI ring (256 packets) drops when its kernel thread
# falls behind (veth has no qdisc to push back on); a lost probe or reply changes what is
# measured, so each result says how many there were. Fails (printing nothing) when a
# namespace of the lab cannot be read: the count must come from the lab that ran.
lab_drops() {
  local node total=0 d
  for node in "${LAB_NODES[@]}"; do
    d=$(ip -n "$LAB-$node" -s -j link show | jq -e '[.[] | select(.ifname == "left" or
      .ifname == "right") | .stats64.rx.dropped + .stats64.tx.dropped] | add') || return 1
    [[ $d =~ ^[0-9]+$ ]] || return 1
    total=$((total + d))
  done
  echo "$total"
}

# run_one N: prints one result line (tab-separated, see the header below).
run_one() {
  local n=$1 dir="$WORK/n$1" rate port
  mkdir -p "$dir"
  start_serve "$n" "$dir" || return 1
  rate=$RATE_USED port=$SERVE_PORT
  local url="http://127.0.0.1:$port/metrics"
  # Scrapes as Prometheus makes them: every $SCRAPE s, gzip, each into FILE,
  # "seconds bytes" appended to LOG; in the background until killed.
  scrape_loop() {  # FILE LOG
    while true; do
      ip netns exec "$LAB-c" curl -s -m 30 -H 'Accept-Encoding: gzip' -o "$1.part" \
        -w '%{time_total} %{size_download}\n' "$url" >>"$2" || echo "fail 0" >>"$2"
      mv -f "$1.part" "$1" 2>/dev/null || true
      sleep "$SCRAPE"
    done
  }
  # Warm-up: one interval plus 15 s (every target traced once), scraped as in production.
  scrape_loop "$dir/warm.gz" "$dir/warm-scrapes" &
  local scraper=$!
  sleep $((INTERVAL + 15))
  kill "$scraper"; wait "$scraper" 2>/dev/null || true
  warm_http_workers "$url"
  : >"$dir/scrapes"
  : >"$dir/rss"
  local cpu0 rss0 start_ns end_ns cpu1 rss1 peak=0 r sample=1 t0 perf_pid=""
  [[ $SOAK -gt 0 ]] && sample=10
  cpu0=$(cpu_ticks "$SERVE_PID") rss0=$(rss_kb "$SERVE_PID") start_ns=$(date +%s%N)
  if [[ $PERF -gt 0 && -n $KEEP ]] && command -v perf >/dev/null; then
    perf record --call-graph dwarf,16384 -F 499 -o "$dir/perf.data" -p "$SERVE_PID" \
      -- sleep "$PERF" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  scrape_loop "$dir/last.gz" "$dir/scrapes" &
  scraper=$!
  t0=$SECONDS
  while ((SECONDS - t0 < MEASURE)); do
    r=$(rss_kb "$SERVE_PID")
    echo "$((SECONDS - t0)) $r" >>"$dir/rss"
    ((r > peak)) && peak=$r
    sleep "$sample"
  done
  cpu1=$(cpu_ticks "$SERVE_PID") rss1=$(rss_kb "$SERVE_PID") end_ns=$(date +%s%N)
  kill "$scraper"; wait "$scraper" 2>/dev/null || true
  [[ -n $perf_pid ]] && { wait "$perf_pid" || true; }
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$dir/serve.log" >&2; echo "portpath serve died" >&2; return 1; }
  cat "/proc/$SERVE_PID/smaps" >"$dir/smaps" 2>/dev/null || true
  gzip -dc "$dir/last.gz" >"$dir/last.txt" 2>/dev/null || cp "$dir/last.gz" "$dir/last.txt"
  # The lab was built for this run (start_serve) and goes with stop_serve: read
  # its counters, which cover the whole run, before.
  local drops
  drops=$(lab_drops) || { echo "cannot read the lab's veth counters" >&2; return 1; }
  stop_serve
  python3 - "$n" "$rate" "$dir" "$cpu0" "$cpu1" "$start_ns" "$end_ns" "$rss0" "$rss1" "$peak" \
    "$(getconf CLK_TCK)" "$LAB_FORWARDING" "$drops" <<'PY'
import re, sys
n, rate, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
(u0, s0), (u1, s1) = (map(float, a.split()) for a in sys.argv[4:6])
s_ns, e_ns, rss0, rss1, peak, tck = map(float, sys.argv[6:12])
forwarding, drops = sys.argv[12], sys.argv[13]
wall = (e_ns - s_ns) / 1e9
cpu = ((u1 - u0) + (s1 - s0)) / tck / wall * 100
cpu_user = (u1 - u0) / tck / wall * 100
times, sizes, fails = [], [], 0
for line in open(d + "/scrapes"):
    t, s = line.split()
    if t == "fail": fails += 1; continue
    times.append(float(t)); sizes.append(int(s))
text = open(d + "/last.txt", errors="replace").read()
series = [l for l in text.splitlines() if l and not l.startswith("#")]
per_target = sum(1 for l in series if 'target="' in l)
traced = sum(1 for l in series if l.startswith("portpath_last_trace_timestamp_seconds{"))
print("\t".join(str(x) for x in [
    n, rate, f"{rss0/1024:.1f}", f"{rss1/1024:.1f}", f"{peak/1024:.1f}",
    f"{(rss1/rss0 - 1)*100:+.1f}%" if rss0 else "-", f"{cpu:.2f}", f"{cpu_user:.2f}",
    f"{max(times)*1000:.0f}" if times else "-",
    f"{sum(times)/len(times)*1000:.0f}" if times else "-",
    f"{max(sizes)/1e6:.2f}" if sizes else "-", f"{len(text.encode())/1e6:.2f}",
    f"{per_target/n:.1f}", traced, len(times), fails, forwarding, drops]))
PY
}

# load_one N: the load test (--load). Prints a Markdown table of the figures and its
# checks; returns 1 when a check fails.
load_one() {
  local n=$1 dir="$WORK/load$1" total=$((LOAD_WARM + LOAD)) t0 t now
  mkdir -p "$dir"
  start_serve "$n" "$dir" || return 1
  local port=$SERVE_PORT
  sed -n 's/^  - host: //p; s/^    ports: \[\(.*\)\]/\1/p' "$dir/config.yaml" |
    paste - - | awk '{ n = split($2, p, ","); for (i = 1; i <= n; i++) print $1 ":" p[i] }' \
    >"$dir/targets"
  # Warm-up without load: one interval plus 15 s (every target traced once).
  sleep $((INTERVAL + 15))
  local fds_before rss_before
  fds_before=$(fd_count "$SERVE_PID") rss_before=$(rss_kb "$SERVE_PID")
  ip netns exec "$LAB-c" env WRK_DELAY_MS="$WRK_DELAY_MS" wrk -t1 -c"$WRK_CONNS" -d"${total}s" \
    --timeout "$WRK_TIMEOUT" -H 'Accept-Encoding: gzip' -s "$HERE/wrk_report.lua" \
    "http://127.0.0.1:$port/metrics" >"$dir/wrk.log" 2>&1 &
  local wrk_pid=$!
  ip netns exec "$LAB-c" python3 "$HERE/load_clients.py" "$port" "$total" "$dir" "$dir/targets" \
    --idle "$IDLE" --slow "$SLOW" --probe-workers "$PROBE_WORKERS" --probe-period "$PROBE_PERIOD" \
    >"$dir/clients.json" 2>"$dir/clients.err" &
  local clients_pid=$!
  # Samples under load, "seconds rss_kb open_fds threads utime stime" every $SAMPLE s;
  # the measurement starts after LOAD_WARM seconds of load.
  : >"$dir/samples"
  t0=$(date +%s)
  while true; do
    now=$(date +%s) t=$((now - t0))
    ((t > total)) && break
    kill -0 "$SERVE_PID" 2>/dev/null || break
    echo "$t $(rss_kb "$SERVE_PID") $(fd_count "$SERVE_PID") $(thread_count "$SERVE_PID")" \
      "$(cpu_ticks "$SERVE_PID")" >>"$dir/samples"
    # The memory map at the start of the measurement and at each sample (the last one
    # kept), so that load_report.py can say which mappings grew.
    if ((t >= LOAD_WARM)); then
      [[ -e $dir/smaps-start ]] || cp "/proc/$SERVE_PID/smaps" "$dir/smaps-start" 2>/dev/null || true
      cp "/proc/$SERVE_PID/smaps" "$dir/smaps-end" 2>/dev/null || true
    fi
    sleep "$SAMPLE"
  done
  wait "$wrk_pid" || true
  wait "$clients_pid" || true
  # Once every client has closed, the exporter must come back to its quiet fd count.
  local fds_after=0 _
  for _ in $(seq 1 10); do
    fds_after=$(fd_count "$SERVE_PID")
    ((fds_after <= fds_before)) && break
    sleep 1
  done
  local alive=1
  kill -0 "$SERVE_PID" 2>/dev/null || { alive=0; cat "$dir/serve.log" >&2; echo "portpath serve died" >&2; }
  ls -l "/proc/$SERVE_PID/fd" >"$dir/fds-after" 2>/dev/null || true
  stop_serve
  python3 "$HERE/load_report.py" "$dir" --targets "$n" --warm "$LOAD_WARM" --load "$LOAD" \
    --fds-before "$fds_before" --fds-after "$fds_after" --rss-before "$rss_before" \
    --clk-tck "$(getconf CLK_TCK)" --max-growth "$MAX_GROWTH" --health-max "$HEALTH_MAX_S" \
    --client-conns $((WRK_CONNS + IDLE + SLOW + PROBE_WORKERS + 1)) --alive "$alive" \
    --describe "wrk -c$WRK_CONNS, ${WRK_DELAY_MS} ms between requests on a connection, Accept-Encoding: gzip, on /metrics; $PROBE_WORKERS /probe workers, one request each at most every ${PROBE_PERIOD} s; $IDLE idle and $SLOW slow (1 byte/s) connections, reopened when dropped; /-/healthy polled every 0.5 s"
}

if [[ $LOAD -gt 0 ]]; then
  status=0
  for n in ${TARGETS//,/ }; do
    echo "serve load test: $n target ports, interval ${INTERVAL}s, ${LOAD_WARM}s + ${LOAD}s of load (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    report=$(load_one "$n") || status=1
    printf '%s\n\n' "$report"
    if [[ -n $OUT ]]; then printf '%s\n\n' "$report" >>"$OUT"; fi
  done
  [[ $status -eq 0 ]] && echo "load: every criterion met" >&2
  exit $status
fi

HEADER=$'targets\trate_pps\trss_start_mb\trss_end_mb\trss_peak_mb\trss_growth\tcpu_pct_of_core\tcpu_user_pct\tscrape_max_ms\tscrape_mean_ms\tscrape_gzip_mb\tscrape_text_mb\tseries_per_target\ttargets_traced\tscrapes\tscrape_failures\tlab_forwarding\tlab_drops'
rows=""
for n in ${TARGETS//,/ }; do
  echo "serve bench: $n target ports, interval ${INTERVAL}s, scrape every ${SCRAPE}s, measured ${MEASURE}s, lab forwarding $LAB_FORWARDING (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  row=$(run_one "$n")
  echo "$row" >&2
  rows+="$row"$'\n'
done
table="$HEADER"$'\n'"$rows"
if [[ -n $OUT ]]; then printf '%s' "$table" >"$OUT"; else printf '%s' "$table"; fi

status=0
if [[ $SMOKE -eq 1 ]]; then
  IFS=$'\t' read -r n _ _ _ peak _ _ _ smax _ _ _ spt traced _ fails _ drops <<<"${rows%$'\n'}"
  ok() { python3 -c "import sys; sys.exit(0 if $1 else 1)"; }
  ok "$peak <= $SMOKE_MAX_RSS_MB" || { echo "FAIL: peak RSS $peak MB > $SMOKE_MAX_RSS_MB MB" >&2; status=1; }
  ok "$smax / 1000 <= $SMOKE_MAX_SCRAPE_S" || { echo "FAIL: slowest scrape $smax ms" >&2; status=1; }
  ok "$spt <= $SMOKE_MAX_SERIES_PER_TARGET" || { echo "FAIL: $spt series per target" >&2; status=1; }
  ok "$traced == $n" || { echo "FAIL: $traced of $n targets traced" >&2; status=1; }
  ok "$fails == 0" || { echo "FAIL: $fails scrapes failed" >&2; status=1; }
  ok "$drops == 0" || { echo "FAIL: the lab's veths dropped $drops packets" >&2; status=1; }
  [[ $(head -c2 "$WORK/n$n/last.gz" | od -An -tx1 | tr -d ' \n') == 1f8b ]] ||
    { echo "FAIL: /metrics did not answer gzip to Accept-Encoding: gzip" >&2; status=1; }
  grep -q '^portpath_outcome{' "$WORK/n$n/last.txt" ||
    { echo "FAIL: no portpath_outcome in the scrape" >&2; status=1; }
  if command -v promtool >/dev/null; then
    promtool check metrics <"$WORK/n$n/last.txt" >&2 || { echo "FAIL: promtool check metrics" >&2; status=1; }
  fi
  [[ $status -eq 0 ]] && echo "smoke: all limits met" >&2
fi
if [[ $SOAK -gt 0 ]]; then
  IFS=$'\t' read -r _ _ start end _ _ <<<"${rows%$'\n'}"
  python3 -c "import sys; sys.exit(0 if $end <= $start * (1 + $MAX_GROWTH / 100) else 1)" ||
    { echo "FAIL: RSS grew from $start MB to $end MB (more than $MAX_GROWTH%)" >&2; status=1; }
fi
exit $status
