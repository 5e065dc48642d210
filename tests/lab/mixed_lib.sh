# Mixed lab targets with ground truth from what the lab was built to do
# (tests/lab/lab.sh's case table), for the policing tests and the benchmark.
# mixed_targets N [FIRST_ADDRESS_INDEX]: N lines HOST:PORT on the bulk block,
# ports cycling over the five cases so every address carries several cases.
MIXED_PORTS=(80 81 8443 9443 135)

mixed_targets() {
  local n=$1 i=0 a=${2:-1} k
  while ((i < n)); do
    for k in "${MIXED_PORTS[@]}"; do
      ((i < n)) || break
      # 198.18.0.0/22: skip .0 and .255 of each /24.
      local idx=$(( (a - 1) % 1016 )) third octet
      third=$((idx / 254)); octet=$((idx % 254 + 1))
      echo "198.18.$third.$octet:$k"
      i=$((i + 1))
    done
    a=$((a + 1))
  done
}

# mixed_score JSON_LINES: prints "right wrong unsure total" comparing each
# result with the lab's ground truth. Unsure = "no answer, blocked hop not
# confirmed" for a port that is dropped or rejected with an ICMP error the
# routers' policing swallowed (never counted as right, never as wrong).
mixed_score() {
  jq -rs '
    def truth: {"80": ["open", 7, null], "81": ["closed", 7, null],
                "8443": ["filtered", 2, "10.0.1.2"], "9443": ["filtered", 5, "198.51.100.18"],
                "135": ["prohibited", 5, "198.51.100.18"]}[(.port|tostring)];
    def judged: truth as $t |
      if .outcome == "filtered" and (.blocked_hop_confirmed == false) and ($t[0] == "filtered" or $t[0] == "prohibited") and .blocked_hop == null then "unsure"
      elif .outcome != $t[0] then "wrong"
      elif $t[2] == null then (if .last_responding_hop.ttl == $t[1] then "right" else "wrong" end)
      elif .blocked_hop.ttl == $t[1] and .blocked_hop.address == $t[2] then "right"
      else "wrong" end;
    map(judged) | [ (map(select(. == "right")) | length), (map(select(. == "wrong")) | length),
                    (map(select(. == "unsure")) | length), length ] | @tsv' "$@"
}

# mixed_score_scrape SCRAPE_FILE: the same score over `portpath serve`'s
# exposition: each target's portpath_outcome and portpath_blocked_hop_info
# against the ground truth; "unsure" = filtered with portpath_blocked_hop_confirmed 0
# and no blocked hop named. Prints "right wrong unsure total".
mixed_score_scrape() {
  python3 - "$1" <<'PY'
import re, sys
truth = {"80": ("open", None), "81": ("closed", None), "8443": ("filtered", 2),
         "9443": ("filtered", 5), "135": ("prohibited", 5)}
outcome, blocked, confirmed = {}, {}, {}
for line in open(sys.argv[1]):
    line = line.strip()
    m = re.match(r'(portpath_outcome|portpath_blocked_hop_info|portpath_blocked_hop_confirmed)\{(.*)\} (\S+)$', line)
    if not m:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    target = labels["target"]
    if m.group(1) == "portpath_outcome" and m.group(3) == "1":
        outcome[target] = labels["outcome"]
    elif m.group(1) == "portpath_blocked_hop_info":
        blocked[target] = int(labels["ttl"])
    elif m.group(1) == "portpath_blocked_hop_confirmed":
        confirmed[target] = m.group(3) == "1"
right = wrong = unsure = 0
for target, got in outcome.items():
    want = truth[target.rsplit(":", 1)[1]]
    if (got == "filtered" and not confirmed.get(target, True) and target not in blocked
            and want[0] in ("filtered", "prohibited")):
        unsure += 1
    elif got == want[0] and (want[1] is None or blocked.get(target) == want[1]):
        right += 1
    else:
        wrong += 1
print(right, wrong, unsure, len(outcome))
PY
}
