#!/usr/bin/env bash
# The real `portpath serve` with --web.config.file (issue 8), in a network
# namespace of its own that holds only a loopback interface, so the exporter's
# traces never leave it: TLS and basic auth on every endpoint with curl, /probe
# limited to configured targets, gzip, and 200 idle connections that do not
# starve /metrics or /-/healthy. Needs root (network namespaces, raw sockets).
# Usage: http_serve_web_config_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/http_test_lib.sh"
http_test_begin "$1"
PORTPATH="$BUILD/portpath"
[[ $EUID -eq 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }
NS=$(printf 'ppweb%x%x' $$ $((RANDOM % 4096)))
ip netns add "$NS"
trap 'http_test_cleanup; ip netns del "$NS" 2>/dev/null || true' EXIT
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
cd "$WORK"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1" -keyout server.key -out server.crt 2>/dev/null
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))')
printf 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  scraper: %s\n' \
  "$hash" >web.yml
printf 'defaults:\n  interval: 5s\n  timeout: 200ms\n  max_hops: 4\ntargets:\n  - host: 127.0.0.1\n    port: 9\n' >config.yaml

(exec ip netns exec "$NS" "$PORTPATH" serve --config config.yaml --web.config.file "$WORK/web.yml" \
  --web.listen-address 127.0.0.1:0 >serve.log 2>&1) &
HTTP_TEST_PIDS+=($!)
for _ in $(seq 1 100); do grep -q "listening on" serve.log && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' serve.log | head -1)
[[ -n $PORT ]] || { cat serve.log >&2; echo "portpath serve did not start" >&2; exit 1; }
check "the start-up line says TLS and basic auth" yes \
  "$(grep -q "(port $PORT), TLS, basic auth" serve.log && echo yes || echo "no: $(grep 'listening on' serve.log)")"

base="https://127.0.0.1:$PORT"
CURL_PREFIX=(ip netns exec "$NS")
code() { https_status server.crt "$1" "$2" "$base$3"; }  # USER:PASSWORD|"" METHOD PATH
check_401_everywhere server.crt "$base" 'scraper:nope' "GET /metrics" "GET /-/healthy" "GET /-/ready" \
  "GET /" "POST /-/reload" "GET /probe?target=127.0.0.1:9"
check "GET /metrics with the password" 200 "$(code 'scraper:pw' GET /metrics)"
check "GET /-/healthy with the password" 200 "$(code 'scraper:pw' GET /-/healthy)"
check "POST /-/reload with the password" 200 "$(code 'scraper:pw' POST /-/reload)"
plain=$(in_ns curl -s --cacert server.crt -u scraper:pw "$base/metrics")
check "the exposition has portpath's metrics" yes "$(grep -q '^portpath_' <<<"$plain" && echo yes || echo no)"
gz=$(in_ns curl -s --compressed -D headers.txt --cacert server.crt -u scraper:pw "$base/metrics")
check "gzip (curl --compressed) says Content-Encoding: gzip" yes \
  "$(grep -qi '^Content-Encoding: gzip' headers.txt && echo yes || echo no)"
check "and decompresses to an exposition" yes "$(grep -q '^portpath_' <<<"$gz" && echo yes || echo no)"
check "/probe of an unconfigured target: 400" 400 "$(code 'scraper:pw' GET '/probe?target=127.0.0.1:10')"
check "/probe of a configured target: 200" 200 "$(code 'scraper:pw' GET '/probe?target=127.0.0.1:9')"
set +e
in_ns curl -s -o /dev/null -m 5 "http://127.0.0.1:$PORT/metrics"
rc=$?
set -e
check "plain HTTP to the TLS port gets no HTTP answer" yes "$([[ $rc == 52 || $rc == 56 ]] && echo yes || echo "no (curl exit $rc)")"

coproc CLIENTS { exec ip netns exec "$NS" python3 "$HTTP_TEST_DIR/idle_clients.py" "$PORT" 200; }
read -r opened <&"${CLIENTS[0]}"
check "200 idle connections open" "open 200" "$opened"
for path in /metrics /-/healthy; do
  t=$(in_ns curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' --cacert server.crt -u scraper:pw "$base$path" || true)
  echo "  $path with 200 idle connections: $t"
  check "$path within 2 s with 200 idle connections" yes \
    "$(awk -v s="${t% *}" -v t="${t#* }" 'BEGIN { exit !(s == 200 && t < 2) }' && echo yes || echo "no ($t)")"
done
eval "exec ${CLIENTS[1]}>&-"
wait "$CLIENTS_PID" || true

lab_test_end
