#!/usr/bin/env bash
# Shared helpers for the exporter's HTTP shell tests: a scratch directory and the
# test server (portpath-http-test-server), both removed on exit, also on failure.
# Assertions are the lab tests' (check NAME EXPECTED ACTUAL, lab_test_end).
# Usage: source http_test_lib.sh; http_test_begin BUILD_DIR

HTTP_TEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lab/test_lib.sh
source "$HTTP_TEST_DIR/../lab/test_lib.sh"
HTTP_TEST_PIDS=()

http_test_begin() {
  BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
  TEST_SERVER="$BUILD/portpath-http-test-server"
  [[ -x $TEST_SERVER ]] || { echo "no test server at $TEST_SERVER" >&2; exit 2; }
  WORK=$(mktemp -d)
  trap http_test_cleanup EXIT
  trap 'exit 130' INT TERM
}

http_test_cleanup() {
  local pid
  for pid in "${HTTP_TEST_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${HTTP_TEST_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}

# start_test_server NAME [WEB_CONFIG]: runs the test server on a free loopback
# port; it stops when its standard input (a FIFO held open here) closes or on
# exit. Sets PORT.
start_test_server() {
  local name=$1 fifo="$WORK/$1.stdin" log="$WORK/$1.log"
  mkfifo "$fifo"
  "$TEST_SERVER" 127.0.0.1:0 ${2:+"$2"} <"$fifo" >"$log" 2>&1 &
  HTTP_TEST_PIDS+=($!)
  exec {HTTP_TEST_HOLD}>"$fifo"  # the writer end keeps it running
  local _
  for _ in $(seq 1 100); do
    grep -q '^port ' "$log" && break
    sleep 0.05
  done
  PORT=$(sed -n 's/^port //p' "$log")
  [[ -n $PORT ]] || { cat "$log" >&2; echo "test server $name did not start" >&2; exit 1; }
}

# https_status CACERT USER:PASSWORD|"" METHOD URL: the HTTP status curl got
# ("000": no HTTP answer). Runs curl under ${CURL_PREFIX[@]} (e.g. ip netns exec).
CURL_PREFIX=()
https_status() {
  local auth=()
  [[ -n $2 ]] && auth=(-u "$2")
  "${CURL_PREFIX[@]}" curl -s -o /dev/null -m 30 -w '%{http_code}' --cacert "$1" "${auth[@]}" \
    -X "$3" "$4" || true
}

# check_401_everywhere CACERT BASE_URL USER:WRONG_PASSWORD "METHOD PATH"...:
# each endpoint answers 401 without credentials and with a wrong password.
check_401_everywhere() {
  local cacert=$1 base=$2 wrong=$3 ep method path
  shift 3
  for ep in "$@"; do
    read -r method path <<<"$ep"
    check "$method $path without credentials" 401 "$(https_status "$cacert" '' "$method" "$base$path")"
    check "$method $path with a wrong password" 401 "$(https_status "$cacert" "$wrong" "$method" "$base$path")"
  done
}
