#!/usr/bin/env bash
# The unit and lab suites under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer):
# builds build-asan/ with gcc and -DPORTPATH_SANITIZE=ON, runs ctest there, and fails on any
# sanitizer report, also one from a portpath process that a lab script started and whose exit
# status or standard error it ignores: every process writes its reports to a file under one log
# directory, checked after the run.
#
#   scripts/test-sanitize.sh [--full] [ctest options...]      (as root, for the lab suites)
#   scripts/test-sanitize.sh --lab-tests BUILD_DIR             (names only; nothing is built)
#   scripts/test-sanitize.sh --build-only                      (builds build-asan/, runs nothing)
#
# By default (what CI runs, from scripts/test.sh) the long, timing-bound lab tests are left out:
# lab.policing and lab.rate_limit (ICMP policing at scale: 4 of the 12 lab minutes under ASan,
# code paths that lab.trace_cases and lab.forged_replies also take), the peer benchmark and the
# deploy bundle tests (Prometheus, Alertmanager, Kubernetes tooling). --full runs them too.
# Always left out: the source checks (tooling.format and tooling.tidy read the sources, not the
# binaries), the fuzz smoke test (it builds a clang tree of its own), the tests that fetch
# public data, and the serve benchmarks (lab.serve_bench_smoke, lab.serve_soak_short,
# lab.serve_load_short): their limits are the plain build's memory, and ASan's shadow memory and
# quarantine break them (serve at 181 MB resident for 200 target ports against the smoke's 40 MB
# limit; +154% in a 180 s soak against 5%), so they run in the plain build only.
# --lab-tests prints, one a line, the lab tests the default selection runs, as ctest lists them
# in BUILD_DIR (any configured tree of this source): scripts/test.sh leaves exactly those out of
# its plain run, so each lab test runs once, in one of the two builds.
# ASAN_BUILD_DIR moves the build tree; ASAN_JOBS sets the build's parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ASAN_BUILD_DIR:-build-asan}
jobs=${ASAN_JOBS:-2}
serve_bench='lab\.serve_(bench_smoke|soak_short|load_short)$'
select=(-LE 'tooling|fuzz|network-data|deploy'
  -E "^(lab\\.policing|lab\\.rate_limit|bench\\.)|^$serve_bench")
if [[ ${1:-} == --lab-tests ]]; then
  ctest --test-dir "${2:?--lab-tests needs a configured build directory}" -N -L lab "${select[@]}" |
    awk '$1 == "Test" && $2 ~ /^#/ { print $3 }'
  exit 0
fi
if [[ ${1:-} == --full ]]; then
  select=(-LE 'tooling|fuzz|network-data' -E "^$serve_bench")
  shift
fi

start=$SECONDS
# No -Werror here: gcc 12 with -fsanitize=address warns falsely (-Wmaybe-uninitialized inside
# <regex> and <functional>); the normal build keeps warnings fatal.
# -O1 -g1 rather than RelWithDebInfo's -O2 -g: with the sanitizers on, gcc 12 spends 3.8 times
# the CPU of the plain build on a translation unit (exporter/prober_service.cc: 72 s against 19 s)
# at -O2 -g, and 1.7 times (31 s) at -O1 -g1. -O1 is what the ASan documentation recommends
# (nothing a sanitizer checks is optimised away), and -g1's line tables are all a report's stack
# trace needs (function, file and line, inlined frames included).
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DPORTPATH_SANITIZE=ON \
  -DPORTPATH_WERROR=OFF >/dev/null
cmake --build "$build" -j"$jobs"
echo "test-sanitize: built in $((SECONDS - start)) s"
[[ ${1:-} == --build-only ]] && exit 0

# One report file per process, lab children included (uid 65534 after a privilege drop too,
# hence a sticky world-writable directory). ASan halts at its first error (its default) and
# LeakSanitizer reports at exit. UBSan does not halt, and its reports do not reach the files:
# gcc 12 links libubsan beside libasan, and libubsan then ignores log_path (in UBSAN_OPTIONS and
# ASAN_OPTIONS alike) and writes to standard error, halting or not (checked: an injected signed
# overflow in portpath's main printed there and left no file). So this script also fails on a
# UBSan report in ctest's log (every test's output): a gtest test's, or a portpath's whose
# standard error a lab script passes through. One that a lab script discards or keeps in a file
# of its own is still lost; clang's runtime, one library, writes them to log_path.
logs=$(mktemp -d "${TMPDIR:-/tmp}/portpath-sanitize.XXXXXX")
chmod 1777 "$logs"
trap 'rm -rf "$logs"' EXIT
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan"

tests_start=$SECONDS
status=0
ctest --test-dir "$build" --output-on-failure --timeout 900 "${select[@]}" "$@" || status=$?
echo "test-sanitize: tests ran in $((SECONDS - tests_start)) s (ctest status $status)," \
  "$((SECONDS - start)) s in all"

shopt -s nullglob
reports=("$logs"/*)
ubsan=$(grep -h -E ': runtime error: |UndefinedBehaviorSanitizer' \
  "$build"/Testing/Temporary/LastTest*.log || true)
if ((${#reports[@]})) || [[ -n $ubsan ]]; then
  echo "test-sanitize: ${#reports[@]} sanitizer report file(s):" >&2
  for r in "${reports[@]}"; do
    echo "==== $r" >&2
    cat "$r" >&2
  done
  if [[ -n $ubsan ]]; then
    echo "test-sanitize: UBSan reports in $build/Testing/Temporary/LastTest.log:" >&2
    printf '%s\n' "$ubsan" | sort | uniq -c >&2
  fi
  exit 1
fi
exit "$status"
