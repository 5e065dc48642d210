#!/usr/bin/env bash
# Acceptance: without CAP_NET_RAW, portpath says which capability is missing and
# how to grant it, and exits with status 3 (no crash, no probe sent).
# Usage: capability_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"

set +e
msg=$(ip netns exec "$LAB-c" capsh --drop=cap_net_raw -- -c "'$PORTPATH' trace $LAB_TARGET4:80" 2>&1)
rc=$?
set -e
echo "  message: $msg"
check "exit status" 3 "$rc"
check "names the capability" yes "$(grep -q 'CAP_NET_RAW' <<<"$msg" && echo yes || echo no)"
check "says how to grant it (setcap)" yes "$(grep -q 'setcap cap_net_raw+ep' <<<"$msg" && echo yes || echo no)"
check "mentions the Kubernetes securityContext" yes "$(grep -q 'securityContext' <<<"$msg" && echo yes || echo no)"
lab_test_end
