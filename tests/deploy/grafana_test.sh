#!/usr/bin/env bash
# The Grafana dashboard, offline: valid JSON, type-checked against @grafana/schema
# (the dashboard, and each panel's options and field config against its panel
# type), datasource as a variable. Every query is run against a real Prometheus
# that scraped the exporter in alerting_lab_test.sh. Usage: grafana_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tests/lab/test_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools=$(bash "$root/tests/deploy/npm_tools.sh")
dash="$root/grafana/portpath-dashboard.json"

check "valid JSON" 0 "$(jq empty "$dash" >/dev/null 2>&1; echo $?)"
check "datasource is a variable used by every panel and query" yes \
  "$(jq -e '([.templating.list[] | select(.type == "datasource")] | length == 1) and
            ([.panels[] | select(.type != "row") | .datasource.uid, .targets[].datasource.uid] | all(. == "${datasource}"))' \
    "$dash" >/dev/null && echo yes || echo no)"
check "variables for instance, target and port" "instance port target" \
  "$(jq -r '[.templating.list[] | select(.type == "query") | .name] | sort | join(" ")' "$dash")"
ln -s "$tools/node_modules" "$work/node_modules"
node "$root/tests/deploy/grafana_typecheck.js" "$dash" "$work"
out=$(cd "$work" && "$tools/node_modules/.bin/tsc" -p . 2>&1) && rc=0 || rc=$?
check "tsc: satisfies @grafana/schema Dashboard and each panel type's Options/FieldConfig" 0 "$rc"
[[ $rc == 0 ]] || echo "$out" | head -20
lab_test_end
