#!/usr/bin/env bash
# Acceptance: forged and stale replies never make a hop or a verdict, and each is
# counted under its reason. While `portpath serve` traces the lab's cases every
# 2 s and one-shot `portpath trace` runs alongside, a forger next to the client
# (in r1's namespace, sending to the client's lab address only) injects thousands
# of packets: random ICMP, bad checksums, short quotes, well-formed time-exceeded
# from a real hop's address and from an address that is no hop, quoting our flow
# with probe source ports and random sequence numbers, SYN-ACKs, RSTs and echo
# replies with random numbers, and real answers recorded from an earlier run.
# Usage: forged_replies_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
lab_test_begin "$1" off
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"; [[ -n ${SERVE_PID:-} ]] && kill "$SERVE_PID" 2>/dev/null; lab_down "$LAB" >/dev/null 2>&1 || true' EXIT

TARGET=192.0.2.10
FAKE_ROUTER=203.0.113.99  # no hop of the lab: it must never show up as one
COUNT=${FORGED_COUNT:-12000}
RATE=${FORGED_RATE:-600}
cases=(open closed drop_r2 drop_r5 prohibited)
targets=("$TARGET:80" "$TARGET:81" "$TARGET:8443" "$TARGET:9443" "$TARGET:135")

echo "recording real answers for replay (one-shot traces of the lab's cases):"
ip netns exec "$LAB-c" python3 "$here/forge_replies.py" record 4 "$work/stale.hex" &
recorder=$!
for _ in $(seq 1 100); do [[ -e $work/stale.hex.ready ]] && break; sleep 0.1; done
lab_portpath trace --json -q 1 "${targets[@]}" >/dev/null || true
wait "$recorder"
check "answers recorded to replay later" yes "$([[ $(wc -l <"$work/stale.hex") -ge 5 ]] && echo yes || echo no)"

{
  echo "defaults:"
  echo "  interval: 2s"
  echo "targets:"
  echo "  - {host: $TARGET, ports: [80, 81, 8443, 9443, 135]}"
} >"$work/serve.yaml"
lab_start_serve "$work/serve.yaml" "$work/serve.log"
scrape() { ip netns exec "$LAB-c" curl -fsS -m 5 "http://127.0.0.1:$SERVE_PORT/metrics"; }
for _ in $(seq 1 50); do
  [[ $(scrape | grep -c '^portpath_outcome{.*} 1$' || true) -ge 5 ]] && break
  sleep 0.2
done
ignored() { # reason...: the sum of portpath_replies_ignored_total over these reasons
  local sum=0 r v
  for r in "$@"; do
    v=$(grep "^portpath_replies_ignored_total{reason=\"$r\"}" "$work/before_or_after" | awk '{print $2}')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
scrape >"$work/before_or_after"
before_checksum=$(ignored bad_checksum)
before_short=$(ignored quote_truncated)
before_unmatched=$(ignored no_such_trace flow_mismatch unknown_probe)

echo "forging $COUNT packets at $RATE/s while traces run (t=${SECONDS}s):"
ip netns exec "$LAB-r1" python3 "$here/forge_replies.py" forge --client 10.0.0.1 --target "$TARGET" \
  --port 80 --sport-range 12000-31999 --count "$COUNT" --rate "$RATE" --hop 198.51.100.18 \
  --fake "$FAKE_ROUTER" --replay "$work/stale.hex" --tally "$work/tally.json" &
forger=$!
round=0
while kill -0 "$forger" 2>/dev/null; do
  round=$((round + 1))
  lab_portpath trace --json -q 1 "${targets[@]}" >"$work/oneshot$round.json" 2>/dev/null || true
  scrape >"$work/scrape$round.txt" || true
  sleep 1
done
wait "$forger"
sleep 3
scrape >"$work/before_or_after"
cat "$work/tally.json"; echo " (t=${SECONDS}s, $round one-shot rounds)"

# Ground truth from the lab's case table (lab.sh expect), read once.
declare -A truth
for c in "${cases[@]}"; do
  for field in port outcome block_addr4 last_addr4 block_ttl; do
    truth[$c.$field]=$("$here/lab.sh" expect "$c" "$field")
  done
done
expect() { echo "${truth[$1.$2]}"; }
wrong=0 judged=0
for f in "$work"/oneshot*.json; do
  for c in "${cases[@]}"; do
    port=$(expect "$c" port)
    line=$(jq -c "select(.port == $port)" "$f")
    [[ -n $line ]] || continue
    judged=$((judged + 1))
    want_outcome=$(expect "$c" outcome) want_block=$(expect "$c" block_addr4) want_last=$(expect "$c" last_addr4)
    got=$(jq -r '[.outcome, (.blocked_hop.address // "-"), (.last_responding_hop.address // "-")] | join(" ")' <<<"$line")
    [[ $got == "$want_outcome $want_block $want_last" ]] || { echo "  one-shot $c: got $got"; wrong=$((wrong + 1)); }
  done
done
check "one-shot traces under forgery: wrong verdicts (of $judged)" 0 "$wrong"
check "... no hop from the address that is no hop" 0 \
  "$(cat "$work"/oneshot*.json | jq -r '.hops[]?.address // empty' | grep -c "^$FAKE_ROUTER$" || true)"

wrong=0
for c in "${cases[@]}"; do
  port=$(expect "$c" port) want_outcome=$(expect "$c" outcome) want_ttl=$(expect "$c" block_ttl)
  for f in "$work"/scrape*.txt "$work/before_or_after"; do
    grep -q "portpath_outcome{.*target=\"$TARGET:$port\".*outcome=\"$want_outcome\".*} 1" "$f" ||
      { echo "  serve $c: outcome not $want_outcome in $(basename "$f")"; wrong=$((wrong + 1)); continue; }
    if [[ $want_ttl != - ]]; then
      grep -q "portpath_blocked_hop_info{.*target=\"$TARGET:$port\".*ttl=\"$want_ttl\".*} 1" "$f" ||
        grep -q "portpath_blocked_hop_info{.*ttl=\"$want_ttl\".*target=\"$TARGET:$port\".*} 1" "$f" ||
        { echo "  serve $c: blocked hop not at $want_ttl in $(basename "$f")"; wrong=$((wrong + 1)); }
    fi
  done
done
check "serve under forgery: wrong outcomes or blocked hops (any scrape)" 0 "$wrong"
check "... no hop from the address that is no hop (any scrape)" 0 \
  "$(cat "$work"/scrape*.txt "$work/before_or_after" | grep -c "hop_address=\"$FAKE_ROUTER\"" || true)"

sent() { jq "[$(printf '.%s,' "$@" | sed 's/,$//')] | add" "$work/tally.json"; }
at_least() { # counted sent: yes when counted >= 95% of sent (the capture may drop a few)
  [[ $(( $1 * 100 )) -ge $(( $2 * 95 )) ]] && echo yes || echo "no ($1 of $2)"
}
check "bad checksums counted as bad_checksum" yes \
  "$(at_least $(( $(ignored bad_checksum) - before_checksum )) "$(sent bad_checksum)")"
check "short quotes counted as quote_truncated" yes \
  "$(at_least $(( $(ignored quote_truncated) - before_short )) "$(sent quote_short)")"
check "wrong sequence numbers, fake routers, stale answers counted as unmatched" yes \
  "$(at_least $(( $(ignored no_such_trace flow_mismatch unknown_probe) - before_unmatched )) \
     "$(sent wrong_seq fake_router syn_ack rst echo_reply stale)")"
check "the exporter is alive" yes "$(kill -0 "$SERVE_PID" && echo yes || echo no)"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
lab_test_end
