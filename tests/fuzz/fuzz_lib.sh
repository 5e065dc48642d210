# Shared by scripts/fuzz.sh (long runs) and tests/fuzz/fuzz_smoke.sh (CI): how to build the
# clang fuzz tree and how to run one harness. Source it; it defines functions only.

# Every harness, in the order they run.
FUZZ_HARNESSES=(ip_packet transport icmp_extensions link_layer probe_codec target scalars asn_csv config)

# fuzz_have_clang: true when clang++ can link a libFuzzer binary (Debian: clang, libclang-rt-14-dev).
fuzz_have_clang() {
  command -v clang++ >/dev/null 2>&1 || return 1
  local probe
  probe=$(mktemp -d)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' \
    > "$probe/p.cc"
  clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" >/dev/null 2>&1
  local rc=$?
  rm -rf "$probe"
  return $rc
}

# fuzz_build SOURCE_DIR BUILD_DIR: configures (clang, tests off) and builds every harness and
# the seed corpora (BUILD_DIR/fuzz/seeds).
fuzz_build() {
  local src=$1 build=$2
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DPORTPATH_FUZZ=ON -DPORTPATH_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j2 --target portpath_fuzzers
}

# fuzz_run SOURCE_DIR BUILD_DIR NAME WORK_CORPUS ARTIFACT_DIR [libFuzzer options...]
# Runs harness NAME over WORK_CORPUS (written to), its generated seeds, its hand-written seeds
# and its regression inputs (replayed first: a regression that crashes again fails the run).
# Crash inputs go to ARTIFACT_DIR. Returns libFuzzer's status (0: no crash, leak or timeout).
fuzz_run() {
  local src=$1 build=$2 name=$3 corpus=$4 artifacts=$5
  shift 5
  local dirs=("$corpus")
  local d
  for d in "$build/fuzz/seeds/$name" "$src/tests/fuzz/seeds/$name" "$src/tests/fuzz/regressions/$name"; do
    [[ -d $d ]] && dirs+=("$d")
  done
  # FUZZ_UNIT_TIMEOUT: seconds one input may take before it counts as a hang (libFuzzer's
  # -timeout, wall clock). 10 by default; a long run at nice 19 on a busy machine can be starved
  # of the CPU for longer than that (two such "timeouts" ran in 10 to 14 ms when replayed), so
  # scripts/fuzz.sh runs are best given more, e.g. 120.
  # -reload=0: one process per corpus, so nothing else adds to it; libFuzzer would otherwise list
  # the whole corpus directory every second (4% of a config run with 6,000 files there).
  local options=(-timeout="${FUZZ_UNIT_TIMEOUT:-10}" -rss_limit_mb=2048 -reload=0 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  case $name in
    config)
      # Bounded allocations: an input that makes the loader allocate without bound (yaml-cpp
      # 0.7.0's LoadAll(",") did) is reported as a crash, not an OOM of the machine.
      options+=(-dict="$src/tests/fuzz/dicts/config.dict" -max_len=4096 -malloc_limit_mb=1024) ;;
    target | scalars) options+=(-max_len=512) ;;
    asn_csv) options+=(-max_len=2048) ;;
  esac
  mkdir -p "$corpus" "$artifacts"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    "$build/fuzz/fuzz_$name" "${options[@]}" "$@" "${dirs[@]}"
}
