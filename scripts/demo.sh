#!/usr/bin/env bash
# The lab demo: installs what is missing, builds, creates a private network of
# namespaces (a client, six routers, a server; see tests/lab/lab.sh) and traces
# one port per case with `portpath trace`, printing each path and its verdict.
# Everything it creates is removed when it ends, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
source tests/lab/lab.sh

LAB=$(printf 'pd%x' $$)
trap 'lab_down "$LAB" >/dev/null 2>&1 || true' EXIT
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
