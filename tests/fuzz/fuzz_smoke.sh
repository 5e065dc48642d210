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
# Two harnesses at a time: each runs for $seconds of wall time (-max_total_time), on a core of
# its own when nothing else is busy, and the smoke takes half the wall time (one after another
# it took 90 s of a CI run). Results are printed in harness order once all have finished.
smoke_one() {
  local name=$1 log=$work/$1.log runs rate cov
  if fuzz_run "$src" "$build" "$name" "$work/corpus/$name" "$build/fuzz/artifacts/$name" \
      -max_total_time="$seconds" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz smoke: $name: ${runs:-?} runs, ${rate:-?}/s, $cov" >"$work/$name.result"
  else
    { echo "fuzz smoke: $name FAILED; its output:"; tail -60 "$log"; } >"$work/$name.failed"
  fi
}
for name in "${FUZZ_HARNESSES[@]}"; do
  (($(jobs -rp | wc -l) >= ${FUZZ_SMOKE_JOBS:-2})) && wait -n
  smoke_one "$name" &
done
wait
failed=0
for name in "${FUZZ_HARNESSES[@]}"; do
  if [[ -f $work/$name.result ]]; then
    cat "$work/$name.result"
  else
    failed=1
    cat "$work/$name.failed" >&2 2>/dev/null || echo "fuzz smoke: $name left no result" >&2
  fi
done
echo "fuzz smoke: total $((SECONDS - start)) s"
exit $failed
