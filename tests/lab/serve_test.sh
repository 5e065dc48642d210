#!/usr/bin/env bash
# Acceptance for `portpath serve` in the lab: the exporter traces the configured
# targets, a real scrape passes `promtool check metrics`, a real Prometheus
# server scrapes it and answers a query for the blocked hop's address, /probe
# works for configured targets only, and reloads behave: a bad file keeps the
# last good configuration (and says so in a metric), a good one takes effect
# without losing unchanged targets' results, both through a Kubernetes
# ConfigMap-style symlink swap, SIGHUP and POST /-/reload. A bad file at
# start-up is refused with file:line:column. Usage: serve_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1"

work=$(mktemp -d)
serve_pid="" prom_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null || true
  [[ -n $prom_pid ]] && kill "$prom_pid" 2>/dev/null || true
  wait $serve_pid $prom_pid 2>/dev/null || true
  lab_down "$LAB" >/dev/null 2>&1 || true
  rm -rf "$work" "/etc/netns/$LAB-c"
}
trap cleanup EXIT

in_lab() { ip netns exec "$LAB-c" "$@"; }
# A ConfigMap volume: config.yaml -> ..data/config.yaml, ..data -> ..<version>/
configmap_write() {  # version, content on stdin
  mkdir -p "$work/cm/..$1"
  cat >"$work/cm/..$1/config.yaml"
  ln -sfn "..$1" "$work/cm/..data_tmp"
  mv -T "$work/cm/..data_tmp" "$work/cm/..data"   # atomic swap, as the kubelet does
  [[ -L $work/cm/config.yaml ]] || ln -s ..data/config.yaml "$work/cm/config.yaml"
}
wait_for() {  # seconds, command...: poll until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
scrape() { in_lab curl -sf "http://127.0.0.1:$port/metrics"; }
metric() { scrape | grep -E "^$1" || true; }

# Names for the lab: `ip netns exec` bind-mounts /etc/netns/NS/{hosts,resolv.conf}
# over /etc. No nameserver: glibc then asks 127.0.0.1 inside the lab namespace,
# which refuses at once, so unknown names fail fast and no query leaves the lab.
mkdir -p "/etc/netns/$LAB-c"
echo "192.0.2.10 db.lab.test" >"/etc/netns/$LAB-c/hosts"
echo "options timeout:1 attempts:1" >"/etc/netns/$LAB-c/resolv.conf"

configmap_write v1 <<'EOF2'
defaults:
  interval: 5s
  timeout: 1s
targets:
  - host: db.lab.test
    port: 80
  - host: nowhere.invalid
    port: 80
  - host: 192.0.2.10
    ports: [80, 8443, 9443]
    labels: {team: lab}
  - host: 2001:db8:ff::10
    port: 135
EOF2

echo "start-up with a bad file is refused:"
printf 'defaults:\n  timout: 1s\ntargets:\n  - host: 192.0.2.10\n    port: 80\n' >"$work/bad.yaml"
set +e
msg=$(in_lab "$PORTPATH" serve --config "$work/bad.yaml" --web.listen-address 127.0.0.1:0 2>&1)
rc=$?
set -e
check "exit status" 2 "$rc"
check "error names file:line:column" yes "$(grep -q "$work/bad.yaml:2:3: unknown key 'timout'" <<<"$msg" && echo yes || echo "no: $msg")"

echo "serving:"
lab_start_serve "$work/cm/config.yaml" "$work/serve.log"
serve_pid=$SERVE_PID port=$SERVE_PORT
check "ready after the first round" yes "$(wait_for 30 in_lab curl -sf "http://127.0.0.1:$port/-/ready" && echo yes || echo no)"
check "healthy" Healthy "$(in_lab curl -sf "http://127.0.0.1:$port/-/healthy")"
check "least privilege: no capability left once the sockets are open" 0000000000000000 \
  "$(awk '/^CapEff:/{print $2}' /proc/$serve_pid/status)"
check "... none permitted either, and no-new-privileges" "0000000000000000 1" \
  "$(awk '/^CapPrm:/{p=$2} /^NoNewPrivs:/{n=$2} END{print p, n}' /proc/$serve_pid/status)"
check "... said in the log" yes "$(grep -q 'running as uid 0, no capabilities, no-new-privileges' "$work/serve.log" && echo yes || echo no)"
scrape >"$work/scrape.txt"
check "promtool check metrics on a real scrape" "0:" "$(promtool check metrics <"$work/scrape.txt" 2>&1; echo "$?:")"
check "blocked hop of :8443 (intranet)" 1 \
  "$(grep -c '^portpath_blocked_hop_info{.*target="192.0.2.10:8443".*ttl="2",hop_address="10.0.1.2",address_class="private".*} 1' "$work/scrape.txt")"
check "blocked hop of :135 over IPv6 (!X)" 1 \
  "$(grep -c '^portpath_outcome{.*target="\[2001:db8:ff::10\]:135".*outcome="prohibited"} 1' "$work/scrape.txt")"
check "open port" 1 "$(grep -c '^portpath_port_open{.*target="192.0.2.10:80".*team="lab".*} 1' "$work/scrape.txt")"

echo "a real Prometheus server scrapes it:"
cat >"$work/prometheus.yml" <<EOF2
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: portpath
    static_configs: [{targets: ["127.0.0.1:$port"]}]
EOF2
(exec ip netns exec "$LAB-c" prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:9090 >"$work/prometheus.log" 2>&1) &
prom_pid=$!
query() { in_lab curl -sf "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1"; }
up() { query 'up{job="portpath"} == 1' | jq -e '.data.result | length == 1'; }
check "Prometheus scraped the exporter" yes "$(wait_for 30 up && echo yes || echo no)"
check "PromQL: blocked hop address of 192.0.2.10:9443" 198.51.100.18 \
  "$(query 'portpath_blocked_hop_info{target="192.0.2.10:9443"}' | jq -r '.data.result[0].metric.hop_address')"

echo "host names:"
check "a name is resolved (db.lab.test -> 192.0.2.10)" 1 \
  "$(grep -c '^portpath_target_address_info{.*target="db.lab.test:80".*address="192.0.2.10"} 1' "$work/scrape.txt")"
check "an unresolvable name is an error outcome, not a crash" 1 \
  "$(grep -c '^portpath_outcome{.*target="nowhere.invalid:80".*outcome="error"} 1' "$work/scrape.txt")"
check "... with the resolver's reason in the log" yes \
  "$(grep -q 'nowhere.invalid:80: cannot resolve nowhere.invalid' "$work/serve.log" && echo yes || echo no)"
echo "192.0.2.33 db.lab.test" >"/etc/netns/$LAB-c/hosts"
# Names come from a cache the probe loop never waits for: the first round after
# the change refreshes the name and still traces the old address, the next one
# traces the new one. Rounds start at most 8 s apart (5 s interval, up to 3 s
# jitter), so that is within 16 s plus the trace: allow 25 s.
check "names are resolved again each interval: the new address is traced" yes \
  "$(wait_for 25 in_lab bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -q 'portpath_target_address_info{.*target=\"db.lab.test:80\".*address=\"192.0.2.33\"} 1'" && echo yes || echo no)"
