#!/usr/bin/env bash
# Acceptance: right at scale under ICMP policing, never wrong. Mixed lab targets
# (open, closed, dropped after hop 2, dropped after hop 5, !X at hop 5) with
# ground truth from what the lab was built to do (mixed_lib.sh).
#  A. Every router at the kernel's full default policing (1 error/s per
#     destination, burst 6; 1000/s global, burst 50), 40 targets, one-shot:
#     zero wrong verdicts; what cannot be confirmed is reported as unconfirmed.
#  B. Only the global budget (per-destination limit lifted), 500 targets at
#     10,000 probes/s, timeout 1 s, one probe per hop: every verdict right.
#  C. portpath serve, full default policing, 40 targets every 15 s: no exported
#     blocked hop is ever wrong, and the budget metric says when evidence ran out.
# Usage: policing_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
source "$(dirname "$0")/mixed_lib.sh"
lab_test_begin "$1" default

work=$(mktemp -d)
trap 'rm -rf "$work"; [[ -n ${SERVE_PID:-} ]] && kill "$SERVE_PID" 2>/dev/null; lab_down "$LAB" >/dev/null 2>&1 || true' EXIT

echo "A. full default policing, 40 mixed targets, one-shot:"
mixed_targets 40 >"$work/a.txt"
start=$(date +%s.%N)
lab_portpath trace --json --targets-file "$work/a.txt" >"$work/a.json" || true
wall=$(echo "$(date +%s.%N) - $start" | bc)
read -r right wrong unsure total < <(mixed_score "$work/a.json")
echo "  right $right, unconfirmed $unsure, wrong $wrong of $total in ${wall}s"
check "A: results" 40 "$total"
check "A: wrong verdicts" 0 "$wrong"
check "A: every open/closed port right (not policed)" 16 \
  "$(jq -s '[.[] | select((.port == 80 and .outcome == "open") or (.port == 81 and .outcome == "closed"))] | length' "$work/a.json")"
check "A: an unconfirmed result names no blocked hop" 0 \
  "$(jq -s '[.[] | select(.blocked_hop_confirmed == false and .blocked_hop != null)] | length' "$work/a.json")"

echo "B. global ICMP budget only, 500 mixed targets, 10,000 probes/s, -q 1:"
LAB_RATELIMIT=global _lab_apply_ratelimit "$LAB"
mixed_targets 500 >"$work/b.txt"
start=$(date +%s.%N)
lab_portpath trace --json --rate 10000 -w 1s -q 1 --targets-file "$work/b.txt" >"$work/b.json" || true
wall=$(echo "$(date +%s.%N) - $start" | bc)
read -r right wrong unsure total < <(mixed_score "$work/b.json")
probes=$(jq -s 'map(.probes_sent) | add' "$work/b.json")
echo "  right $right, unconfirmed $unsure, wrong $wrong of $total in ${wall}s, $probes probes" \
  "(bound: 1 s + probes/rate = $(echo "scale=2; 1 + $probes / 10000" | bc) s)"
check "B: every verdict right" 500 "$right"

echo "C. serve, full default policing, 40 mixed targets every 15 s:"
LAB_RATELIMIT=default _lab_apply_ratelimit "$LAB"
{
  echo "defaults:"
  echo "  interval: 15s"
  echo "targets:"
  while IFS=: read -r host port; do echo "  - {host: $host, ports: [$port]}"; done <"$work/a.txt"
} >"$work/serve.yaml"
lab_start_serve "$work/serve.yaml" "$work/serve.log"
wrong_seen=0
for round in 1 2 3 4; do
  sleep 15
  ip netns exec "$LAB-c" curl -fsS "http://127.0.0.1:$SERVE_PORT/metrics" >"$work/scrape.txt"
  read -r right wrong unsure total < <(mixed_score_scrape "$work/scrape.txt")
  exceeded=$(sed -n 's/^portpath_icmp_budget_exceeded_targets \(.*\)/\1/p' "$work/scrape.txt")
  stale=$(grep -c '^portpath_verdict_stale{.*} 1' "$work/scrape.txt" || true)
  echo "  after ${round}x15 s: $total targets exported: $right right, $unsure unconfirmed, $wrong wrong;" \
    "$stale shown stale; budget exceeded for ${exceeded:-?}"
  wrong_seen=$((wrong_seen + wrong))
done
check "C: no exported outcome or blocked hop is wrong, any scrape" 0 "$wrong_seen"
check "C: the budget metric is exported" yes "$([[ -n $exceeded ]] && echo yes || echo no)"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
lab_test_end
