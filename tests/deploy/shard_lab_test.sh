#!/usr/bin/env bash
# --shard I/N and --labels with the real `portpath serve` in the lab: three
# shards given the same 40 target ports trace each exactly once (no overlap, no
# gap), each series carries its shard's label, a reload keeps the split, and a
# bad --shard is refused. Usage: shard_lab_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/../lab/test_lib.sh"
lab_test_begin "$1"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  lab_down "$LAB" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
in_lab() { ip netns exec "$LAB-c" "$@"; }

write_config() {  # number of bulk hosts
  { echo "defaults: {interval: 3s, timeout: 500ms}"; echo "targets:"
    for i in $(seq 1 "$1"); do echo "  - {host: 198.18.0.$i, ports: [80, 81, 8443, 9443]}"; done
  } >"$work/c.yaml.tmp"
  mv "$work/c.yaml.tmp" "$work/c.yaml"
}
write_config 10
ports=()
for i in 0 1 2; do
  (exec ip netns exec "$LAB-c" "$PORTPATH" serve --config "$work/c.yaml" --shard "$i/3" \
    --labels "shard=$i,node=lab-node" --web.listen-address 127.0.0.1:0 >"$work/serve$i.log" 2>&1) &
  pids+=($!)
done
for i in 0 1 2; do
  for _ in $(seq 1 100); do grep -q "listening on" "$work/serve$i.log" && break; sleep 0.1; done
  ports+=("$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$work/serve$i.log" | head -1)")
done
targets_of() {  # shard index
  in_lab curl -sf "http://127.0.0.1:${ports[$1]}/metrics" |
    sed -n 's/^portpath_target_info{.*target="\([^"]*\)".*} 1$/\1/p' | sort
}
split_check() {  # expected total
  local all="" i n
  for i in 0 1 2; do
    n=$(targets_of "$i" | wc -l)
    check "shard $i/3 traces a share ($n of $1)" yes "$( ((n > 0 && n < $1)) && echo yes || echo no)"
    all+=$(targets_of "$i")$'\n'
  done
  check "together: every target port once (no gap)" "$1" "$(grep -c . <<<"$all" | tr -d ' ')"
  check "... and none twice (no overlap)" 0 "$(grep . <<<"$all" | sort | uniq -d | wc -l)"
}
split_check 40
check "logged: the shard's share" yes "$(grep -q 'shard 1/3: [0-9]* of 40 target ports' "$work/serve1.log" && echo yes || echo no)"
check "--labels on every target series (shard 2)" "$(targets_of 2 | wc -l)" \
  "$(in_lab curl -sf "http://127.0.0.1:${ports[2]}/metrics" | grep -c '^portpath_target_info{.*shard="2".*node="lab-node"\|^portpath_target_info{.*node="lab-node".*shard="2"')"
before=$(targets_of 0)
write_config 15
# Each exporter notices the new file on its own (a check about once a second), so wait until all
# three have reloaded: waiting for shard 0 alone once caught shard 1 still on the old file
# (48 of 60) on a loaded machine.
# A reload shows in /metrics at the loop's next publish, so wait for the new files' total too
# (at most 20 s: a real gap never gets there, and split_check then fails on it).
reloaded() { grep -c 'config reloaded' "$work/serve$1.log" 2>/dev/null || true; }
for _ in $(seq 1 40); do
  if (($(reloaded 0) > 0 && $(reloaded 1) > 0 && $(reloaded 2) > 0)); then
    [[ $( (targets_of 0; targets_of 1; targets_of 2) | wc -l) == 60 ]] && break
  fi
  sleep 0.5
done
echo "after a reload to 60 target ports:"
split_check 60
check "... a shard keeps the ports it had (stable hash)" "" "$(comm -23 <(echo "$before") <(targets_of 0) | tr '\n' ' ')"
set +e
msg=$(in_lab "$PORTPATH" serve --config "$work/c.yaml" --shard 3/3 2>&1)
rc=$?
set -e
check "--shard 3/3 is refused" 2 "$rc"
check "... saying what it expects" yes "$(grep -q -- "--shard: expects I/N with 0 <= I < N" <<<"$msg" && echo yes || echo "no: $msg")"
lab_test_end
