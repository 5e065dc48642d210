#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, the
# network-namespace lab tests (root), promtool and Prometheus checks, and the
# unit and lab suites under ASan and UBSan.
#
#   scripts/test.sh                  every test (what CI runs, .ci/run)
#   scripts/test.sh CTEST-ARGS...    ctest over build/ alone with those arguments
#                                    (-L lab, -LE lab, -R NAME, ...); no sanitizer build
#
# Without arguments, two runs: ctest over build/ runs every test but the lab tests that
# scripts/test-sanitize.sh covers, then scripts/test-sanitize.sh builds build-asan/ and runs the
# unit tests and those lab tests there. So each lab test runs once, under the sanitizers unless
# that run leaves it out (lab.policing, lab.rate_limit, the peer benchmark, the deploy bundle),
# and the unit tests run in both builds. Both runs always run; the script fails if either does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if (($#)); then
  exec ctest --test-dir build --output-on-failure --timeout 600 "$@"
fi

# The sanitizer build (8 of the 44 minutes CI took with it in line) runs in the background at
# the lowest CPU priority while the plain tests run: most of their time is lab tests waiting on
# timeouts and policed routers, and whenever a test wants the CPU the kernel gives it to the
# test, so the tests' timing barely changes. The sanitizer run's own build step is then a no-op.
# setsid gives the build a process group to kill on an early exit; a new session is also a new
# scheduler autogroup (kernel.sched_autogroup_enabled), and nice only ranks processes within
# their group, so the group itself is set to nice 19 as well.
mkdir -p build-asan
setsid bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null
  exec nice -n 19 bash scripts/test-sanitize.sh --build-only' >build-asan/background-build.log 2>&1 &
asan_build=$!
trap 'kill -- -"$asan_build" 2>/dev/null || true' EXIT
mapfile -t sanitized < <(bash scripts/test-sanitize.sh --lab-tests build)
((${#sanitized[@]})) || { echo "test: no lab test in the sanitizer run's selection" >&2; exit 1; }
pattern=$(printf '%s\n' "${sanitized[@]}" | sed 's/[.]/\\./g' | paste -sd '|')
status=0
start=$SECONDS
ctest --test-dir build --output-on-failure --timeout 600 -E "^($pattern)\$" || status=$?
echo "test: plain run in $((SECONDS - start)) s (ctest status $status);" \
  "${#sanitized[@]} lab tests left to the sanitizer run"
build_status=0
wait "$asan_build" || build_status=$?
trap - EXIT
if ((build_status == 0)); then
  echo "test: background sanitizer build: $(tail -1 build-asan/background-build.log)"
else
  echo "test: the background sanitizer build failed (the sanitizer run builds again); its log:" >&2
  tail -40 build-asan/background-build.log >&2
fi
bash scripts/test-sanitize.sh || status=$?
echo "test: $((SECONDS - start)) s after the build of build/"
exit "$status"
