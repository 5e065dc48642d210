#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit tests, the
# network-namespace lab tests (root), promtool and Prometheus checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir build --output-on-failure --timeout 600 "$@"
