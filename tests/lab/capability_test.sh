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
lab_test_end
