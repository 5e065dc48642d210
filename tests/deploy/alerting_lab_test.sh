#!/usr/bin/env bash
# End to end in the lab, everything real: portpath serve (with a lab ASN
# database), Prometheus loading the shipped rules, Alertmanager, and a webhook
# receiver on loopback, all inside the lab's client namespace. Blocking port 80
# on the carrier router r5 makes the webhook receive the firing alert naming the
# blocked hop's address and AS; unblocking resolves it. On the way, every query
# of the Grafana dashboard, run against this Prometheus, returns data.
# The rules are the shipped file with each `for:` shortened to 5s (a test copy:
# the expressions, labels and annotations are the shipped ones).
# Usage: alerting_lab_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/tests/lab/test_lib.sh"
for tool in prometheus prometheus-alertmanager promtool; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
lab_test_begin "$1"

work=$(mktemp -d)
pids=()
blocked=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  [[ -n $blocked ]] && ip netns exec "$LAB-r5" iptables -D FORWARD $blocked 2>/dev/null || true
  lab_down "$LAB" >/dev/null 2>&1 || true
  [[ -n ${KEEP_OUT:-} ]] && cp -r "$work" "$KEEP_OUT" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
in_lab() { ip netns exec "$LAB-c" "$@"; }
wait_for() {  # seconds, command...: poll until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

write_config() {  # extra line for `defaults:`
  cat >"$work/portpath.yaml" <<EOF2
defaults:
  interval: 2s
  timeout: 1s
$1
asn_db: $root/tests/fixtures/asn/lab
targets:
  - host: $LAB_TARGET4
    ports: [80, 81, 8443, 9443]
    labels: {site: lab}
EOF2
}
# Per-hop series for blocked ports, for the dashboard's path table (an exporter
# from before per-hop series became opt-in exports them always and does not
# know the key).
write_config "  hop_metrics: blocked"
if ! lab_start_serve "$work/portpath.yaml" "$work/serve.log" 2>/dev/null; then
  grep -q "unknown key 'hop_metrics'" "$work/serve.log" || { cat "$work/serve.log"; exit 1; }
  write_config ""
  lab_start_serve "$work/portpath.yaml" "$work/serve.log"
fi
pids+=("$SERVE_PID")
port=$SERVE_PORT

sed -E 's/^( *for: ).*/\15s/' "$root/rules/portpath.rules.yml" >"$work/rules.yml"
check "test copy of the rules: only for: changed" \
  "$(grep -vc '^ *for:' "$root/rules/portpath.rules.yml")" "$(diff <(grep -v '^ *for:' "$root/rules/portpath.rules.yml") <(grep -v '^ *for:' "$work/rules.yml") >/dev/null && grep -vc '^ *for:' "$work/rules.yml")"
cat >"$work/alertmanager.yml" <<'EOF2'
route:
  receiver: webhook
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:9095/hook
        send_resolved: true
EOF2
cat >"$work/prometheus.yml" <<EOF2
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$work/rules.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:9093"]}]}]
scrape_configs:
  - job_name: portpath
    static_configs: [{targets: ["127.0.0.1:$port"]}]
EOF2
(exec ip netns exec "$LAB-c" python3 "$root/tests/deploy/webhook_receiver.py" 9095 "$work/hooks.jsonl") &
pids+=($!)
(exec ip netns exec "$LAB-c" prometheus-alertmanager --config.file="$work/alertmanager.yml" \
  --storage.path="$work/am" --web.listen-address=127.0.0.1:9093 --cluster.listen-address= \
  >"$work/alertmanager.log" 2>&1) &
pids+=($!)
(exec ip netns exec "$LAB-c" prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:9090 >"$work/prometheus.log" 2>&1) &
pids+=($!)

query() { in_lab curl -sf "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1"; }
has_data() { query "$1" | jq -e '.data.result | length > 0'; }
check "Prometheus scrapes the exporter" yes "$(wait_for 30 has_data 'up{job="portpath"} == 1' && echo yes || echo no)"
check "Prometheus loaded the shipped rules" 9 \
  "$(in_lab curl -sf http://127.0.0.1:9090/api/v1/rules | jq '[.data.groups[].rules[]] | length')"
check "port 80 open before the block" yes \
  "$(wait_for 20 has_data 'portpath_port_open{target="192.0.2.10:80"} == 1' && echo yes || echo no)"

echo "blocking 192.0.2.10:80 on r5 (hop 5, 198.51.100.18, AS64500 in the lab's ASN data):"
blocked="-p tcp -d $LAB_TARGET4 --dport 80 -j DROP"
ip netns exec "$LAB-r5" iptables -I FORWARD $blocked
firing() {
  jq -e -s 'map(.alerts[] | select(.status == "firing" and .labels.target == "192.0.2.10:80" and (.labels.alertname | startswith("PortpathPortBlocked")))) | length > 0' \
    "$work/hooks.jsonl"
}
check "the webhook receives the firing port-blocked alert" yes "$(wait_for 60 firing && echo yes || echo no)"
alert=$(jq -c -s 'map(.alerts[] | select(.status == "firing" and .labels.target == "192.0.2.10:80" and (.labels.alertname | startswith("PortpathPortBlocked")))) | first' "$work/hooks.jsonl" 2>/dev/null || echo '{}')
echo "    $(jq -r '.labels.alertname + ": " + .annotations.summary' <<<"$alert")"
check "... it is PortpathPortBlockedHostUp (the host still answers ping)" PortpathPortBlockedHostUp "$(jq -r .labels.alertname <<<"$alert")"
check "... naming the blocked hop's address" 198.51.100.18 "$(jq -r .labels.hop_address <<<"$alert")"
check "... its AS" "64500 Example Transit, Inc." "$(jq -r '.labels.asn + " " + .labels.as_org' <<<"$alert")"
check "... and in the summary" yes "$(jq -r .annotations.summary <<<"$alert" | grep -q '198.51.100.18 (documentation, AS64500 Example Transit, Inc.)' && echo yes || echo no)"
check "... with the runbook" docs/runbook.md#portpathportblockedhostup "$(jq -r .annotations.runbook_url <<<"$alert")"

echo "every query of the Grafana dashboard returns data from this Prometheus:"
wait_for 20 has_data 'increase(portpath_path_changes_total[1m]) > 0' || true
python3 - "$root/grafana/portpath-dashboard.json" >"$work/queries.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
subst = {"$instance": ".*", "$target": ".*", "$port": ".*", "$__rate_interval": "1m",
         "$__range": "1m", "${datasource}": "prometheus"}
for v in d["templating"]["list"]:
    if v["type"] == "query":
        q = v["query"]["query"]
        # label_values(SELECTOR, LABEL) -> the series behind it
        inner = q[len("label_values("):q.rindex(",")]
        for k, val in subst.items(): inner = inner.replace(k, val)
        print(f"variable {v['name']}\t{inner}")
for p in d["panels"]:
    for t in p.get("targets", []):
        e = " ".join(t["expr"].split())
        for k, val in subst.items(): e = e.replace(k, val)
        print(f"panel {p['id']} {t['refId']}: {p['title']}\t{e}")
PY
while IFS=$'\t' read -r name expr; do
  n=$(query "$expr" | jq '.data.result | length' 2>/dev/null || echo error)
  check "$name" yes "$([[ $n =~ ^[0-9]+$ && $n -gt 0 ]] && echo yes || echo "no ($n series): $expr")"
done <"$work/queries.tsv"

echo "    (info) share of rounds with a stale verdict, steady blocked 9443: $(query 'avg_over_time(portpath_verdict_stale{target="192.0.2.10:9443"}[5m])' | jq -r '.data.result[0].value[1]'), open 81: $(query 'avg_over_time(portpath_verdict_stale{target="192.0.2.10:81"}[5m])' | jq -r '.data.result[0].value[1]')"
echo "unblocking:"
ip netns exec "$LAB-r5" iptables -D FORWARD $blocked
blocked=""
resolved() {
  jq -e -s 'map(.alerts[] | select(.status == "resolved" and .labels.target == "192.0.2.10:80" and .labels.alertname == "PortpathPortBlockedHostUp" and .labels.hop_address == "198.51.100.18")) | length > 0' \
    "$work/hooks.jsonl"
}
check "the webhook receives the resolution" yes "$(wait_for 60 resolved && echo yes || echo no)"
check "nothing fired for the ports that stay as they were (8443, 9443 keep their alerts; 81 closed none)" 0 \
  "$(jq -s 'map(.alerts[] | select(.labels.target == "192.0.2.10:81")) | length' "$work/hooks.jsonl")"
lab_test_end
