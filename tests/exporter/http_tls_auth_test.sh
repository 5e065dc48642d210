#!/usr/bin/env bash
# --web.config.file (issue 8): TLS and basic auth on every endpoint, checked with
# real clients. A self-signed certificate made by openssl, a bcrypt hash made by
# Python's crypt (libxcrypt), the exporter's HTTP server, and curl with
# --cacert: the right user and password get every endpoint, a wrong or missing
# one gets 401 with WWW-Authenticate everywhere (unknown paths included), plain
# HTTP to the TLS port gets no HTTP answer, and bad web configs are refused
# with the file, line and column, by `portpath serve` too (exit 2).
# Usage: http_tls_auth_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/http_test_lib.sh"
http_test_begin "$1"
cd "$WORK"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout server.key -out server.crt 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key 2>/dev/null
hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))')
# htpasswd writes $2y$: the same algorithm, accepted too.
cat >web.yml <<EOF2
# exporter-toolkit format; file names relative to this file
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  prometheus: $hash
  grafana: '${hash/\$2b\$/\$2y\$}'
EOF2
start_test_server tls "$WORK/web.yml"
base="https://127.0.0.1:$PORT"

code() { https_status server.crt "$1" "$2" "$base$3"; }  # USER:PASSWORD|"" METHOD PATH

echo "right credentials:"
for ep in "GET /metrics 200" "GET /-/healthy 200" "GET /-/ready 200" "GET / 200" \
          "GET /probe?target=configured:1 200" "POST /-/reload 200" "GET /nope 404"; do
  read -r method path want <<<"$ep"
  check "$method $path" "$want" "$(code 'prometheus:s3cret pw' "$method" "$path")"
done
check "a \$2y\$ hash (htpasswd) works too" 200 "$(code 'grafana:s3cret pw' GET /metrics)"
body=$(curl -s --cacert server.crt -u 'prometheus:s3cret pw' "$base/metrics")
check "the exposition comes through" 2000 "$(grep -c '^portpath_port_open' <<<"$body")"

echo "wrong or missing credentials, on every endpoint:"
check_401_everywhere server.crt "$base" 'prometheus:wrong' "GET /metrics" "GET /-/healthy" \
  "GET /-/ready" "GET /" "GET /probe?target=configured:1" "POST /-/reload" "GET /nope" "HEAD /metrics"
check "an unknown user" 401 "$(code 'mallory:s3cret pw' GET /metrics)"
check "a user with another user's hash name" 401 "$(code 'Prometheus:s3cret pw' GET /metrics)"
headers=$(curl -s -D - -o /dev/null --cacert server.crt "$base/metrics" | tr -d '\r')
check "401 carries WWW-Authenticate" 'WWW-Authenticate: Basic realm="portpath", charset="UTF-8"' \
  "$(grep -i '^WWW-Authenticate' <<<"$headers")"

echo "TLS only:"
set +e
curl -s -o /dev/null -m 5 "http://127.0.0.1:$PORT/metrics"
rc=$?
set -e
check "plain HTTP to the TLS port gets no HTTP answer (curl exit 52/56)" yes \
  "$([[ $rc == 52 || $rc == 56 ]] && echo yes || echo "no (curl exit $rc)")"
check "the certificate is the one configured (no --cacert: refused)" 000 \
  "$(curl -s -o /dev/null -w '%{http_code}' -u 'prometheus:s3cret pw' "$base/metrics" || true)"
check "TLS 1.1 is refused" 000 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert server.crt --tls-max 1.1 -u 'prometheus:s3cret pw' "$base/metrics" || true)"
check "the server still serves after all that" 200 "$(code 'prometheus:s3cret pw' GET /-/healthy)"

