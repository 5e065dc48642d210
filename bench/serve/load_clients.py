#!/usr/bin/env python3
"""The clients of the serve load test (bench/serve/run.sh --load), beside wrk.

For DURATION seconds, against the exporter at 127.0.0.1:PORT:
  - IDLE connections that send nothing, each reopened as soon as the server
    drops it (it gives a client 5 s for its request headers),
  - SLOW connections that trickle a request one byte a second, reopened
    likewise,
  - /-/healthy polled every HEALTH_PERIOD seconds, each answer timed,
  - a bounded stream of /probe?target=HOST:PORT: PROBE_WORKERS sequential
    workers (the exporter runs at most two /probe traces at once, so two
    workers never meet a 429), each starting a request at most every
    PROBE_PERIOD seconds, targets taken in turn from TARGETS_FILE (one
    HOST:PORT a line). A probe counts as answered when it is a 200 whose body
    holds that target's portpath_outcome and
    portpath_last_trace_timestamp_seconds series.

Writes OUTDIR/health.log ("t seconds status"), OUTDIR/probe.log ("t target
status bytes seconds ok") and prints one JSON summary on stdout.

usage: load_clients.py PORT DURATION OUTDIR TARGETS_FILE [--idle 8] [--slow 2]
                       [--health-period 0.5] [--probe-workers 2] [--probe-period 1.5]
"""
import argparse
import http.client
import itertools
import json
import os
import socket
import threading
import time


def hold_connections(port, count, slow, stop, stats, key):
    """Keeps COUNT connections open until STOP; reopens each one the server drops."""
    request = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 4096
    conns = [None] * count
    sent = [0] * count
    while not stop.is_set():
        for i in range(count):
            s = conns[i]
            if s is not None:
                try:
                    # A closed connection reads as b"" (or an error); an open one times out.
                    s.settimeout(0)
                    dropped = s.recv(65536) == b""
                except BlockingIOError:
                    dropped = False
                except OSError:
                    dropped = True
                if dropped:
                    s.close()
                    conns[i] = s = None
                    stats[key + "_dropped_by_server"] += 1
            if s is None:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    conns[i], sent[i] = s, 0
                    stats[key + "_opened"] += 1
                except OSError:
                    stats[key + "_connect_errors"] += 1
                    continue
            if slow:
                try:
                    s.send(request[sent[i] % len(request):sent[i] % len(request) + 1])
                    sent[i] += 1
                except OSError:
                    pass
        stop.wait(1.0)
    for s in conns:
        if s is not None:
            s.close()


def get(port, path, timeout):
    """(status, body, seconds) of one GET; status 0 on a connection error or timeout."""
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, body, time.monotonic() - start
    except (OSError, http.client.HTTPException):
        return 0, b"", time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("duration", type=float)
    parser.add_argument("outdir")
    parser.add_argument("targets_file")
    parser.add_argument("--idle", type=int, default=8)
    parser.add_argument("--slow", type=int, default=2)
    parser.add_argument("--health-period", type=float, default=0.5)
    parser.add_argument("--probe-workers", type=int, default=2)
    parser.add_argument("--probe-period", type=float, default=1.5)
    args = parser.parse_args()

    targets = [line.strip() for line in open(args.targets_file) if line.strip()]
    stop = threading.Event()
    lock = threading.Lock()
    stats = {k: 0 for k in ["idle_opened", "idle_dropped_by_server", "idle_connect_errors",
                            "slow_opened", "slow_dropped_by_server", "slow_connect_errors"]}
    health = {"requests": 0, "not_200": 0, "max_s": 0.0, "sum_s": 0.0}
    probes = {"requests": 0, "answered": 0, "lost": 0, "statuses": {}, "max_s": 0.0,
              "sum_s": 0.0, "min_bytes": None, "lost_examples": []}
    t0 = time.monotonic()
    health_log = open(os.path.join(args.outdir, "health.log"), "w")
    probe_log = open(os.path.join(args.outdir, "probe.log"), "w")
    next_target = itertools.cycle(targets)

    def health_loop():
        while not stop.is_set():
            status, _, seconds = get(args.port, "/-/healthy", 10)
            with lock:
                health["requests"] += 1
                health["not_200"] += status != 200
                health["max_s"] = max(health["max_s"], seconds)
                health["sum_s"] += seconds
                health_log.write(f"{time.monotonic() - t0:.1f} {seconds:.4f} {status}\n")
            stop.wait(max(0.0, args.health_period - seconds))

    def probe_loop():
        while not stop.is_set():
            with lock:
                target = next(next_target)
            started = time.monotonic()
            status, body, seconds = get(args.port, "/probe?target=" + target, 90)
            label = f'target="{target}"'.encode()
            ok = status == 200 and all(
                any(line.startswith(name) and label in line for line in body.splitlines())
                for name in (b"portpath_outcome{", b"portpath_last_trace_timestamp_seconds{"))
            with lock:
                probes["requests"] += 1
                probes["answered" if ok else "lost"] += 1
                probes["statuses"][str(status)] = probes["statuses"].get(str(status), 0) + 1
                probes["max_s"] = max(probes["max_s"], seconds)
                probes["sum_s"] += seconds
                if probes["min_bytes"] is None or len(body) < probes["min_bytes"]:
                    probes["min_bytes"] = len(body)
                if not ok and len(probes["lost_examples"]) < 5:
                    probes["lost_examples"].append(
                        f"{target}: {status} {body[:200].decode(errors='replace')!r}")
                probe_log.write(f"{started - t0:.1f} {target} {status} {len(body)} "
                                f"{seconds:.3f} {int(ok)}\n")
            stop.wait(max(0.0, args.probe_period - (time.monotonic() - started)))

    threads = [threading.Thread(target=hold_connections,
                                args=(args.port, args.idle, False, stop, stats, "idle")),
               threading.Thread(target=hold_connections,
                                args=(args.port, args.slow, True, stop, stats, "slow")),
               threading.Thread(target=health_loop)]
    threads += [threading.Thread(target=probe_loop) for _ in range(args.probe_workers)]
    for t in threads:
        t.start()
    stop.wait(args.duration)
    stop.set()
    for t in threads:
        t.join()
    health_log.close()
    probe_log.close()
    health["mean_s"] = health["sum_s"] / health["requests"] if health["requests"] else 0
    probes["mean_s"] = probes["sum_s"] / probes["requests"] if probes["requests"] else 0
    print(json.dumps({"clients": stats, "health": health, "probe": probes}))


if __name__ == "__main__":
    main()
