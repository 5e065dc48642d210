#!/usr/bin/env python3
"""Turns the files of one load test (bench/serve/run.sh --load) into a Markdown table
of figures and pass criteria. Exit status 1 when a criterion is missed.

Reads DIR/samples ("seconds rss_kb open_fds threads utime stime", taken under load),
DIR/wrk.log (the wrk_result line of wrk_report.lua) and DIR/clients.json
(load_clients.py's summary).
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--targets", type=int, required=True)
    ap.add_argument("--warm", type=int, required=True)
    ap.add_argument("--load", type=int, required=True)
    ap.add_argument("--fds-before", type=int, required=True)
    ap.add_argument("--fds-after", type=int, required=True)
    ap.add_argument("--rss-before", type=int, required=True)
    ap.add_argument("--clk-tck", type=float, default=100)
    ap.add_argument("--max-growth", type=float, default=5)
    ap.add_argument("--health-max", type=float, default=1.0)
    ap.add_argument("--client-conns", type=int, required=True)
    ap.add_argument("--alive", type=int, default=1)
    ap.add_argument("--describe", default="")
    a = ap.parse_args()
    d = a.dir

    samples = [list(map(int, line.split())) for line in open(d + "/samples")
               if len(line.split()) == 6]
    measured = [s for s in samples if s[0] >= a.warm] or samples[-1:] or [[0] * 6]
    first, last = measured[0], measured[-1]
    span = max(last[0] - first[0], 1)
    cpu = ((last[4] + last[5]) - (first[4] + first[5])) / a.clk_tck / span * 100
    rss0, rss1 = first[1], last[1]
    peak = max(s[1] for s in measured)
    # Growth compares the mean RSS of the last half of the measured samples with that
    # of the first half. One sample against another is noise: malloc's arenas grow and
    # trim by a megabyte or two between samples (smaps shows the arena heap mapping
    # moving both ways), and one 2 MB step at the last sample failed a CI run with no
    # leak behind it. A leak still shows: it raises every later sample.
    half = max(len(measured) // 2, 1)
    early = sum(s[1] for s in measured[:half]) / half
    late = sum(s[1] for s in measured[-half:]) / half
    growth = (late / early - 1) * 100 if early else float("inf")
    fd0, fd1, fdmax = first[2], last[2], max(s[2] for s in measured)

    wrk = {}
    for line in open(d + "/wrk.log"):
        if line.startswith("wrk_result"):
            wrk = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    try:
        c = json.load(open(d + "/clients.json"))
    except (OSError, ValueError) as e:
        c = {"clients": {}, "health": {"requests": 0, "not_200": 0, "max_s": 99, "mean_s": 0},
             "probe": {"requests": 0, "answered": 0, "lost": 0, "statuses": {}, "max_s": 0,
                       "mean_s": 0, "lost_examples": [f"no client summary: {e}"]}}
    h, p, cl = c["health"], c["probe"], c["clients"]

    rows = []

    def row(name, value, limit, ok=True):
        rows.append((name, value, limit, ok))

    socket = [int(wrk.get(k, -1)) for k in ("connect", "read", "write", "timeout")]
    rate = wrk.get("requests", 0) / max(wrk.get("seconds", 1), 1)
    row("exporter alive at the end", "yes" if a.alive else "no", "yes", a.alive == 1)
    row("/metrics (wrk): requests", f"{int(wrk.get('requests', 0))} ({rate:.1f}/s)", "> 0",
        wrk.get("requests", 0) > 0)
    row("/metrics (wrk): non-2xx answers", int(wrk.get("non2xx", -1)), "0",
        wrk.get("non2xx", -1) == 0)
    row("/metrics (wrk): socket errors connect/read/write/timeout",
        "/".join(map(str, socket)), "0/0/0/0", socket == [0, 0, 0, 0])
    row("/metrics latency mean / p99 / max (ms)",
        f"{wrk.get('latency_mean_ms', 0):.1f} / {wrk.get('latency_p99_ms', 0):.1f} / "
        f"{wrk.get('latency_max_ms', 0):.1f}", "")
    statuses = ", ".join(f"HTTP {k}: {v}" for k, v in sorted(p["statuses"].items()))
    row("/probe answered with the target's series / sent",
        f"{p['answered']} / {p['requests']} ({statuses})", "all, and > 0",
        p["requests"] > 0 and p["lost"] == 0)
    row("/probe time mean / max (s)", f"{p['mean_s']:.2f} / {p['max_s']:.2f}", "")
    row("/-/healthy not 200 / polls", f"{h['not_200']} / {h['requests']}", "0",
        h["requests"] > 0 and h["not_200"] == 0)
    row("/-/healthy latency mean / max (ms)",
        f"{h['mean_s'] * 1000:.1f} / {h['max_s'] * 1000:.0f}",
        f"max < {a.health_max * 1000:.0f}", h["requests"] > 0 and h["max_s"] < a.health_max)
    row("idle / slow connections opened (dropped by the exporter)",
        f"{cl.get('idle_opened', 0)} ({cl.get('idle_dropped_by_server', 0)}) / "
        f"{cl.get('slow_opened', 0)} ({cl.get('slow_dropped_by_server', 0)})",
        "no connect error",
        cl.get("idle_connect_errors", 1) + cl.get("slow_connect_errors", 1) == 0)
    row("RSS MB quiet, before the load", f"{a.rss_before / 1024:.1f}", "")
    row("RSS MB under load: start / end / peak; mean of the first / last half of samples",
        f"{rss0 / 1024:.1f} / {rss1 / 1024:.1f} / {peak / 1024:.1f}; "
        f"{early / 1024:.1f} / {late / 1024:.1f} ({growth:+.1f}%)",
        f"within {a.max_growth:g}%", abs(growth) <= a.max_growth)
    row("open fds quiet: before / after the load", f"{a.fds_before} / {a.fds_after}", "equal",
        a.fds_after == a.fds_before)
    hi = a.fds_before + a.client_conns
    row("open fds under load: start / end / max", f"{fd0} / {fd1} / {fdmax}",
        f"{a.fds_before}..{hi} (quiet + {a.client_conns} client connections)",
        all(a.fds_before <= x <= hi for x in (fd0, fd1, fdmax)))
    row("threads under load: start / end", f"{first[3]} / {last[3]}", "equal",
        first[3] == last[3])
    row("CPU % of one core under load (samples)", f"{cpu:.1f} ({len(measured)})", "")

    print(f"Load test: {a.targets} target ports; {a.warm} s of load as warm-up, then "
          f"{a.load} s measured. {a.describe}.\n")
    print("| figure | measured | pass criterion | ok |")
    print("|---|---|---|---|")
    for name, value, limit, ok in rows:
        print(f"| {name} | {value} | {limit or '(reported)'} | "
              f"{('yes' if ok else '**NO**') if limit else ''} |")
    for example in p.get("lost_examples", []):
        print(f"\nlost probe: {example}")
    failed = [name for name, _, limit, ok in rows if limit and not ok]
    if failed:
        print("\nFAIL: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
