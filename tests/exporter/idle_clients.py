#!/usr/bin/env python3
"""Opens N TCP connections to 127.0.0.1:PORT and keeps them idle (or, with
--slow, trickles one byte of a request line every second on each) until
standard input closes. Prints "open N" once every connection is established,
so a test can time requests from other clients meanwhile.

usage: idle_clients.py PORT N [--slow]
"""
import socket
import sys
import threading
import time


def main() -> int:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    slow = "--slow" in sys.argv[3:]
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        conns.append(s)
    print(f"open {len(conns)}", flush=True)

    stop = threading.Event()

    def trickle() -> None:
        request = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 4096
        at = 0
        while not stop.wait(1.0):
            for s in conns:
                try:
                    s.send(request[at % len(request):at % len(request) + 1])
                except OSError:
                    pass
            at += 1

    if slow:
        threading.Thread(target=trickle, daemon=True).start()
    sys.stdin.read()
    stop.set()
    for s in conns:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
