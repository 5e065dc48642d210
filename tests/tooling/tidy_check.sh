#!/usr/bin/env bash
# The tree is clang-tidy clean (.clang-tidy at the root says which checks and why): every project
# translation unit of the build's compile_commands.json (generated sources in the build tree left
# out), nproc clang-tidy processes in parallel. On failure prints every finding once (a header's
# finding is reported by each file that includes it) and a count per check.
# Usage: tidy_check.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$(cd "$1" && pwd -P) || exit 2
build=$(cd "$2" && pwd -P) || exit 2
tidy=$(command -v clang-tidy-14 || command -v clang-tidy) ||
  { echo "tidy check: clang-tidy missing (scripts/setup.sh installs it)" >&2; exit 1; }
db=$build/compile_commands.json
[[ -f $db ]] || { echo "tidy check: no $db (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)" >&2; exit 1; }
[[ -f $src/.clang-tidy ]] || { echo "tidy check: no $src/.clang-tidy" >&2; exit 1; }

# CMake writes one `"file": "PATH"` line per entry; a source built into two targets appears twice.
mapfile -t files < <(sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$db" |
  grep -F "$src/" | grep -vF "$build/" | sort -u)
((${#files[@]})) || { echo "tidy check: no sources of $src in $db" >&2; exit 1; }

# Findings in the project's own headers, never in system or third-party ones. The source path is
# anchored (and escaped): an unanchored "config/" would also match e.g. freetype's headers.
src_re=$(printf '%s' "$src" | sed 's/[][\.^$*+?(){}|]/\\&/g')
header_filter="^$src_re/(app|config|exporter|probe|tests|bench)/"

out=$(mktemp -d) || exit 2
trap 'rm -rf "$out"' EXIT
start=$SECONDS
# One log per file so parallel output never interleaves. --quiet drops the "N warnings suppressed"
# notes; the remaining "N warnings generated." lines are filtered below.
printf '%s\0' "${files[@]}" | xargs -0 -P "$(nproc)" -n 1 bash -c '
  log=$0/$(printf "%s" "$4" | tr / _).log
  "$1" -p "$2" --quiet --header-filter="$3" "$4" >"$log" 2>&1 || echo "$4" >>"$0/failed"
' "$out" "$tidy" "$build" "$header_filter"
elapsed=$((SECONDS - start))

# A finding is its "file:line:col: warning|error: ... [check]" line and the source lines after it.
findings=$(cat "$out"/*.log | grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): ' | sort -u)
nfailed=0
[[ -f $out/failed ]] && nfailed=$(wc -l <"$out/failed")
nfind=0
[[ -n $findings ]] && nfind=$(printf '%s\n' "$findings" | wc -l)
echo "tidy check: ${#files[@]} translation units, $nfind findings, $nfailed files failed," \
  "${elapsed}s with $(nproc) jobs ($("$tidy" --version | grep -o 'version [0-9.]*'))"
((nfailed == 0 && nfind == 0)) && exit 0

if ((nfind)); then
  printf '%s\n' "$findings" | grep -oE '\[[a-z0-9.-]+(,-warnings-as-errors)?\]$' |
    sed 's/,-warnings-as-errors//' | sort | uniq -c | sort -rn
  echo
  # Full diagnostics (with source excerpt and notes) of the first files, then every finding line.
  shown=0
  for log in "$out"/*.log; do
    grep -qE ': (warning|error): ' "$log" || continue
    grep -vE '^[0-9]+ (warning|error)s? (and [0-9]+ (warning|error)s? )?generated\.$' "$log" |
      head -60
    ((++shown >= 5)) && break
  done
  echo
  echo "all findings:"
  printf '%s\n' "$findings"
fi
if ((nfailed)) && ((nfind == 0)); then
  echo "clang-tidy failed on:"
  cat "$out/failed"
  for f in $(head -3 "$out/failed"); do
    tail -20 "$out/$(printf '%s' "$f" | tr / _).log"
  done
fi
exit 1
