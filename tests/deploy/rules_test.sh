#!/usr/bin/env bash
# The alert rules: promtool checks the source of truth and runs its unit tests
# (every alert firing and not firing, with the rendered annotations); the
# PrometheusRule in the Kubernetes bundle is exactly what the generator makes of
# it, and the rules inside it pass promtool too. Usage: rules_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tests/lab/test_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

out=$(promtool check rules "$root/rules/portpath.rules.yml" 2>&1) && rc=0 || rc=$?
check "promtool check rules rules/portpath.rules.yml" "0" "$rc"
[[ $rc == 0 ]] || echo "$out"
out=$(cd "$root/rules" && promtool test rules tests/portpath.rules.test.yml 2>&1) && rc=0 || rc=$?
check "promtool test rules (every alert firing and not firing)" "0" "$rc"
[[ $rc == 0 ]] || echo "$out"
check "... every alert of the rules file has a unit test" "" \
  "$(comm -23 <(grep -o 'alert: [A-Za-z]*' "$root/rules/portpath.rules.yml" | sort -u | cut -d' ' -f2) \
              <(grep -o 'alertname: [A-Za-z]*' "$root/rules/tests/portpath.rules.test.yml" | sort -u | cut -d' ' -f2) | tr '\n' ' ')"
check "... and a runbook section" "" \
  "$(for a in $(grep -o 'alert: [A-Za-z]*' "$root/rules/portpath.rules.yml" | cut -d' ' -f2); do
       grep -q "^## $a\$" "$root/docs/runbook.md" || printf '%s ' "$a"; done)"

"$root/rules/generate-prometheusrule.sh" "$work/prometheusrule.yaml"
check "k8s/base/prometheusrule.yaml is generated from the rules (up to date)" same \
  "$(cmp -s "$work/prometheusrule.yaml" "$root/k8s/base/prometheusrule.yaml" && echo same || echo "differs: run rules/generate-prometheusrule.sh")"
python3 -c 'import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
assert doc["kind"] == "PrometheusRule"
yaml.safe_dump({"groups": doc["spec"]["groups"]}, open(sys.argv[2], "w"))' \
  "$root/k8s/base/prometheusrule.yaml" "$work/from-prometheusrule.yml"
out=$(promtool check rules "$work/from-prometheusrule.yml" 2>&1) && rc=0 || rc=$?
check "promtool check rules on the PrometheusRule's spec" "0" "$rc"
[[ $rc == 0 ]] || echo "$out"
lab_test_end