check "... and the change is logged" yes \
  "$(grep -q 'db.lab.test:80: address changed from 192.0.2.10 to 192.0.2.33' "$work/serve.log" && echo yes || echo no)"

echo "/probe:"
in_lab curl -s "http://127.0.0.1:$port/probe?target=192.0.2.10:9443" >"$work/probe.txt"
check "/probe of a configured target gives its metrics" 1 \
  "$(grep -c '^portpath_blocked_hop_info{.*hop_address="198.51.100.18"' "$work/probe.txt")"
check "/probe answer holds only that target" 0 "$(grep -c 'target="192.0.2.10:80"' "$work/probe.txt" || true)"
check "/probe of an unconfigured target is a 400" 400 \
  "$(in_lab curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/probe?target=192.0.2.10:22")"

echo "reloads:"
configmap_write v2 <<'EOF2'
targets:
  - host: 192.0.2.10
    ports: [80, 8443
EOF2
check "bad file swapped in: reload fails" yes \
  "$(wait_for 10 in_lab bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -q '^portpath_config_last_reload_successful 0'" && echo yes || echo no)"
check "... the last good configuration keeps running" 1 "$(metric 'portpath_outcome\{.*target="192.0.2.10:9443".*outcome="filtered"\} 1' | wc -l)"
check "... the error is logged with file:line:column" yes \
  "$(grep -q 'config.yaml:[0-9]*:[0-9]*: ' "$work/serve.log" && echo yes || echo no)"
