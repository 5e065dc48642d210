#!/usr/bin/env python3
"""bench/peers/parse.py - the small, tool-agnostic half of the peer benchmark (run.sh).

Subcommands (run.sh calls them; each reads and writes plain files):

  gen N SEED SAMPLE EXPECT_TSV DIR
      Targets and ground truth. Target i (0-based) is port 80, 81, 8443, 9443, 135 by i%5
      on bulk address i%1016 (198.18.0.1 ... 198.18.3.254, skipping .0 and .255 of each
      /24): every port gets N/5 targets, addresses are distinct up to N=1016 and each
      (address, port) pair up to N=5080 (1016 and 5 are coprime). Distinct addresses
      matter: scamper runs only one trace at a time per destination address. The expected
      result per port comes from EXPECT_TSV, which run.sh writes from the lab's own case
      table (lab_expect), never from a tool. Writes DIR/truth.tsv, DIR/targets.txt
      (portpath), DIR/scamper.cmds (scamper, one complete command per target, so each
      target has its own port) and DIR/sample.tsv (SAMPLE targets for traceroute and
      mtr, seeded random, the same number per port).

  parse TOOL PATH
      One tool's raw output -> the common form, one line per target:
      "address port outcome hop_ttl hop_address" ("-" when unknown). PATH is a file
      for portpath and scamper, a directory of ADDRESS_PORT.out files for traceroute and
      mtr (one run per target).

  record ... (see record())
      Scores the common form against truth.tsv, folds in time / probe counters / router
      ICMP counters, and prints one JSON line for RESULTS.md (report.py).

Outcomes in the common form: open, closed, filtered, prohibited, unreachable, and
"reached" for mtr, which shows that the destination answered but not whether with
SYN-ACK or RST (its JSON has no TCP flags and no ICMP codes).

The hop in the common form is what the benchmark compares with the lab's truth: for
open/closed the destination at its distance, for filtered the last responding hop, for
prohibited the router that sent the !X at its own distance. portpath states it itself
(blocked_hop, else last_responding_hop). For the peers we read it from their hop lists
the way a person reads a traceroute: the last address that answered, at the smallest
TTL of the trailing run of that same address (r5 answers time-exceeded at TTL 5 and
!X at TTL 6 -> hop 5). The same rule is applied to every peer.
"""
import json
import os
import random
import re
import sys

PORTS = [80, 81, 8443, 9443, 135]


# ---------------------------------------------------------------------------------
# Targets and truth

def bulk_addresses(count):
    """198.18.0.1 ... inside the lab's bulk 198.18.0.0/22, skipping .0 and .255 of every /24."""
    out = [f"198.18.{third}.{fourth}" for third in range(4) for fourth in range(1, 255)]
    return out[:count]


def cmd_gen(n, seed, sample, expect_tsv, outdir):
    n, seed, sample = int(n), int(seed), int(sample)
    expect = {}
    with open(expect_tsv) as f:
        for line in f:
            port, outcome, ttl, addr = line.split()
            expect[int(port)] = (outcome, ttl, addr)
    missing = [p for p in PORTS if p not in expect]
    if missing:
        sys.exit(f"parse.py gen: no expected result for ports {missing}")
    addrs = bulk_addresses(1016)
    if n > len(addrs) * len(PORTS):
        sys.exit(f"parse.py gen: at most {len(addrs) * len(PORTS)} distinct targets")
    targets = [(addrs[i % len(addrs)], PORTS[i % len(PORTS)]) for i in range(n)]
    with open(os.path.join(outdir, "truth.tsv"), "w") as truth, \
            open(os.path.join(outdir, "targets.txt"), "w") as tfile, \
            open(os.path.join(outdir, "scamper.cmds"), "w") as scmds:
        for addr, port in targets:
            outcome, ttl, hop = expect[port]
            truth.write(f"{addr}\t{port}\t{outcome}\t{ttl}\t{addr if hop == '@target' else hop}\n")
            tfile.write(f"{addr}:{port}\n")
            # -g 5: gap limit like portpath's --gap-limit 5 (also scamper's default).
            scmds.write(f"trace -P tcp -d {port} -q 1 -w 1 -g 5 {addr}\n")
    # The sample is stratified by port (round-robin over the ports, random within each),
    # so that its time per target, which depends mostly on the case, extrapolates to N.
    rng = random.Random(seed)
    groups = [[t for t in targets if t[1] == p] for p in PORTS]
    for g in groups:
        rng.shuffle(g)
    picked = []
    while len(picked) < min(sample, n):
        for g in groups:
            if g and len(picked) < sample:
                picked.append(g.pop())
    with open(os.path.join(outdir, "sample.tsv"), "w") as f:
        for addr, port in picked:
            f.write(f"{addr}\t{port}\n")


# ---------------------------------------------------------------------------------
# Parsers: each returns {(address, port): (outcome, hop_ttl, hop_address)}

