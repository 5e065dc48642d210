#!/usr/bin/env bash
# Installs the pinned npm tools of tests/deploy/package-lock.json (schemas, the
# Dockerfile linter, TypeScript) once, outside the source tree, and prints the
# directory that holds their node_modules. Reruns with the same lock file cost
# nothing. Cache: $PORTPATH_CACHE (default /var/cache/portpath).
# Usage: dir=$(bash tests/deploy/npm_tools.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${PORTPATH_CACHE:-/var/cache/portpath}
command -v npm >/dev/null || { echo "npm_tools: npm is missing (scripts/setup.sh installs it)" >&2; exit 1; }
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
dir="$cache/deploy-node/$key"
if [[ ! -f $dir/.installed ]]; then
  mkdir -p "$dir"
  exec 9>"$dir.lock"
  flock 9
  if [[ ! -f $dir/.installed ]]; then
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    # --ignore-scripts: nothing from the registry runs at install time.
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
      --cache "$cache/npm-cache" >&2)
    touch "$dir/.installed"
  fi
fi
echo "$dir"
