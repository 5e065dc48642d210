#!/usr/bin/env bash
# Acceptance: without CAP_NET_RAW, portpath says which capability is missing and
# how to grant it. By default it then probes in connect mode instead (the
# unprivileged fallback; unprivileged_test.sh checks its verdicts); with raw mode
# forced (PORTPATH_PROBE_MODE=raw) it exits with status 3 (no crash, no probe sent).
# Usage: capability_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"

set +e
msg=$(ip netns exec "$LAB-c" capsh --drop=cap_net_raw -- -c "PORTPATH_PROBE_MODE=raw '$PORTPATH' trace $LAB_TARGET4:80" 2>&1)
rc=$?
set -e
echo "  message: $msg"
check "exit status" 3 "$rc"
check "names the capability" yes "$(grep -q 'CAP_NET_RAW' <<<"$msg" && echo yes || echo no)"
check "says how to grant it (setcap)" yes "$(grep -q 'setcap cap_net_raw+ep' <<<"$msg" && echo yes || echo no)"
check "mentions the Kubernetes securityContext" yes "$(grep -q 'securityContext' <<<"$msg" && echo yes || echo no)"

echo "by default, the connect() fallback:"
set +e
msg=$(ip netns exec "$LAB-c" capsh --drop=cap_net_raw -- -c "'$PORTPATH' trace $LAB_TARGET4:80" 2>&1)
rc=$?
set -e
check "exit status (the port is open)" 0 "$rc"
check "says it probes in connect mode, and why" yes \
  "$(grep -q 'raw sockets refused (no CAP_NET_RAW): probing in connect mode' <<<"$msg" && echo yes || echo no)"
check "still says how to grant the capability (setcap)" yes "$(grep -q 'setcap cap_net_raw+ep' <<<"$msg" && echo yes || echo no)"
echo "serve --user: sockets opened as root, then uid 65534 with no capability:"
work=$(mktemp -d)
chmod 755 "$work"
# A short interval: the first round comes at the target's phase within it.
printf 'defaults: {interval: 2s}\ntargets:\n  - {host: %s, ports: [80]}\n' "$LAB_TARGET4" >"$work/config.yaml"
chmod 644 "$work/config.yaml"
(exec ip netns exec "$LAB-c" "$PORTPATH" serve --config "$work/config.yaml" --user 65534 \
  --web.listen-address 127.0.0.1:0 >"$work/serve.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/serve.log" && break
  sleep 0.1
done
port=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$work/serve.log" | head -1)
check "uid and capabilities of the running exporter" "65534 0000000000000000" \
  "$(awk '/^Uid:/{u=$3} /^CapEff:/{c=$2} END{print u, c}' /proc/$pid/status)"
ok=no
for _ in $(seq 1 150); do
  if ip netns exec "$LAB-c" curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^portpath_port_open{.*} 1'; then ok=yes; break; fi
  sleep 0.2
done
check "... and it still traces with the sockets it opened (port open)" yes "$ok"
check "... a reload as that user works" 200 \
  "$(ip netns exec "$LAB-c" curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/-/reload")"
kill "$pid"; wait "$pid" 2>/dev/null || true
rm -rf "$work"
lab_test_end
