#!/usr/bin/env python3
"""Forged and stale replies for the lab's forged-replies test (tests/lab/forged_replies_test.sh).

  forge_replies.py record SECONDS FILE
      In the lab's client namespace: records every ICMP error and TCP SYN-ACK/RST that
      arrives there for SECONDS (AF_PACKET, IP packets as hex, one per line).
  forge_replies.py forge --client IP --target IP --port N --sport-range LO-HI
                         --count N --rate PPS [--replay FILE] [--tally FILE]
      In a namespace next to the client: sends COUNT packets to the client, cycling
      through the kinds below, and writes how many of each it sent to --tally (JSON).

Every forged packet goes to the lab's client address only: the test assigned it, and
nothing here leaves the lab's namespaces. Kinds:
  random        an IPv4 ICMP message of random bytes (its checksum mostly fails)
  bad_checksum  a time-exceeded quoting a plausible probe, checksum off by one
  quote_short   a time-exceeded whose quote ends 4 bytes into TCP (RFC 792 wants 8)
  wrong_seq     a well-formed time-exceeded from a real hop's address, quoting our
                flow's addresses and a probe source port, with a random sequence number
  fake_router   the same from an address that is no hop of the lab
  syn_ack       a SYN-ACK from the target to a probe source port, random acknowledgement
  rst           the same as an RST
  echo_reply    an echo reply from the target with a random identifier and sequence
  stale         (with --replay) a real answer recorded earlier, to probes long gone
"""
import json
import os
import random
import socket
import struct
import sys
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 60) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), random.getrandbits(16), 0,
                         ttl, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def icmp(type_: int, code: int, body: bytes, bad_checksum: bool = False) -> bytes:
    message = struct.pack("!BBHI", type_, code, 0, 0) + body
    c = checksum(message)
    if bad_checksum:
        c = (c + 1) & 0xFFFF
    return message[:2] + struct.pack("!H", c) + message[4:]


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0)


def quoted_syn(client: str, target: str, port: int, sport: int, seq: int) -> bytes:
    # The probe as a router quotes it: IP header (TTL 1 on arrival) + TCP header.
    syn = tcp(sport, port, seq, 0, 0x02)
    return ipv4(client, target, 6, syn, ttl=1)


def forge(args: dict) -> None:
    client, target, port = args["client"], args["target"], int(args["port"])
    lo, hi = (int(x) for x in args["sport-range"].split("-"))
    count, rate = int(args["count"]), float(args["rate"])
    hop, fake = args.get("hop", "198.51.100.18"), args.get("fake", "203.0.113.99")
    stale = []
    if args.get("replay"):
        with open(args["replay"]) as f:
            stale = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    kinds = ["random", "bad_checksum", "quote_short", "wrong_seq", "fake_router", "syn_ack", "rst",
             "echo_reply"] + (["stale"] if stale else [])
    tally = {k: 0 for k in kinds}
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    start = time.monotonic()
    for i in range(count):
        kind = kinds[i % len(kinds)]
        sport, seq = random.randint(lo, hi), random.getrandbits(32)
        if kind == "random":
            packet = ipv4(hop, client, 1, os.urandom(random.randint(0, 96)))
        elif kind == "bad_checksum":
            packet = ipv4(hop, client, 1, icmp(11, 0, quoted_syn(client, target, port, sport, seq), True))
        elif kind == "quote_short":
            packet = ipv4(hop, client, 1, icmp(11, 0, quoted_syn(client, target, port, sport, seq)[:24]))
        elif kind in ("wrong_seq", "fake_router"):
            packet = ipv4(hop if kind == "wrong_seq" else fake, client, 1,
                          icmp(11, 0, quoted_syn(client, target, port, sport, seq)))
        elif kind in ("syn_ack", "rst"):
            packet = ipv4(target, client, 6,
                          tcp(port, sport, random.getrandbits(32), seq, 0x12 if kind == "syn_ack" else 0x14))
        elif kind == "echo_reply":
            body = struct.pack("!BBHHH", 0, 0, 0, random.getrandbits(16), random.getrandbits(16)) + os.urandom(8)
            body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
            packet = ipv4(target, client, 1, body)
        else:
            packet = random.choice(stale)
        dst = socket.inet_ntoa(packet[16:20])
        if dst != client:  # a recorded packet to anyone else is not replayed
            continue
        out.sendto(packet, (dst, 0))
        tally[kind] += 1
        # Paced: the forgeries arrive while traces run, not in one burst.
        due = start + (i + 1) / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    if args.get("tally"):
        with open(args["tally"], "w") as f:
            json.dump(tally, f)


def record(seconds: float, path: str) -> None:
    ETH_P_IP = 0x0800
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.settimeout(0.2)
    open(path + ".ready", "w").close()  # the test starts its traces once this exists
    end = time.monotonic() + seconds
    with open(path, "w") as f:
        while time.monotonic() < end:
            try:
                data, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING or len(data) < 20:
                continue
            proto = data[9]
            ihl = (data[0] & 0x0F) * 4
            if proto == 1 and len(data) > ihl and data[ihl] in (3, 11):
                f.write(data.hex() + "\n")
            elif proto == 6 and len(data) >= ihl + 14 and data[ihl + 13] & 0x14 in (0x10, 0x14):
                f.write(data.hex() + "\n")


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "record":
        record(float(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "forge":
        args, rest = {}, sys.argv[2:]
        while rest:
            key, value, rest = rest[0].lstrip("-"), rest[1], rest[2:]
            args[key] = value
        forge(args)
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
