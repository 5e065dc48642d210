#!/usr/bin/env bash
# The lab demo: installs what is missing, builds, creates a private network of
# namespaces (a client, six routers, a server; see tests/lab/lab.sh), traces one
# port per case with `portpath trace`, then starts `portpath serve` on the same
# lab and prints the URL of its metrics. Everything it creates is removed when
# it ends (Ctrl-C; or after DEMO_SECONDS when not run from a terminal).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
source tests/lab/lab.sh

LAB=$(printf 'pd%x' $$)
PORT=${DEMO_PORT:-9750}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  lab_down "$LAB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "== building the lab network (namespaces $LAB-*)"
lab_up "$LAB" >/dev/null
lab_start_listener "$LAB" build/portpath-lab-listen 80 >/dev/null

run() {
  echo
  echo "\$ portpath trace $*"
  ip netns exec "$LAB-c" build/portpath trace "$@" || true
}
run "$LAB_TARGET4:80"            # open
run "$LAB_TARGET4:8443"          # dropped behind an intranet router
run "$LAB_TARGET4:9443"          # silent routers, then dropped at a carrier's router
run "$LAB_TARGET4:135"           # administratively prohibited (!X)
run "[$LAB_TARGET6]:9443"        # the same over IPv6
echo
echo "\$ portpath trace --json $LAB_TARGET4:81"
ip netns exec "$LAB-c" build/portpath trace --json "$LAB_TARGET4:81" || true

echo
echo "== portpath serve on the same lab"
cat >"$work/portpath.yaml" <<EOF2
defaults:
  interval: 10s
  timeout: 1s
asn_db: $PWD/tests/fixtures/asn/lab
targets:
  - host: $LAB_TARGET4
    ports: [80, 8443, 9443, 135]
    labels: {site: lab}
  - host: $LAB_TARGET6
    ports: [80, 9443]
EOF2
(exec ip netns exec "$LAB-c" build/portpath serve --config "$work/portpath.yaml" \
  --web.listen-address 127.0.0.1:9750 >"$work/serve.log" 2>&1) &
pids+=($!)
# The exporter listens inside the lab's client namespace; this relay (a
# process, not a network link) makes it reachable on this machine's loopback.
socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
  "EXEC:ip netns exec $LAB-c socat STDIO TCP\:127.0.0.1\:9750" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 150); do
  curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "status page: http://127.0.0.1:$PORT/   (blocked ports, their path and who owns the hop)"
echo "metrics:     http://127.0.0.1:$PORT/metrics"
echo "the blocked hops, as Prometheus sees them:"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^portpath_blocked_hop_info' || echo "(no result yet; see $work/serve.log)"
if [[ -t 0 ]]; then
  echo "press Ctrl-C to stop the exporter and remove the lab"
  while sleep 3600; do :; done
else
  sleep "${DEMO_SECONDS:-0}"
fi
