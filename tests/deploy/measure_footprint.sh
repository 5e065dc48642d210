#!/usr/bin/env bash
# Measures what the Kubernetes bundle's requests and limits are sized from:
# portpath serve in the lab with the image's full IP-to-ASN data (fetched by
# scripts/fetch-asn-data.sh), N target ports at a 30 s interval, scraped every
# 15 s; prints resident memory (steady and peak) and CPU (cores, averaged over
# the measurement). Not part of the test run. Usage:
#   measure_footprint.sh BUILD_DIR [TARGET_PORTS (default 100)] [SECONDS (default 120)]
set -euo pipefail
source "$(dirname "$0")/../lab/test_lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${2:-100}
duration=${3:-120}
lab_test_begin "$1"
work=$(mktemp -d)
serve_pid=""
trap '[[ -n $serve_pid ]] && kill $serve_pid 2>/dev/null; lab_down "$LAB" >/dev/null 2>&1; rm -rf "$work"' EXIT
bash "$root/scripts/fetch-asn-data.sh" "$work/asn" >/dev/null
{ echo "defaults: {interval: 30s}"; echo "asn_db: $work/asn"; echo "targets:"
  hosts=$(( (n + 3) / 4 ))
  for i in $(seq 0 $((hosts - 1))); do
    echo "  - {host: 198.18.$((i / 250)).$((i % 250 + 1)), ports: [80, 81, 8443, 9443]}"
  done; } >"$work/c.yaml"
lab_start_serve "$work/c.yaml" "$work/serve.log"
serve_pid=$SERVE_PID
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$serve_pid/stat"; }
sleep 30  # start-up, ASN load, first rounds
c0=$(cpu) t0=$SECONDS peak=0
while ((SECONDS - t0 < duration)); do
  ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$SERVE_PORT/metrics" >/dev/null || true
  rss=$(awk '/^VmRSS/{print $2}' "/proc/$serve_pid/status")
  ((rss > peak)) && peak=$rss
  sleep 15
done
c1=$(cpu)
echo "target ports: $((hosts * 4)); resident: $((rss / 1024)) MiB (peak $((peak / 1024)) MiB, VmHWM $(awk '/^VmHWM/{print int($2/1024)}' "/proc/$serve_pid/status") MiB); CPU: $(echo "scale=3; ($c1 - $c0) / $ticks / ($SECONDS - $t0)" | bc) cores"
