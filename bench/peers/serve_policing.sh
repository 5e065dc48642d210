#!/usr/bin/env bash
# bench/peers/serve_policing.sh - portpath serve under the routers' full default ICMP policing.
#
# usage: bench/peers/serve_policing.sh [--targets 400] [--interval 120] [--rounds 5] [--build DIR]
#                                      [--keep DIR]
#
# Builds a fresh chain lab with LAB_RATELIMIT=default (every router: 1 ICMP error/s per
# destination, burst 6; 1000/s global, burst 50), starts `portpath serve` in the lab's client
# namespace with N mixed target ports (open, closed, dropped after hop 2, dropped after hop 5,
# !X at hop 5: tests/lab/mixed_lib.sh, truth from the lab's case table), and scrapes /metrics at
# the end of every interval for --rounds intervals. For each scrape it prints a Markdown row:
# target ports exported, right, unconfirmed (filtered, no blocked hop named), wrong, shown stale,
# portpath_icmp_budget_exceeded_targets, and the probes sent per target port per round so far.
#
# SAFETY: probes go only to addresses of the lab, whose namespaces this script creates under a
# unique prefix and always removes (trap on EXIT). Needs root.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$REPO/tests/lab/lab.sh"
source "$REPO/tests/lab/mixed_lib.sh"

N=400 INTERVAL=120 ROUNDS=5 BUILD="$REPO/build" KEEP=""
while (($#)); do
  case "$1" in
    --targets) N=${2:?}; shift 2 ;;
    --interval) INTERVAL=${2:?}; shift 2 ;;
    --rounds) ROUNDS=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --keep) KEEP=${2:?}; shift 2 ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
  esac
done
PORTPATH="$BUILD/portpath"
[[ -x $PORTPATH ]] || { echo "serve_policing: no $PORTPATH (build first)" >&2; exit 2; }

LAB="ppsp$$"
work=$(mktemp -d)
SERVE_PID=""
cleanup() {
  [[ -n $SERVE_PID ]] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  lab_down "$LAB" >/dev/null 2>&1 || true
  if [[ -n $KEEP ]]; then mkdir -p "$KEEP" && cp -r "$work"/. "$KEEP"/; fi
  rm -rf "$work"
}
trap cleanup EXIT
LAB_RATELIMIT=default lab_up "$LAB" >"$work/lab_up.log" 2>&1 || { cat "$work/lab_up.log" >&2; exit 1; }
# Port 80 open on every lab host (the mixed targets' "open" case).
lab_start_listener "$LAB" "$BUILD/portpath-lab-listen" 80 >/dev/null

mixed_targets "$N" >"$work/targets.txt"
{
  echo "defaults:"
  echo "  interval: ${INTERVAL}s"
  echo "targets:"
  while IFS=: read -r host port; do echo "  - {host: $host, ports: [$port]}"; done <"$work/targets.txt"
} >"$work/serve.yaml"
(exec ip netns exec "$LAB-c" "$PORTPATH" serve --config "$work/serve.yaml" \
  --web.listen-address 127.0.0.1:0 >"$work/serve.log" 2>&1) &
SERVE_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$work/serve.log" | head -1)
[[ -n $port ]] || { cat "$work/serve.log" >&2; exit 1; }

echo "portpath serve, $N target ports every ${INTERVAL}s, every router at full default ICMP policing ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| after | exported | right | unconfirmed | wrong | shown stale | budget exceeded | probes per target port per round |"
echo "|---|---|---|---|---|---|---|---|"
start=$SECONDS
for round in $(seq 1 "$ROUNDS"); do
  sleep $((start + round * INTERVAL - SECONDS))
  ip netns exec "$LAB-c" curl -fsS "http://127.0.0.1:$port/metrics" >"$work/scrape.txt"
  cp "$work/scrape.txt" "$work/scrape-$round.txt"
  read -r right wrong unsure total < <(mixed_score_scrape "$work/scrape.txt")
  exceeded=$(sed -n 's/^portpath_icmp_budget_exceeded_targets \(.*\)/\1/p' "$work/scrape.txt")
  stale=$(grep -c '^portpath_verdict_stale{.*} 1' "$work/scrape.txt" || true)
  sent=$(sed -n 's/^portpath_probes_sent_total \(.*\)/\1/p' "$work/scrape.txt")
  per=$(echo "scale=1; ${sent:-0} / ($N * $round)" | bc)
  echo "| $((round * INTERVAL)) s | $total | $right | $unsure | $wrong | $stale | ${exceeded:-?} | $per |"
done
grep -c 'ICMP budgets' "$work/serve.log" >/dev/null && grep 'ICMP budgets' "$work/serve.log" | sed 's/^/    log: /' | head -4
