#!/usr/bin/env bash
# Long fuzz runs (tests/fuzz): builds build-fuzz/ with clang, then runs each harness for RUNS
# executions (default 10^7), one at a time, keeping its corpus in build-fuzz/corpus/NAME from one
# run to the next. Prints one Markdown row per harness (executions, time, exec/s, coverage,
# corpus, peak RSS, crashes) and appends it to build-fuzz/fuzz-results.md; crash inputs are kept
# in build-fuzz/fuzz/artifacts/NAME. Exits 1 if any harness crashed, leaked or hung.
#
#   scripts/fuzz.sh [-r RUNS] [-t MAX_SECONDS] [HARNESS...]     (default: every harness)
#
# FUZZ_BUILD_DIR moves the build tree; FUZZ_UNIT_TIMEOUT (seconds, default 10) is how long one
# input may run before it counts as a hang (raise it for runs at nice 19 on a busy machine).
# Harnesses: see FUZZ_HARNESSES in tests/fuzz/fuzz_lib.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
source tests/fuzz/fuzz_lib.sh
build=${FUZZ_BUILD_DIR:-build-fuzz}
runs=10000000
limit=()
while getopts "r:t:" opt; do
  case $opt in
    r) runs=$OPTARG ;;
    t) limit=(-max_total_time="$OPTARG") ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
harnesses=("$@")
((${#harnesses[@]})) || harnesses=("${FUZZ_HARNESSES[@]}")

fuzz_have_clang || { echo "fuzz: clang++ cannot link -fsanitize=fuzzer (install clang libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p "$build"
fuzz_build "$src" "$build" >"$build/fuzz-build.log" 2>&1 || { tail -40 "$build/fuzz-build.log" >&2; exit 2; }

results=$build/fuzz-results.md
header='| harness | executions | time (s) | exec/s | cov | ft | corpus | peak RSS (MB) | crashes |'
echo "$header"
echo '|---|---|---|---|---|---|---|---|---|'
[[ -s $results ]] || printf '%s\n|---|---|---|---|---|---|---|---|---|\n' "$header" >"$results"
failed=0
for name in "${harnesses[@]}"; do
  log=$build/fuzz-$name.log
  artifacts=$build/fuzz/artifacts/$name
  before=$(find "$artifacts" -type f 2>/dev/null | wc -l)
  start=$SECONDS
  fuzz_run "$src" "$build" "$name" "$build/corpus/$name" "$artifacts" -runs="$runs" "${limit[@]}" \
    >"$log" 2>&1
  rc=$?
  elapsed=$((SECONDS - start))
  crashes=$(($(find "$artifacts" -type f 2>/dev/null | wc -l) - before))
  ((rc != 0)) && failed=1
  stat() { sed -n "s/^stat::$1: *//p" "$log"; }
  done_line=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$done_line" | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' <<<"$done_line" | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' <<<"$done_line" | cut -d' ' -f2)
  row="| $name | $(stat number_of_executed_units) | $elapsed | $(stat average_exec_per_sec) | $cov | $ft | $corp | $(stat peak_rss_mb) | $crashes$( ((rc != 0)) && echo " (exit $rc, see $log)") |"
  echo "$row"
  echo "$row" >>"$results"
done
exit $failed
