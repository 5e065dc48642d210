#!/usr/bin/env bash
# The tree is clang-formatted (.clang-format: Google style, 100 columns): every tracked C++ file,
# checked without touching it. On failure prints the files and the first differences, and the
# command that fixes them.
# Usage: format_check.sh SOURCE_DIR
set -uo pipefail
cd "$1" || exit 2
command -v clang-format >/dev/null || { echo "format check: clang-format missing (scripts/setup.sh installs it)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cc' '*.h' 2>/dev/null)
((${#files[@]})) || { echo "format check: no tracked C++ files under $1 (not a git checkout?)" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
echo "format check: ${#files[@]} files, ${#bad[@]} not formatted"
((${#bad[@]} == 0)) && exit 0
for f in "${bad[@]:0:10}"; do
  echo "--- $f"
  clang-format "$f" | diff -u "$f" - | head -20
done
echo "fix with: git ls-files '*.cc' '*.h' | xargs clang-format -i"
exit 1
