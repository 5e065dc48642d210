#!/usr/bin/env bash
# gzip on request (issue 9): /metrics honours Accept-Encoding, checked with two
# real clients that decompress (curl --compressed and Python's urllib + gzip),
# and stays plain for a client that does not ask.
# Usage: http_gzip_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/http_test_lib.sh"
http_test_begin "$1"
start_test_server plain
url="http://127.0.0.1:$PORT/metrics"

plain=$(curl -s -D "$WORK/plain.h" "$url")
check "without Accept-Encoding: no Content-Encoding" no \
  "$(grep -qi '^Content-Encoding' "$WORK/plain.h" && echo yes || echo no)"
check "the plain exposition has every series" 2000 "$(grep -c '^portpath_port_open' <<<"$plain")"

curl -s -H 'Accept-Encoding: gzip' -o "$WORK/raw.gz" -D "$WORK/gz.h" "$url"
check "with Accept-Encoding: gzip: Content-Encoding: gzip" yes \
  "$(tr -d '\r' <"$WORK/gz.h" | grep -qix 'Content-Encoding: gzip' && echo yes || echo no)"
check "Vary: Accept-Encoding" yes "$(tr -d '\r' <"$WORK/gz.h" | grep -qix 'Vary: Accept-Encoding' && echo yes || echo no)"
check "the compressed body is a gzip file" yes "$(gzip -t "$WORK/raw.gz" && echo yes || echo no)"
ratio=$(( $(printf '%s\n' "$plain" | wc -c) / $(wc -c <"$WORK/raw.gz") ))
check "it is much smaller (at least 5x)" yes "$([[ $ratio -ge 5 ]] && echo yes || echo "no (${ratio}x)")"

check "curl --compressed: same text" yes \
  "$([[ "$(curl -s --compressed "$url")" == "$plain" ]] && echo yes || echo no)"
py=$(python3 - "$url" <<'PY'
import gzip, sys, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Accept-Encoding": "gzip"})
with urllib.request.urlopen(req) as r:
    assert r.headers["Content-Encoding"] == "gzip", r.headers
    sys.stdout.write(gzip.decompress(r.read()).decode())
PY
)
check "Python urllib + gzip: same text" yes "$([[ $py == "$plain" ]] && echo yes || echo no)"
check "gzip;q=0 gets plain text" no \
  "$(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip;q=0, identity' "$url" | grep -qi '^Content-Encoding' && echo yes || echo no)"

lab_test_end
