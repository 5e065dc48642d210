#!/usr/bin/env bash
# Shared helpers for the lab acceptance tests: a fresh lab per test, torn down on
# exit (also on failure), and assertions that print what was expected and seen.
# Usage: source test_lib.sh; lab_test_begin BUILD_DIR [LAB_RATELIMIT [chain|ecmp]]

LAB_TEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lab/lab.sh
source "$LAB_TEST_DIR/lab.sh"

LAB_TEST_FAILURES=0
LAB_TEST_CHECKS=0

lab_test_begin() {
  BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
  PORTPATH="$BUILD/portpath"
  [[ -x "$PORTPATH" ]] || { echo "no portpath binary at $PORTPATH" >&2; exit 2; }
  if [[ $EUID -ne 0 ]]; then echo "lab tests need root (network namespaces)" >&2; exit 2; fi
  # A unique prefix per run: PID plus a random suffix, short enough for netns names.
  LAB=$(printf 'pt%x%x' $$ $((RANDOM % 4096)))
  trap 'lab_down "$LAB" >/dev/null 2>&1 || true' EXIT
  trap 'exit 130' INT TERM
  local up=lab_up
  [[ ${3:-chain} == ecmp ]] && up=lab_up_ecmp
  LAB_RATELIMIT=${2:-off} "$up" "$LAB" >"${TMPDIR:-/tmp}/$LAB-up.log" 2>&1 || {
    cat "${TMPDIR:-/tmp}/$LAB-up.log" >&2
    echo "lab_up failed" >&2
    exit 1
  }
  lab_start_listener "$LAB" "$BUILD/portpath-lab-listen" 80 >/dev/null
}

# portpath inside the lab's client namespace.
lab_portpath() { ip netns exec "$LAB-c" "$PORTPATH" "$@"; }

# lab_start_serve CONFIG LOG: runs `portpath serve` in the lab's client on a
# free loopback port and waits until it listens. Sets SERVE_PID (portpath
# itself, thanks to exec, so that signals reach it) and SERVE_PORT.
lab_start_serve() {
  (exec ip netns exec "$LAB-c" "$PORTPATH" serve --config "$1" \
    --web.listen-address 127.0.0.1:0 >"$2" 2>&1) &
  SERVE_PID=$!
  local _
  for _ in $(seq 1 100); do
    grep -q "listening on" "$2" && break
    sleep 0.1
  done
  SERVE_PORT=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$2" | head -1)
  [[ -n $SERVE_PORT ]] || { cat "$2" >&2; echo "portpath serve did not start" >&2; return 1; }
}

# check NAME EXPECTED ACTUAL
check() {
  LAB_TEST_CHECKS=$((LAB_TEST_CHECKS + 1))
  if [[ "$2" == "$3" ]]; then
    printf '  ok    %-55s %s\n' "$1" "$3"
  else
    printf '  FAIL  %-55s expected %s, got %s\n' "$1" "$2" "$3"
    LAB_TEST_FAILURES=$((LAB_TEST_FAILURES + 1))
  fi
}

lab_test_end() {
  echo "$((LAB_TEST_CHECKS - LAB_TEST_FAILURES)) passed, $LAB_TEST_FAILURES failed"
  [[ $LAB_TEST_FAILURES -eq 0 ]]
}
