#!/usr/bin/env bash
# The Kubernetes bundle, offline: `kubectl kustomize` builds every overlay;
# yamllint; every object passes its kind's schema (kubernetes-models,
# @kubernetes-models/prometheus-operator) and, as a TypeScript literal of its
# kind, has no field the schema does not know; the deployment rules
# (check_k8s.py: security context, probes, resources, ConfigMap reload, monitors,
# downward API labels, shards = replicas); the rules inside each PrometheusRule
# pass promtool. Usage: k8s_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tests/lab/test_lib.sh"
command -v kubectl >/dev/null || { echo "SKIP: kubectl not found"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tools=$(bash "$root/tests/deploy/npm_tools.sh")

out=$(yamllint -c "$root/tests/deploy/yamllint.yml" "$root/k8s" "$root/rules" 2>&1) && rc=0 || rc=$?
check "yamllint k8s/ rules/" 0 "$rc"
[[ $rc == 0 ]] || echo "$out"

built=()
for dir in "$root"/k8s/overlays/*/; do
  o=$(basename "$dir")
  out=$(kubectl kustomize "$dir" 2>&1 >"$work/$o.yaml") && rc=0 || rc=$?
  check "kubectl kustomize k8s/overlays/$o" 0 "$rc"
  [[ $rc == 0 ]] || { echo "$out"; continue; }
  built+=("$work/$o.yaml")
  python3 "$root/tests/deploy/check_k8s.py" "$o" "$work/$o.yaml" "$work/$o-rules.yml" && rc=0 || rc=$?
  check "$o: deployment rules (check_k8s.py)" 0 "$rc"
  out=$(promtool check rules "$work/$o-rules.yml" 2>&1) && rc=0 || rc=$?
  check "$o: promtool check rules on its PrometheusRule" 0 "$rc"
  [[ $rc == 0 ]] || echo "$out"
done
check "overlays built" 3 "${#built[@]}"

mkdir "$work/ts"
NODE_PATH="$tools/node_modules" node "$root/tests/deploy/validate_k8s.js" "$work/ts" "${built[@]}" \
  >"$work/validate.txt" && rc=0 || rc=$?
sed 's/^/    /' "$work/validate.txt"
check "schema validation of every object ($(grep -c '' "$work/validate.txt") objects)" 0 "$rc"
out=$(cd "$work/ts" && "$tools/node_modules/.bin/tsc" -p . 2>&1) && rc=0 || rc=$?
check "no field unknown to the schemas (tsc excess-property check)" 0 "$rc"
[[ $rc == 0 ]] || echo "$out"
lab_test_end