before=$(metric 'portpath_last_trace_timestamp_seconds\{.*target="192.0.2.10:8443"' | awk '{print $2}')
configmap_write v3 <<'EOF2'
defaults:
  interval: 5s
targets:
  - host: 192.0.2.10
    ports: [80, 8443, 81]
    labels: {team: lab}
EOF2
check "good file swapped in: reload succeeds" yes \
  "$(wait_for 10 in_lab bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -q '^portpath_config_last_reload_successful 1'" && echo yes || echo no)"
check "... a removed target is gone" 0 "$(metric 'portpath_[a-z_]*\{.*target="192.0.2.10:9443"' | wc -l)"
check "... an unchanged target kept its result" yes \
  "$([[ -n $before ]] && metric 'portpath_last_trace_timestamp_seconds\{.*target="192.0.2.10:8443"' | grep -q . && echo yes || echo no)"
check "... a new target gets traced" yes \
  "$(wait_for 15 in_lab bash -c "curl -sf http://127.0.0.1:$port/metrics | grep -q 'portpath_outcome{.*target=\"192.0.2.10:81\".*outcome=\"closed\"} 1'" && echo yes || echo no)"
reloads=$(metric 'portpath_config_reloads_total' | awk '{print $2}')
kill -HUP "$serve_pid"
check "SIGHUP reloads" yes "$(wait_for 5 in_lab bash -c "[[ \$(curl -sf http://127.0.0.1:$port/metrics | awk '/^portpath_config_reloads_total/{print \$2}') != $reloads ]]" && echo yes || echo no)"
check "POST /-/reload" 200 "$(in_lab curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/-/reload")"
check "GET /-/reload is refused" 405 "$(in_lab curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/reload")"
configmap_write v3b <<'EOF2'
interface: right
targets:
  - host: 192.0.2.10
    ports: [80, 8443, 81]
EOF2
check "a reload that changes the interface is refused" yes \
  "$(in_lab curl -s -m 10 -X POST "http://127.0.0.1:$port/-/reload" | grep -q "changing 'interface' (from auto to right) needs a restart" && echo yes || echo no)"
echo "bad reloads that used to kill or hang the exporter:"
configmap_write v4 <<<','
check "a stray ',' line: POST /-/reload fails with the error" 400-or-500 \
  "$(code=$(in_lab curl -s -o "$work/comma.txt" -w '%{http_code}' -m 10 -X POST "http://127.0.0.1:$port/-/reload"); [[ $code == 400 || $code == 500 ]] && echo 400-or-500 || echo "$code")"
check "... naming file:line:column" yes "$(grep -q "config.yaml:1:1: invalid YAML" "$work/comma.txt" && echo yes || echo no)"
check "... the exporter is alive and keeps the last good targets" yes \
  "$(kill -0 "$serve_pid" && metric 'portpath_outcome\{.*target="192.0.2.10:81"' | grep -q . && echo yes || echo no)"
mkfifo "$work/cm/..v4/fifo.yaml"
ln -sfn "..v4/fifo.yaml" "$work/cm/config.yaml"
for i in 1 2 3 4 5 6; do
  in_lab curl -s -o /dev/null -m 5 -X POST "http://127.0.0.1:$port/-/reload" || true
done
check "config path is a FIFO: six reloads later /-/healthy still answers" 200 \
  "$(in_lab curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port/-/healthy")"
check "... and /metrics too, with the reload failed" yes \
  "$(in_lab curl -sf -m 5 "http://127.0.0.1:$port/metrics" | grep -q '^portpath_config_last_reload_successful 0' && echo yes || echo no)"
lab_test_end