echo "a certificate signed by an intermediate CA, its chain in cert_file:"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n' >ca.ext
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
{
  openssl req -x509 "${ec[@]}" -days 2 -subj /CN=root -keyout root.key -out root.crt
  openssl req "${ec[@]}" -subj /CN=intermediate -keyout mid.key -out mid.csr
  openssl x509 -req -in mid.csr -CA root.crt -CAkey root.key -days 2 -extfile ca.ext -out mid.crt
  openssl req "${ec[@]}" -subj /CN=127.0.0.1 -keyout leaf.key -out leaf.csr
  printf 'subjectAltName=IP:127.0.0.1\n' >leaf.ext
  openssl x509 -req -in leaf.csr -CA mid.crt -CAkey mid.key -days 2 -extfile leaf.ext -out leaf.crt
} 2>/dev/null
cat leaf.crt mid.crt >chain.crt
printf 'tls_server_config:\n  cert_file: chain.crt\n  key_file: leaf.key\n' >chain.yml
tls_port=$PORT
start_test_server chain "$WORK/chain.yml"
check "a client trusting only the root CA gets through" 200 \
  "$(https_status root.crt '' GET "https://127.0.0.1:$PORT/-/healthy")"
PORT=$tls_port

echo "gzip over TLS (curl --compressed decompresses):"
gz=$(curl -s --compressed --cacert server.crt -u 'prometheus:s3cret pw' -D headers.txt "$base/metrics")
check "Content-Encoding: gzip" yes "$(grep -qi '^Content-Encoding: gzip' headers.txt && echo yes || echo no)"
check "decompressed body equals the plain one" yes "$([[ $gz == "$body" ]] && echo yes || echo no)"

echo "bad web configs are refused with file:line:column:"
bad() {  # NAME CONTENT EXPECTED_MESSAGE_PART
  printf '%s' "$2" >"bad-$1.yml"
  set +e
  msg=$("$TEST_SERVER" 127.0.0.1:0 "$WORK/bad-$1.yml" </dev/null 2>&1)
  rc=$?
  set -e
  check "$1: exit 2" 2 "$rc"
  check "$1: message" yes "$(grep -qF -- "$3" <<<"$msg" && echo yes || echo "no: $msg")"
}
bad yaml-syntax $'basic_auth_users:\n  alice: [x\n' "$WORK/bad-yaml-syntax.yml:3:1: end of sequence flow not found"
bad not-a-hash $'basic_auth_users:\n  alice: secret\n' "$WORK/bad-not-a-hash.yml:2:10: basic_auth_users.alice: not a bcrypt hash"
bad unknown-key $'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n' \
  "$WORK/bad-unknown-key.yml:4:19: tls_server_config.client_ca_file is not supported by portpath"
bad missing-cert $'tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n' \
  "$WORK/bad-missing-cert.yml: tls_server_config: cert_file $WORK/nope.crt: cannot read: No such file or directory"
bad key-mismatch $'tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n' \
  "is not the key of cert_file $WORK/server.crt"

PORTPATH="$BUILD/portpath"
if [[ -x $PORTPATH && $EUID -eq 0 ]]; then
  echo "portpath serve refuses a bad web config before it starts anything:"
  # In an empty network namespace, with a loopback target and a time limit: were
  # the web config ignored, nothing could leave and the test would still end.
  printf 'targets:\n  - host: 127.0.0.1\n    port: 9\n' >config.yaml
  set +e
  msg=$(timeout 20 unshare -n "$PORTPATH" serve --config config.yaml \
    --web.config.file "$WORK/bad-not-a-hash.yml" --web.listen-address 127.0.0.1:0 2>&1)
  rc=$?
  set -e
  check "portpath serve: exit 2" 2 "$rc"
  check "portpath serve: names file:line:column" yes \
    "$(grep -qF "$WORK/bad-not-a-hash.yml:2:10: basic_auth_users.alice: not a bcrypt hash" <<<"$msg" && echo yes || echo "no: $msg")"
else
  echo "  (portpath serve not checked: needs the portpath binary and root for a network namespace)"
fi

lab_test_end
