#!/usr/bin/env bash
# Idle and slow clients must never starve /metrics or /-/healthy (issue 8). With
# 200 TCP connections open that send nothing, then 200 that trickle a request
# one byte a second, a scrape and a health check by curl still answer, within
# a generous 2 s (they take milliseconds; before the fix 4 idle connections
# delayed /metrics by 10 s and 200 blocked it for minutes).
# Usage: http_idle_clients_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/http_test_lib.sh"
http_test_begin "$1"
start_test_server plain

# time_request PATH: "STATUS SECONDS" of one GET by curl (10 s at most).
time_request() {
  curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT$1" || true
}
within() { awk -v t="$1" -v max="$2" 'BEGIN { exit !(t < max) }'; }

for mode in idle slow; do
  coproc CLIENTS { exec python3 "$HTTP_TEST_DIR/idle_clients.py" "$PORT" 200 $([[ $mode == slow ]] && echo --slow); }
  read -r opened <&"${CLIENTS[0]}"
  check "200 $mode connections open" "open 200" "$opened"
  # Slow clients: let them trickle for a while first.
  [[ $mode == slow ]] && sleep 3
  for path in /metrics /-/healthy; do
    read -r status seconds <<<"$(time_request "$path")"
    echo "  $path with 200 $mode connections open: HTTP $status in ${seconds}s"
    check "$path answers with 200 $mode connections open" 200 "$status"
    check "$path answers within 2 s" yes "$(within "${seconds:-99}" 2 && echo yes || echo "no (${seconds}s)")"
  done
  eval "exec ${CLIENTS[1]}>&-"
  wait "$CLIENTS_PID" || true
done

lab_test_end
