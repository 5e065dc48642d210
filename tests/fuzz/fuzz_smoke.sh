#!/usr/bin/env bash
# CI's short fuzz run (ctest: fuzz.smoke). Builds the clang fuzz tree in BUILD_DIR, then runs
# every harness for FUZZ_SMOKE_SECONDS (default 10) from its seeds, after replaying its
# regression inputs (tests/fuzz/regressions). Fails on any crash, leak, hang or sanitizer report
# and prints the harness's output and the path of the input that did it.
#
#   tests/fuzz/fuzz_smoke.sh SOURCE_DIR BUILD_DIR
#
# Exits 77 (skipped) when clang cannot link libFuzzer binaries, except under CI=true, where a
# missing fuzzer is a failure.
set -uo pipefail
src=$(cd "$1" && pwd)
build=$2
seconds=${FUZZ_SMOKE_SECONDS:-10}
source "$src/tests/fuzz/fuzz_lib.sh"

if ! fuzz_have_clang; then
  echo "fuzz smoke: clang++ cannot link -fsanitize=fuzzer (install clang libclang-rt-14-dev)" >&2
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi
start=$SECONDS
mkdir -p "$build"
if ! fuzz_build "$src" "$build" >"$build/fuzz-build.log" 2>&1; then
  tail -40 "$build/fuzz-build.log" >&2
  echo "fuzz smoke: building the harnesses failed" >&2
  exit 1
fi
echo "fuzz smoke: built in $((SECONDS - start)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for name in "${FUZZ_HARNESSES[@]}"; do
  log=$work/$name.log
  if fuzz_run "$src" "$build" "$name" "$work/corpus/$name" "$build/fuzz/artifacts/$name" \
      -max_total_time="$seconds" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz smoke: $name: ${runs:-?} runs, ${rate:-?}/s, $cov"
  else
    failed=1
    echo "fuzz smoke: $name FAILED; its output:" >&2
    tail -60 "$log" >&2
  fi
done
echo "fuzz smoke: total $((SECONDS - start)) s"
exit $failed