def peer_hop(answered):
    """answered: {ttl: address} of the hops that replied. Last address, at the smallest
    TTL of the trailing run of that address (see the module comment)."""
    if not answered:
        return "-", "-"
    ttl = max(answered)
    addr = answered[ttl]
    while answered.get(ttl - 1) == addr:
        ttl -= 1
    return str(ttl), addr


def parse_portpath(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            key = (r.get("address") or r.get("host"), int(r["port"]))
            if r.get("blocked_hop_confirmed") is False:
                # "No answer, blocked hop not confirmed (ICMP rate limiting)":
                # portpath names no hop, so neither right nor a wrong hop.
                out.setdefault(key, ("unconfirmed", "-", "-"))
                continue
            hop = r.get("blocked_hop") or r.get("last_responding_hop") or {}
            ttl = hop.get("ttl")
            addr = hop.get("address")
            out.setdefault(key, (r.get("outcome", "error"),
                                 "-" if ttl is None else str(ttl), addr or "-"))
    return out


def parse_scamper(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("type") != "trace":
                continue
            dst, port = r["dst"], int(r["dport"])
            answered, outcome, final = {}, "filtered", None
            for h in r.get("hops", []):
                answered.setdefault(h["probe_ttl"], h["addr"])
                flags = h.get("tcp_flags")
                if flags is not None and h["addr"] == dst:
                    # TCP reply from the destination: SYN+ACK (0x12) open, RST (0x04) closed.
                    outcome = "open" if (flags & 0x12) == 0x12 else "closed" if flags & 0x04 else outcome
                    final = h
                elif (h.get("icmp_type"), h.get("icmp_code")) in ((3, 13), (1, 1)):
                    outcome, final = "prohibited", h   # v4 admin prohibited / v6 code 1
                elif h.get("icmp_type") in (3, 1) and final is None:
                    outcome, final = "unreachable", h
            if final is not None:
                # Hops after the final answer (none with -q 1) must not move the hop.
                answered = {t: a for t, a in answered.items() if t <= final["probe_ttl"]}
            out.setdefault((dst, port), (outcome, *peer_hop(answered)))
    return out


def per_target_files(directory):
    """ADDRESS_PORT.out files written by run.sh's one-run-per-target loop."""
    for name in sorted(os.listdir(directory)):
        if name.endswith(".out"):
            addr, port = name[:-4].rsplit("_", 1)
            with open(os.path.join(directory, name)) as f:
                yield addr, int(port), f.read()


# traceroute (Debian "traceroute" 2.1) text with -n -q 1 -O info:
#   " 7  198.18.0.1 <syn,ack>  0.049 ms"      " 6  198.51.100.18  0.013 ms !X"      " 3  *"
HOP_LINE = re.compile(r"^\s*(\d+)\s+(.*)$")
ADDR = re.compile(r"^[0-9a-fA-F:.]+$")


def parse_traceroute(directory):
    out = {}
    for addr, port, text in per_target_files(directory):
        answered, outcome = {}, None
        for line in text.splitlines():
            m = HOP_LINE.match(line)
            if not m:
                continue               # the "traceroute to ..." header, error messages
            ttl, tokens = int(m.group(1)), m.group(2).split()
            if tokens and ADDR.match(tokens[0]):
                answered.setdefault(ttl, tokens[0])
            for t in tokens:
                if t.startswith("<") and t.endswith(">"):        # -O info: TCP flags
                    outcome = "open" if "syn" in t else "closed" if "rst" in t else outcome
                elif t == "!X":                                  # admin prohibited
                    outcome = "prohibited"
                elif t.startswith("!") and outcome is None:      # !H !N !P !S !F ...
                    outcome = "unreachable"
        if outcome is None:
            outcome = "reached" if answered and answered[max(answered)] == addr else "filtered"
        out[(addr, port)] = (outcome, *peer_hop(answered))
    return out


def parse_mtr(directory):
    out = {}
    for addr, port, text in per_target_files(directory):
        answered = {}
        try:
            hubs = json.loads(text)["report"]["hubs"]
        except (ValueError, KeyError, TypeError):
            continue                       # no JSON: counted as missing
        for h in hubs:
            if h.get("host") not in (None, "???") and h.get("Snt", 0) > 0 and h.get("Loss%", 100) < 100:
                answered.setdefault(int(h["count"]), h["host"])
        # mtr's JSON cannot say open vs closed, nor !X: "reached" or "filtered" only.
        outcome = "reached" if answered and answered[max(answered)] == addr else "filtered"
        out[(addr, port)] = (outcome, *peer_hop(answered))
    return out


PARSERS = {"portpath": parse_portpath, "scamper": parse_scamper,
           "traceroute": parse_traceroute, "mtr": parse_mtr}


def cmd_parse(tool, path):
    for (addr, port), (outcome, ttl, hop) in sorted(PARSERS[tool](path).items()):
        print(f"{addr}\t{port}\t{outcome}\t{ttl}\t{hop}")


# ---------------------------------------------------------------------------------
# Scoring and one record per tool run

def read_tsv(path):
    rows = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 5:
                rows[(parts[0], int(parts[1]))] = tuple(parts[2:])
    return rows


def score(truth, got):
    """Exact match of outcome and hop (ttl + address) per target in `truth`."""
    res = {"scored": len(truth), "correct": 0, "hop_correct": 0, "missing": 0,
           "mismatches": [], "by_port": {}}
    for (addr, port), want in sorted(truth.items()):
        have = got.get((addr, port))
        bp = res["by_port"].setdefault(str(port), [0, 0])
        bp[1] += 1
        if have is None:
            res["missing"] += 1
            res["mismatches"].append(f"{addr}:{port} want {fmt(want)}, no result")
            continue
        if have[1:] == want[1:]:
            res["hop_correct"] += 1
        if have == want:
            res["correct"] += 1
            bp[0] += 1
        else:
            res["mismatches"].append(f"{addr}:{port} want {fmt(want)}, got {fmt(have)}")
    return res


def fmt(r):
    return f"{r[0]} @{r[1]} {r[2]}"


def read_times(path):
    """GNU time lines "%e %U %S %M" (one per run): wall, user, sys summed, RSS max."""
    wall = cpu = 0.0
    rss = 0
    runs = 0
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 4:
                    wall += float(p[0])
                    cpu += float(p[1]) + float(p[2])
                    rss = max(rss, int(p[3]))
                    runs += 1
    return {"wall_s": wall, "cpu_s": cpu, "rss_kib": rss, "runs": runs}


def read_snmp(path):
    """run.sh's dump: '== rN' then /proc/net/snmp and /proc/net/snmp6 of that router.
    Returns {router: {counter: value}} for the ICMP error counters we care about."""
    wanted = {"Icmp.OutTimeExcds", "Icmp.OutDestUnreachs", "Icmp.OutRateLimitGlobal",
              "Icmp.OutRateLimitHost", "Icmp6OutTimeExcds", "Icmp6OutDestUnreachs",
              "Icmp6OutRateLimitHost"}
    routers, cur, header = {}, None, None
    with open(path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "==":
                cur, header = routers.setdefault(p[1], {}), None
            elif p[0] == "Icmp:":
                if header is None:
                    header = p[1:]
                else:
                    for k, v in zip(header, p[1:]):
                        if "Icmp." + k in wanted:
                            cur["Icmp." + k] = int(v)
                    header = None
            elif len(p) == 2 and p[0] in wanted:
                cur[p[0]] = int(p[1])
    return routers


def router_load(before, after):
    """Per router: ICMP errors sent (time exceeded + unreachable, v4+v6) and errors
    asked for (sent + suppressed by the rate limiters)."""
    load = {}
    for r in sorted(after):
        d = {k: after[r].get(k, 0) - before.get(r, {}).get(k, 0) for k in after[r]}
        sent = d.get("Icmp.OutTimeExcds", 0) + d.get("Icmp.OutDestUnreachs", 0) \
            + d.get("Icmp6OutTimeExcds", 0) + d.get("Icmp6OutDestUnreachs", 0)
        limited = d.get("Icmp.OutRateLimitGlobal", 0) + d.get("Icmp.OutRateLimitHost", 0) \
            + d.get("Icmp6OutRateLimitHost", 0)
        load[r] = {"sent": sent, "asked": sent + limited}
    return load


def cmd_record(args):
    a = dict(zip(args[0::2], args[1::2]))
    truth_all = read_tsv(a["--truth"])
    if a.get("--sample"):
        keys = set()
        with open(a["--sample"]) as f:
            for line in f:
                addr, port = line.split()
                keys.add((addr, int(port)))
        truth = {k: v for k, v in truth_all.items() if k in keys}
    else:
        truth = truth_all
    got = read_tsv(a["--common"]) if os.path.exists(a["--common"]) else {}
    probes = [int(x) for x in open(a["--probes"]).read().split()]
    load = router_load(read_snmp(a["--snmp-before"]), read_snmp(a["--snmp-after"]))
    busiest = max(load, key=lambda r: (load[r]["asked"], load[r]["sent"])) if load else "-"
    rec = {
        "n": int(a["--n"]), "regime": a["--regime"], "tool": a["--tool"],
        "mode": "sample" if a.get("--sample") else "all",
        "targets_run": len(truth), "rc": a["--rc"], "timed_out": a["--timed-out"] == "1",
        "command": a["--command"],
        **read_times(a["--time"]),
        "syn": probes[0] + probes[2], "echo": probes[1] + probes[3],
        "routers": load, "busiest": busiest,
        "busiest_sent": load.get(busiest, {}).get("sent", 0),
        "busiest_asked": load.get(busiest, {}).get("asked", 0),
        **score(truth, got),
    }
    print(json.dumps(rec))


def main(argv):
    if len(argv) >= 2 and argv[1] == "gen" and len(argv) == 7:
        cmd_gen(*argv[2:])
    elif len(argv) == 4 and argv[1] == "parse" and argv[2] in PARSERS:
        cmd_parse(argv[2], argv[3])
    elif len(argv) >= 2 and argv[1] == "record":
        cmd_record(argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
