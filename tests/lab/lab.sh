#!/usr/bin/env bash
# tests/lab/lab.sh - network-namespace lab for portpath's lab tests, demo and benchmarks.
#
# Use it as a library:   source tests/lab/lab.sh; lab_up pp$$a; ...; lab_down pp$$a
#                        (ECMP lab: lab_up_ecmp pp$$b; ...; lab_down_ecmp pp$$b)
# or as a command:       tests/lab/lab.sh up PREFIX | down PREFIX | status PREFIX
#                        tests/lab/lab.sh up-ecmp PREFIX | down-ecmp PREFIX | status-ecmp PREFIX
#                        tests/lab/lab.sh exec PREFIX NODE cmd...
#                        tests/lab/lab.sh listen PREFIX BINARY [PORT...]
#                        tests/lab/lab.sh expect [CASE [FIELD]]
# Needs root, iproute2 and iptables/ip6tables (nft or legacy backend).
#
# SAFETY: everything lives in network namespaces named PREFIX-<node>, linked only to
# each other by veth pairs that are created directly inside them. Nothing is ever
# attached to the caller's (root) namespace. Probe only the addresses listed below.
# Use a unique PREFIX (e.g. "pp$$a") and always pair lab_up with lab_down (trap EXIT).
#
# ---------------------------------------------------------------------------------
# TOPOLOGY "chain":  c - r1 - r2 - r3 - r4 - r5 - r6 - s     (dual stack)
#
# Link j joins node j and node j+1 (nodes: 0=c 1=r1 ... 6=r6 7=s). On every link the
# LEFT node (client side) gets .1 / ::1 and the RIGHT node gets .2 / ::2 (.17/.18 on
# the .16/28). Inside each namespace the interfaces are called "left" (towards the
# client) and "right" (towards the server). A router answers time-exceeded from the
# address of the interface that leads back to the client, i.e. its left address, so
# hop N (TTL N) is the right-hand address of link N-1:
#
#   link  between  IPv4 subnet          IPv6 subnet        hop (TTL) = right node's addr
#   0     c - r1   10.0.0.0/24          fd00:0:0::/64      1  r1  10.0.0.2        fd00::2        intranet
#   1     r1 - r2  10.0.1.0/24          fd00:0:1::/64      2  r2  10.0.1.2        fd00:0:1::2    intranet
#   2     r2 - r3  10.0.2.0/24          fd00:0:2::/64      3  r3  10.0.2.2        fd00:0:2::2    intranet, SILENT
#   3     r3 - r4  198.51.100.0/28      2001:db8:3::/64    4  r4  198.51.100.2    2001:db8:3::2  public,   SILENT
#   4     r4 - r5  198.51.100.16/28     2001:db8:4::/64    5  r5  198.51.100.18   2001:db8:4::2  public
#   5     r5 - r6  203.0.113.0/28       2001:db8:5::/64    6  r6  203.0.113.2     2001:db8:5::2  public
#   6     r6 - s   192.0.2.0/28         2001:db8:ff::/64   7  s   (the targets below)
#
# Client c: 10.0.0.1 / fd00::1, default routes via r1. Server s: 192.0.2.2 /
# 2001:db8:ff::2 on its veth, default routes via r6 (192.0.2.1 / 2001:db8:ff::1).
# Server target addresses (all assigned inside PREFIX-s, nowhere else):
#   main target    192.0.2.10 , 2001:db8:ff::10          (extra address on the veth)
#   many targets   192.0.2.32-47 , 2001:db8:ff::100-10f  (on s's lo; r6 routes
#                  192.0.2.32/28 and 2001:db8:ff::100/124 to s)
#   bulk targets   198.18.0.0/22 , 2001:db8:100::/116    ("local" routes on lo; every
#                  address answers; 198.18.0.1-198.18.3.254 / 2001:db8:100::1-ffe;
#                  for N distinct addresses skip .0 and .255 of each /24, e.g.
#                  800 addresses x 5 ports = 4000 targets)
#   host unreach   192.0.2.9 , 2001:db8:ff::9            (on lo; s never answers ARP/ND
#                  for them on its veth, r6 gives up resolving after ~0.2 s)
#   net unreach    192.0.2.200 , 2001:db8:ff:1::200      (on lo; r1..r5 route
#                  192.0.2.0/24 and 2001:db8:ff::/48 right, r6 has no route for them)
# Routing: no default route on any router. Each router has its connected links, explicit
# routes to every link subnet on either side, and r1..r5 route 192.0.2.0/24,
# 198.18.0.0/22, 2001:db8:ff::/48 and 2001:db8:100::/116 to the right. r6 only routes
# 192.0.2.32/28, 198.18.0.0/22, 2001:db8:ff::100/124, 2001:db8:100::/116 to s
# (the bulk blocks are LAB_BULK4_NET / LAB_BULK6_NET).
#
# ICMP rate limiting (every router), three modes:
#   LAB_RATELIMIT=off (default)  icmp_ratelimit=0 / net.ipv6.icmp.ratelimit=0 and the
#                  per-namespace global ICMP budget (icmp_msgs_per_sec /
#                  icmp_msgs_burst, which otherwise still caps errors at 1000/s with
#                  bursts of 50) raised: no limit at all.
#   LAB_RATELIMIT=global  per-destination limits lifted (icmp_ratelimit=0,
#                  net.ipv6.icmp.ratelimit=0) but the kernel's default global budget
#                  kept (icmp_msgs_per_sec=1000, icmp_msgs_burst=50): isolates the
#                  effect of the global budget on fast, many-target probing.
#   LAB_RATELIMIT=default  the kernel defaults (v4 1000 ms, v6 100 ms per destination,
#                  plus the 1000/s burst 50 global budget).
#
# Where the lab's forwarding runs (chain lab): veth hands a packet to its peer inline, so
# by default every router's and the server's work for a probe runs in the sender's
# system call and is charged to the prober's CPU time (a fifth of the exporter's at
# 10,000 target ports: bench/serve/RESULTS.md). LAB_THREADED_NAPI=on turns GRO on at
# every veth end (which gives veth a NAPI queue) and TSO off (veth uses that queue only
# when the sending end has TSO off; otherwise every packet still goes inline), and makes
# that NAPI threaded: each
# namespace then receives in a kernel thread of its own (napi/left-N, napi/right-N), as
# separate machines would, and the prober's CPU time is its own. Needs ethtool. A full
# NAPI ring (256 packets) drops (bench/serve/run.sh counts the veths' drops). Applied when
# the lab is built: lab_up on a lab already up keeps it as it was built.
#
# ---------------------------------------------------------------------------------
# CASES (all coexist; chosen by destination port/address; target = main target unless
# noted). TTL = initial TTL / hop limit of the probe. Hops 3 and 4 never answer.
#
#  case          dst:port       what happens                        final answer        first TTL  block hop (TTL addr4 / addr6)
#  open          main:80        s listens (portpath-lab-listen)      SYN-ACK from dst    7          -
#  closed        main:81        nothing listens                      RST from dst        7          -
#  drop_r2       main:8443      r2 FORWARD DROP                      none (TTL>=3 silent)  -        2  10.0.1.2 / fd00:0:1::2
#  drop_r5       main:9443      r5 FORWARD DROP                      none (TTL>=6 silent)  -        5  198.51.100.18 / 2001:db8:4::2
#  prohibited    main:135       r5 FORWARD REJECT admin-prohibited   ICMP !X from hop 5  6          5  198.51.100.18 / 2001:db8:4::2
#  reset_r4      main:7000      r4 FORWARD REJECT tcp-reset          RST "from dst"      5          4  198.51.100.2 / 2001:db8:3::2 (silent)
#  host_unreach  192.0.2.9:80   r6 ARP/ND fails                      ICMP !H from hop 6  7          6  203.0.113.2 / 2001:db8:5::2
#                2001:db8:ff::9                                      (v6: addr unreach, code 3)
#  net_unreach   192.0.2.200:80 r6 has no route                      ICMP !N from hop 6  6          6  203.0.113.2 / 2001:db8:5::2
#                2001:db8:ff:1::200                                  (v6: no route, code 0)
#  many          192.0.2.32-47:80, 2001:db8:ff::100-10f:80           SYN-ACK from dst    7          -
#  bulk          198.18.0.1-3.254:80, 2001:db8:100::1-ffe:80         SYN-ACK from dst    7          -
#                (bulk addresses on ports 81/8443/9443/135 behave as closed/drop_r2/
#                drop_r5/prohibited above: the filters match the port only)
#
# Silent routers r3/r4 still forward and still answer ping (only time-exceeded is
# dropped in their OUTPUT chain).
# Last responding hop (hop distance of the deepest node that answers, and its address):
#  open/closed/many/bulk: 7, the destination;  drop_r2: 2 10.0.1.2;  drop_r5: 5 198.51.100.18;
#  prohibited: TTL 5 gets time-exceeded from r5, TTL>=6 gets !X from r5 (same address);
#  reset_r4: TTL 5.. get the forged RST (looks like the destination at distance 5; TTL 4
#  is silent because r4 is a silent router); host_unreach: TTL 6 time-exceeded from r6,
#  TTL>=7 !H from r6; net_unreach: TTL>=6 all get !N from r6 (the route lookup happens
#  before the TTL check, so r6 never sends time-exceeded for this destination).
#
# Kernel behaviour measured by lab_selftest.sh (Linux 6.x, v4 and v6 alike):
#  - quoted TTL in the ICMP error: time-exceeded quotes 1; !X (REJECT in FORWARD) and
#    !H (neighbour failure) quote the TTL *after* the router's decrement, so router
#    distance = probe TTL - quoted TTL; !N (no route) quotes it before the decrement,
#    so distance = probe TTL - quoted TTL + 1. The outer TTL of any answer from a Linux
#    node at distance d is 64 - (d - 1): r5 -> 60, r6 -> 59, s -> 58, r4's forged RST -> 61.
#  - !H arrives ~200 ms after the probe (one ARP/NS probe of retrans_time_ms=200).
#  - IPv4 !N is rate limited by ip_error() via the root-namespace-only sysctls
#    net.ipv4.route.error_cost/error_burst (about 1/s per source, burst 5) even with
#    LAB_RATELIMIT=off. IPv6 "no route" has no such extra limit.
#
# Machine-readable: lab_expect CASE FIELD (fields listed in LAB_EXPECT_FIELDS), or
# `lab.sh expect` for a tab-separated table. See lab_selftest.sh for the proof.
# ---------------------------------------------------------------------------------
# TOPOLOGY "ecmp" (lab_up_ecmp PREFIX / lab_down_ecmp PREFIX, or `lab.sh up-ecmp`),
# dual stack, checked by ecmp_selftest.sh:
#
#                 .- ra (branch A) -.
#   c --- r1 ----<                   >---- r2 --- s
#                 '- rb (branch B) -'
#
#   link     IPv4 (left, right)                 IPv6 (left, right)       interfaces
#   c - r1   10.0.0.1, 10.0.0.2 /24             fd00::1, fd00::2 /64      right / left
#   r1 - ra  198.51.100.1, 198.51.100.2 /28     2001:db8:a1::1, ::2 /64   brA / left
#   ra - r2  198.51.100.17, 198.51.100.18 /28   2001:db8:a2::1, ::2 /64   right / brA
#   r1 - rb  203.0.113.1, 203.0.113.2 /28       2001:db8:b1::1, ::2 /64   brB / left
#   rb - r2  203.0.113.17, 203.0.113.18 /28     2001:db8:b2::1, ::2 /64   right / brB
#   r2 - s   192.0.2.1, 192.0.2.2 /28           2001:db8:ff::1, ::2 /64   right / left
#
# Hops (TTL: address v4 / v6):
#   1 r1             10.0.0.2        fd00::2           (both branches)
#   2 ra (branch A)  198.51.100.2    2001:db8:a1::2
#     rb (branch B)  203.0.113.2     2001:db8:b1::2
#   3 r2 via A       198.51.100.18   2001:db8:a2::2
#     r2 via B       203.0.113.18    2001:db8:b2::2    (r2 answers from the interface the
#                    probe came in on: IPv6 does that by itself, IPv4 because the lab sets
#                    net.ipv4.icmp_errors_use_inbound_ifaddr=1 on the routers)
#   4 s: main target 192.0.2.10 / 2001:db8:ff::10 (listener: lab_start_listener, port
#     80); bulk targets 198.18.0.0/24 / 2001:db8:100::/120 ("local" routes on s).
# r1 routes 192.0.2.0/24, 198.18.0.0/24, 2001:db8:ff::/48, 2001:db8:100::/120 with a
# multipath route (nexthop via ra, nexthop via rb, weight 1 each),
# net.ipv4/ipv6.fib_multipath_hash_policy=1 (L4: addresses, ports, protocol) and a
# fixed net.ipv4.fib_multipath_hash_seed=LAB_ECMP_HASH_SEED (default 12345). Return
# path: r2 sends everything back over branch A (replies to probes that went over B
# come back over A). No default routes on routers; rp_filter off everywhere.
# Block on one branch: rb FORWARD drops tcp dport 8443 (v4 and v6). Nothing listens
# on 8443, so through A a probe gets the server's RST (closed, TTL 4) and through B
# rb still answers TTL 2 (time-exceeded comes before FORWARD) and all later TTLs are
# silent. Port 80 (with the listener) is open through both branches.
# ICMP rate limiting: as in the chain lab (LAB_RATELIMIT=off|global|default, off by
# default, on r1 ra rb r2).
#
# Branch per client source port (client 10.0.0.1 / fd00::1 -> main target, seed
# 12345; also in LAB_ECMP_BRANCHES and lab_ecmp_expected_branch FAMILY DPORT SPORT):
#   v4 dport 8443  A: 20001 20004 20005 20007 20008 20011 20012 20013 20015 20016 20017
#                     20018 20019 20023 20029
#                  B: 20000 20002 20003 20006 20009 20010 20014 20020 20021 20022 20024
#                     20025 20026 20027 20028 20030 20031
#   v4 dport 80    A: 20001 20002 20004 20005 20006 20007 20010 20011 20013 20015 20016
#                     20017 20021 20022 20023 20024 20026 20029 20031
#                  B: 20000 20003 20008 20009 20012 20014 20018 20019 20020 20025 20027
#                     20028 20030
#   v6 dport 8443  A: 20001 20003 20004 20005 20007 20008 20010 20011 20012 20016 20019
#                     20020 20021 20022 20023 20024 20025 20026 20028 20029 20030
#                  B: 20000 20002 20006 20009 20013 20014 20015 20017 20018 20027 20031
#   v6 dport 80    A: 20001 20006 20007 20008 20009 20010 20012 20015 20016 20017 20018
#                     20019 20020 20021 20022 20024 20025 20026 20030 20031
#                  B: 20000 20002 20003 20004 20005 20011 20013 20014 20023 20027 20028
#                     20029
#
# Kernel facts (Linux 6.18, measured with ecmp_selftest.sh and by hand):
#  - The L4 hash does not depend on the TTL / hop limit: all probes of a trace with a
#    fixed source port (TTL 2..4) cross the same branch (Paris traceroute works).
#  - The destination port is part of the hash (the 80 and 8443 tables differ); so are
#    the addresses (another bulk target gives another table).
#  - IPv6 with policy 1 ignores the flow label; with policy 0 (L3) it hashes addresses,
#    flow label and next header: the source port no longer matters, the flow label does.
#  - net.ipv4.fib_multipath_hash_seed is the seed for IPv6 too. With seed 0 (the
#    default) the kernel uses a random seed that is the same in every namespace but
#    changes at each boot, hence the fixed seed here.
#  - If a packet already carries an L4 hash, r1 uses it instead of the 5-tuple. Kernel
#    TCP sockets (connect()) stamp their SYNs with a random per-socket hash, which
#    survives veth: a plain connect() from a fixed source port takes a random branch
#    each time (seen: 3 runs over ports 20000..20031 all differed), and a SYN
#    retransmission may switch branch (the kernel re-rolls the hash on timeout; seen
#    once: first SYN via B, the retransmission via A). Raw-socket probes (portpath,
#    traceroute -T) carry no hash and follow the table above. The client kernel's own
#    RST after a SYN-ACK likewise may take the other branch.
#  - IPv4 time-exceeded normally comes from the address of the route back to the
#    client (r2 would answer 198.51.100.18 on both branches); IPv6 uses the address of
#    the interface the probe arrived on.
# ---------------------------------------------------------------------------------

# The LAB_* variables below are for the scripts that source this file.
# shellcheck disable=SC2034

PATH="$PATH:/usr/sbin:/sbin"

# This file, for re-running parts of it in a fresh bash (see _lab_build).
LAB_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# Nodes by index: link j joins LAB_NODES[j] and LAB_NODES[j+1].
LAB_NODES=(c r1 r2 r3 r4 r5 r6 s)

# Per link: prefix, left address, right address (v4 and v6).
LAB_LINK4_NET=(10.0.0.0/24 10.0.1.0/24 10.0.2.0/24 198.51.100.0/28 198.51.100.16/28 203.0.113.0/28 192.0.2.0/28)
LAB_LINK4_LEFT=(10.0.0.1 10.0.1.1 10.0.2.1 198.51.100.1 198.51.100.17 203.0.113.1 192.0.2.1)
LAB_LINK4_RIGHT=(10.0.0.2 10.0.1.2 10.0.2.2 198.51.100.2 198.51.100.18 203.0.113.2 192.0.2.2)
LAB_LINK6_NET=(fd00::/64 fd00:0:1::/64 fd00:0:2::/64 2001:db8:3::/64 2001:db8:4::/64 2001:db8:5::/64 2001:db8:ff::/64)
LAB_LINK6_LEFT=(fd00::1 fd00:0:1::1 fd00:0:2::1 2001:db8:3::1 2001:db8:4::1 2001:db8:5::1 2001:db8:ff::1)
LAB_LINK6_RIGHT=(fd00::2 fd00:0:1::2 fd00:0:2::2 2001:db8:3::2 2001:db8:4::2 2001:db8:5::2 2001:db8:ff::2)

# Hop addresses as traceroute prints them: LAB_HOP4[n] answers for TTL n (n = 1..6).
LAB_HOP4=("" 10.0.0.2 10.0.1.2 10.0.2.2 198.51.100.2 198.51.100.18 203.0.113.2)
LAB_HOP6=("" fd00::2 fd00:0:1::2 fd00:0:2::2 2001:db8:3::2 2001:db8:4::2 2001:db8:5::2)
LAB_SILENT_HOPS=(3 4)          # r3 and r4 never send time-exceeded
LAB_DEST_TTL=7                 # distance of the server

LAB_CLIENT4=10.0.0.1
LAB_CLIENT6=fd00::1
LAB_TARGET4=192.0.2.10
LAB_TARGET6=2001:db8:ff::10
LAB_HOSTUNREACH4=192.0.2.9
LAB_HOSTUNREACH6=2001:db8:ff::9
LAB_NETUNREACH4=192.0.2.200
LAB_NETUNREACH6=2001:db8:ff:1::200
LAB_MANY4=() LAB_MANY6=()
for _i in $(seq 0 15); do
  LAB_MANY4+=("192.0.2.$((32 + _i))")
  LAB_MANY6+=("$(printf '2001:db8:ff::%x' $((0x100 + _i)))")
done
unset _i
# Bulk blocks: every address is local on s (198.18.0.0/22 = 1020 usable addresses when
# .0/.255 of each /24 are skipped; 2001:db8:100::/116 = 4096). r1..r6 route them to s.
LAB_BULK4_NET=198.18.0.0/22
LAB_BULK6_NET=2001:db8:100::/116
LAB_PORT_OPEN=80 LAB_PORT_CLOSED=81 LAB_PORT_DROP_R2=8443 LAB_PORT_DROP_R5=9443
LAB_PORT_PROHIBITED=135 LAB_PORT_RESET_R4=7000

# ECMP topology (see the "ecmp" section of the header). Nodes and links:
LAB_ECMP_NODES=(c r1 ra rb r2 s)
LAB_ECMP_ROUTERS=(r1 ra rb r2)
# Per link: left node, its interface, right node, its interface, v4 net, left, right,
# v6 net, left, right.
LAB_ECMP_LINKS=(
  "c right r1 left 10.0.0.0/24 10.0.0.1 10.0.0.2 fd00::/64 fd00::1 fd00::2"
  "r1 brA ra left 198.51.100.0/28 198.51.100.1 198.51.100.2 2001:db8:a1::/64 2001:db8:a1::1 2001:db8:a1::2"
  "ra right r2 brA 198.51.100.16/28 198.51.100.17 198.51.100.18 2001:db8:a2::/64 2001:db8:a2::1 2001:db8:a2::2"
  "r1 brB rb left 203.0.113.0/28 203.0.113.1 203.0.113.2 2001:db8:b1::/64 2001:db8:b1::1 2001:db8:b1::2"
  "rb right r2 brB 203.0.113.16/28 203.0.113.17 203.0.113.18 2001:db8:b2::/64 2001:db8:b2::1 2001:db8:b2::2"
  "r2 right s left 192.0.2.0/28 192.0.2.1 192.0.2.2 2001:db8:ff::/64 2001:db8:ff::1 2001:db8:ff::2"
)
LAB_ECMP_CLIENT4=10.0.0.1 LAB_ECMP_CLIENT6=fd00::1
LAB_ECMP_TARGET4=192.0.2.10 LAB_ECMP_TARGET6=2001:db8:ff::10
LAB_ECMP_BULK4_NET=198.18.0.0/24 LAB_ECMP_BULK6_NET=2001:db8:100::/120
LAB_ECMP_HOP1_4=10.0.0.2 LAB_ECMP_HOP1_6=fd00::2
LAB_ECMP_HOP2A_4=198.51.100.2 LAB_ECMP_HOP2A_6=2001:db8:a1::2      # ra
LAB_ECMP_HOP2B_4=203.0.113.2 LAB_ECMP_HOP2B_6=2001:db8:b1::2       # rb
LAB_ECMP_HOP3A_4=198.51.100.18 LAB_ECMP_HOP3A_6=2001:db8:a2::2     # r2 on branch A
LAB_ECMP_HOP3B_4=203.0.113.18 LAB_ECMP_HOP3B_6=2001:db8:b2::2      # r2 on branch B
LAB_ECMP_DEST_TTL=4
LAB_ECMP_PORT_OPEN=80 LAB_ECMP_PORT_BLOCK_B=8443
# Multipath hash seed on r1 (net.ipv4.fib_multipath_hash_seed, used for v4 and v6).
# Fixed so that the port -> branch table below holds for every build of the lab.
LAB_ECMP_HASH_SEED="${LAB_ECMP_HASH_SEED:-12345}"
# Branch (A = via ra, B = via rb) per client source port 20000..20031 (character i
# is port 20000+i), client 10.0.0.1 / fd00::1 -> main target, seed 12345, L4 hash.
# Measured on Linux 6.18 (ecmp_selftest.sh checks them); the hash covers the
# destination port too, so each port has its own table.
LAB_ECMP_SPORT_FIRST=20000
declare -gA LAB_ECMP_BRANCHES=(
  [4.8443]=BABBAABAABBAAABAAAAABBBABBBBBABB
  [4.80]=BAABAAAABBAABABAAABBBAAAABABBABA
  [6.8443]=BABAAABAABAAABBBABBAAAAAAAABAAAB
  [6.80]=BABBBBAAAAABABBAAAAAAAABAAABBBAA
)

# Where lab_start_listener keeps pid files and logs (one directory per prefix).
LAB_STATE_DIR="${LAB_STATE_DIR:-/run/portpath-lab}"

# ---------------------------------------------------------------------------------
# Expected results. Fields (4/6 suffix = address family):
#   dst4 dst6 port  - what to probe
#   outcome         - open | closed | filtered | prohibited | host-unreachable |
#                     net-unreachable | reset (a router's forged RST: looks "closed")
#   reply_ttl       - smallest probe TTL that draws the final answer ("-" if none)
#   reply_from4/6   - source address of the final answer
#   last_ttl        - hop distance of the deepest node that answers, as traceroute
#                     shows it: for an ICMP error the distance of the router that sent
#                     it (5 for r5's !X, although TTLs >= 6 draw it); for reset_r4 the
#                     apparent distance (5) of the forged "destination"
#   last_addr4/6    - address of that node
#   block_ttl       - hop that stops the probe ("-" when the destination answers)
#   block_addr4/6   - that hop's address (r4 in reset_r4 is itself silent)
#   silent_ttls     - TTLs (up to the destination's distance 7) that never answer
declare -gA LAB_EXPECT=()
LAB_EXPECT_FIELDS=(dst4 dst6 port outcome reply_ttl reply_from4 reply_from6 last_ttl
  last_addr4 last_addr6 block_ttl block_addr4 block_addr6 silent_ttls)
LAB_EXPECT_CASES=()

_lab_case() {  # name, then one value per field in LAB_EXPECT_FIELDS order
  local name=$1 i=0 f
  shift
  local values=("$@")
  LAB_EXPECT_CASES+=("$name")
  for f in "${LAB_EXPECT_FIELDS[@]}"; do
    LAB_EXPECT["$name.$f"]=${values[i]}
    i=$((i + 1))
  done
}
_lab_case open 192.0.2.10 2001:db8:ff::10 80 open 7 192.0.2.10 2001:db8:ff::10 \
  7 192.0.2.10 2001:db8:ff::10 - - - "3 4"
_lab_case closed 192.0.2.10 2001:db8:ff::10 81 closed 7 192.0.2.10 2001:db8:ff::10 \
  7 192.0.2.10 2001:db8:ff::10 - - - "3 4"
_lab_case drop_r2 192.0.2.10 2001:db8:ff::10 8443 filtered - - - \
  2 10.0.1.2 fd00:0:1::2 2 10.0.1.2 fd00:0:1::2 "3 4 5 6 7"
_lab_case drop_r5 192.0.2.10 2001:db8:ff::10 9443 filtered - - - \
  5 198.51.100.18 2001:db8:4::2 5 198.51.100.18 2001:db8:4::2 "3 4 6 7"
_lab_case prohibited 192.0.2.10 2001:db8:ff::10 135 prohibited 6 198.51.100.18 2001:db8:4::2 \
  5 198.51.100.18 2001:db8:4::2 5 198.51.100.18 2001:db8:4::2 "3 4"
_lab_case reset_r4 192.0.2.10 2001:db8:ff::10 7000 reset 5 192.0.2.10 2001:db8:ff::10 \
  5 192.0.2.10 2001:db8:ff::10 4 198.51.100.2 2001:db8:3::2 "3 4"
_lab_case host_unreach 192.0.2.9 2001:db8:ff::9 80 host-unreachable 7 203.0.113.2 2001:db8:5::2 \
  6 203.0.113.2 2001:db8:5::2 6 203.0.113.2 2001:db8:5::2 "3 4"
_lab_case net_unreach 192.0.2.200 2001:db8:ff:1::200 80 net-unreachable 6 203.0.113.2 2001:db8:5::2 \
  6 203.0.113.2 2001:db8:5::2 6 203.0.113.2 2001:db8:5::2 "3 4"
_lab_case many 192.0.2.32 2001:db8:ff::100 80 open 7 192.0.2.32 2001:db8:ff::100 \
  7 192.0.2.32 2001:db8:ff::100 - - - "3 4"
_lab_case bulk 198.18.0.1 2001:db8:100::1 80 open 7 198.18.0.1 2001:db8:100::1 \
  7 198.18.0.1 2001:db8:100::1 - - - "3 4"

# lab_expect CASE FIELD -> prints the value; lab_expect CASE -> prints field=value lines.
lab_expect() {
  local name=${1:?usage: lab_expect CASE [FIELD]} f
  if [[ -z "${LAB_EXPECT[$name.outcome]+x}" ]]; then
    echo "lab_expect: unknown case '$name' (cases: ${LAB_EXPECT_CASES[*]})" >&2
    return 1
  fi
  if [[ $# -ge 2 ]]; then
    if [[ -z "${LAB_EXPECT[$name.$2]+x}" ]]; then
      echo "lab_expect: unknown field '$2' (fields: ${LAB_EXPECT_FIELDS[*]})" >&2
      return 1
    fi
    printf '%s\n' "${LAB_EXPECT[$name.$2]}"
    return 0
  fi
  for f in "${LAB_EXPECT_FIELDS[@]}"; do
    printf '%s=%s\n' "$f" "${LAB_EXPECT[$name.$f]}"
  done
}

# Tab-separated table of every case (header line first).
lab_expect_table() {
  local name f line
  (IFS=$'\t'; echo "case	${LAB_EXPECT_FIELDS[*]}")
  for name in "${LAB_EXPECT_CASES[@]}"; do
    line=$name
    for f in "${LAB_EXPECT_FIELDS[@]}"; do line+=$'\t'"${LAB_EXPECT[$name.$f]}"; done
    printf '%s\n' "$line"
  done
}

# ---------------------------------------------------------------------------------
# Helpers

_lab_check_prefix() {
  # The prefix becomes part of namespace names and a state directory: keep it tame.
  if [[ ! "${1:-}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]]; then
    echo "lab: bad PREFIX '${1:-}' (letters, digits, _ . -; max 40 chars)" >&2
    return 1
  fi
}

_lab_ns_exists() { [[ -e "/run/netns/$1" ]]; }

# Run a command in a node's namespace.
lab_exec() {
  local prefix=${1:?usage: lab_exec PREFIX NODE cmd...} node=${2:?usage: lab_exec PREFIX NODE cmd...}
  shift 2
  ip netns exec "$prefix-$node" "$@"
}

_lab_sysctl() {  # prefix node key=value...
  local prefix=$1 node=$2
  shift 2
  ip netns exec "$prefix-$node" sysctl -q -w "$@" >/dev/null
}

# r<n> routes: index (1..6) -> node name
_lab_router_nodes() { echo r1 r2 r3 r4 r5 r6; }

# _lab_apply_ratelimit PREFIX [ROUTER...]: the chain's routers unless named.
_lab_apply_ratelimit() {
  local prefix=$1 mode=${LAB_RATELIMIT:-off} r
  shift
  local routers=("$@")
  [[ ${#routers[@]} -gt 0 ]] || read -r -a routers <<<"$(_lab_router_nodes)"
  case "$mode" in
    off)
      for r in "${routers[@]}"; do
        # icmp_ratelimit only governs the per-destination token bucket; the global
        # per-namespace budget (icmp_msgs_per_sec=1000, burst 50) would still drop
        # errors when many targets are traced at once, so lift it too.
        _lab_sysctl "$prefix" "$r" net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
          net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000
      done ;;
    global)
      for r in "${routers[@]}"; do
        # Per-destination token buckets off, but the kernel's default global
        # per-namespace budget (1000 msgs/s, bursts of 50) kept: sending many
        # probes quickly still loses errors, probing one destination slowly does not.
        _lab_sysctl "$prefix" "$r" net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
          net.ipv4.icmp_msgs_per_sec=1000 net.ipv4.icmp_msgs_burst=50
      done ;;
    default)
      for r in "${routers[@]}"; do
        # The kernel's defaults as seen in a fresh namespace (v4 1000 ms, v6 100 ms per
        # destination; 1000 msgs/s with bursts of 50 overall), so switching a running
        # lab back from "off" restores them.
        _lab_sysctl "$prefix" "$r" net.ipv4.icmp_ratelimit=1000 net.ipv6.icmp.ratelimit=100 \
          net.ipv4.icmp_msgs_per_sec=1000 net.ipv4.icmp_msgs_burst=50
      done ;;
    *)
      echo "lab: LAB_RATELIMIT must be 'off', 'global' or 'default', not '$mode'" >&2
      return 1 ;;
  esac
}

# Wait until no IPv6 address in the lab is tentative (DAD is off, so this is quick;
# it also covers link-local addresses the kernel adds by itself).
# _lab_wait_v6_ready PREFIX [NODE...]: the chain's nodes unless named.
_lab_wait_v6_ready() {
  local prefix=$1 node tries
  shift
  local nodes=("$@")
  [[ ${#nodes[@]} -gt 0 ]] || nodes=("${LAB_NODES[@]}")
  for node in "${nodes[@]}"; do
    for tries in $(seq 1 100); do
      [[ -z "$(ip -n "$prefix-$node" -6 addr show tentative)" ]] && break
      if [[ $tries -eq 100 ]]; then
        echo "lab: IPv6 addresses in $prefix-$node still tentative" >&2
        return 1
      fi
      sleep 0.05
    done
  done
}

# ---------------------------------------------------------------------------------
# lab_up PREFIX: build the chain. Safe to call twice: an already complete lab is kept
# (only the rate-limit setting is re-applied); a half-built one is torn down and rebuilt.
# Name resolution inside the lab's client: `ip netns exec` bind-mounts
# /etc/netns/NS/{hosts,resolv.conf} over /etc. A resolv.conf without a
# nameserver makes glibc ask 127.0.0.1 inside the namespace, which refuses at
# once: reverse DNS of hop addresses (portpath does it by default, as
# traceroute does) then never sends a query out of the lab toward an address
# we did not assign. The hosts file names the hops, as a real network would.
_lab_client_names() {  # prefix, then "address name" pairs
  local prefix=$1 dir="/etc/netns/$1-c"
  shift
  mkdir -p "$dir"
  echo "options timeout:1 attempts:1" >"$dir/resolv.conf"
  : >"$dir/hosts"
  while (($# >= 2)); do
    echo "$1 $2" >>"$dir/hosts"
    shift 2
  done
}

lab_up() {
  local prefix=${1:?usage: lab_up PREFIX}
  _lab_check_prefix "$prefix" || return 1
  local state="$LAB_STATE_DIR/$prefix" node i j n

  if [[ -e "$state/up" ]]; then
    local complete=1
    for node in "${LAB_NODES[@]}"; do _lab_ns_exists "$prefix-$node" || complete=0; done
    if [[ $complete -eq 1 ]]; then
      _lab_apply_ratelimit "$prefix"
      return 0
    fi
  fi
  lab_down "$prefix"
  mkdir -p "$state"

  # If anything below fails, do not leave a half-built lab behind.
  if ! _lab_build "$prefix"; then
    echo "lab: building '$prefix' failed; removing it" >&2
    lab_down "$prefix"
    return 1
  fi
  _lab_client_names "$prefix" \
    "${LAB_HOP4[1]}" r1.lab.test "${LAB_HOP6[1]}" r1.lab.test \
    "${LAB_HOP4[2]}" r2.lab.test "${LAB_HOP6[2]}" r2.lab.test \
    "${LAB_HOP4[5]}" r5.transit.example "${LAB_HOP6[5]}" r5.transit.example \
    "${LAB_HOP4[6]}" r6.access.example "${LAB_HOP6[6]}" r6.access.example \
    "$LAB_TARGET4" server.example "$LAB_TARGET6" server.example
  touch "$state/up"
}

# The build runs in a fresh bash with errexit on: `set -e` inside a function or subshell
# is silently ignored when the caller tests its status (if/||), so that is the only way
# to stop at the first failing command whatever the caller does.
_lab_build() {
  LAB_RATELIMIT="${LAB_RATELIMIT:-off}" LAB_THREADED_NAPI="${LAB_THREADED_NAPI:-off}" \
    LAB_STATE_DIR="$LAB_STATE_DIR" bash -euo pipefail "$LAB_SH" __build "$1"
}

_lab_build_body() {
  local prefix=$1 node j n
  for node in "${LAB_NODES[@]}"; do
    ip netns add "$prefix-$node"
    ip -n "$prefix-$node" link set lo up
    # Before any interface exists: DAD off (addresses usable at once), no SLAAC/RA
    # noise, no reverse-path filter surprises. New interfaces copy "default".
    _lab_sysctl "$prefix" "$node" \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
      net.ipv6.conf.default.autoconf=0 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done

  # Links: created directly inside the two namespaces (never in the root namespace).
  for j in $(seq 0 6); do
    local l="$prefix-${LAB_NODES[j]}" r="$prefix-${LAB_NODES[j + 1]}"
    local p4=${LAB_LINK4_NET[j]#*/} p6=${LAB_LINK6_NET[j]#*/}
    ip link add right netns "$l" type veth peer name left netns "$r"
    ip -n "$l" addr add "${LAB_LINK4_LEFT[j]}/$p4" dev right
    ip -n "$r" addr add "${LAB_LINK4_RIGHT[j]}/$p4" dev left
    ip -n "$l" -6 addr add "${LAB_LINK6_LEFT[j]}/$p6" dev right nodad
    ip -n "$r" -6 addr add "${LAB_LINK6_RIGHT[j]}/$p6" dev left nodad
    ip -n "$l" link set right up
    ip -n "$r" link set left up
  done
  case ${LAB_THREADED_NAPI:-off} in
    off) ;;
    on)
      local ifname
      for node in "${LAB_NODES[@]}"; do
        for ifname in left right; do
          ip -n "$prefix-$node" link show "$ifname" >/dev/null 2>&1 || continue
          ip netns exec "$prefix-$node" ethtool -K "$ifname" gro on tso off >/dev/null
          ip netns exec "$prefix-$node" sh -c "echo 1 > /sys/class/net/$ifname/threaded"
        done
      done
      ;;
    *) echo "lab: LAB_THREADED_NAPI must be 'on' or 'off', not '$LAB_THREADED_NAPI'" >&2; return 1 ;;
  esac

  # Routers: forwarding on, explicit routes only (no default route anywhere).
  for n in 1 2 3 4 5 6; do
    local ns="$prefix-r$n" lnh4=${LAB_LINK4_LEFT[n - 1]} lnh6=${LAB_LINK6_LEFT[n - 1]}
    local rnh4=${LAB_LINK4_RIGHT[n]} rnh6=${LAB_LINK6_RIGHT[n]}
    _lab_sysctl "$prefix" "r$n" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    for ((j = 0; j <= n - 2; j++)); do       # links left of my left link
      ip -n "$ns" route add "${LAB_LINK4_NET[j]}" via "$lnh4" dev left
      ip -n "$ns" -6 route add "${LAB_LINK6_NET[j]}" via "$lnh6" dev left
    done
    for ((j = n + 1; j <= 6; j++)); do       # links right of my right link
      ip -n "$ns" route add "${LAB_LINK4_NET[j]}" via "$rnh4" dev right
      ip -n "$ns" -6 route add "${LAB_LINK6_NET[j]}" via "$rnh6" dev right
    done
    if [[ $n -lt 6 ]]; then
      # Server prefixes. The /24 and /48 also cover the "no route" targets, which
      # r6 (below) deliberately does not route.
      ip -n "$ns" route add 192.0.2.0/24 via "$rnh4" dev right
      ip -n "$ns" route add "$LAB_BULK4_NET" via "$rnh4" dev right
      ip -n "$ns" -6 route add 2001:db8:ff::/48 via "$rnh6" dev right
      ip -n "$ns" -6 route add "$LAB_BULK6_NET" via "$rnh6" dev right
    else
      # r6: the connected 192.0.2.0/28 and 2001:db8:ff::/64 (host-unreachable
      # targets are resolved there and fail) plus the specific server blocks.
      ip -n "$ns" route add 192.0.2.32/28 via 192.0.2.2 dev right
      ip -n "$ns" route add "$LAB_BULK4_NET" via 192.0.2.2 dev right
      ip -n "$ns" -6 route add 2001:db8:ff::100/124 via 2001:db8:ff::2 dev right
      ip -n "$ns" -6 route add "$LAB_BULK6_NET" via 2001:db8:ff::2 dev right
      # Give up neighbour resolution after one multicast/broadcast probe of 200 ms,
      # so unresolvable targets draw host-unreachable quickly. (ucast_solicit only
      # matters for re-validating known neighbours; it is left at 3 so the real
      # server's entry stays robust.)
      _lab_sysctl "$prefix" r6 \
        net.ipv4.neigh.right.mcast_solicit=1 net.ipv4.neigh.right.app_solicit=0 \
        net.ipv4.neigh.right.retrans_time_ms=200 \
        net.ipv6.neigh.right.mcast_solicit=1 net.ipv6.neigh.right.app_solicit=0 \
        net.ipv6.neigh.right.retrans_time_ms=200
    fi
  done

  # Client: default routes via r1.
  ip -n "$prefix-c" route add default via "${LAB_LINK4_RIGHT[0]}" dev right
  ip -n "$prefix-c" -6 route add default via "${LAB_LINK6_RIGHT[0]}" dev right

  # Server.
  local s="$prefix-s"
  ip -n "$s" route add default via 192.0.2.1 dev left
  ip -n "$s" -6 route add default via 2001:db8:ff::1 dev left
  ip -n "$s" addr add 192.0.2.10/28 dev left                 # main target
  ip -n "$s" -6 addr add 2001:db8:ff::10/64 dev left nodad
  # Extra target addresses live on lo (this kernel has no "dummy" driver). Answer ARP
  # only for addresses configured on the veth itself, so 192.0.2.9 (on lo) stays
  # unresolvable from r6; IPv6 ND only answers for the receiving interface anyway.
  _lab_sysctl "$prefix" s net.ipv4.conf.left.arp_ignore=1
  local a
  for a in "${LAB_MANY4[@]}" "$LAB_HOSTUNREACH4" "$LAB_NETUNREACH4"; do
    ip -n "$s" addr add "$a/32" dev lo
  done
  for a in "${LAB_MANY6[@]}" "$LAB_HOSTUNREACH6" "$LAB_NETUNREACH6"; do
    ip -n "$s" -6 addr add "$a/128" dev lo nodad
  done
  # Bulk targets: a "local" route makes every address of the block local (AnyIP).
  ip -n "$s" route add local "$LAB_BULK4_NET" dev lo
  ip -n "$s" -6 route add local "$LAB_BULK6_NET" dev lo

  # Per-case filters. Note: a router checks TTL before its FORWARD chain, so
  # probes that expire on a filtering router still get time-exceeded.
  local ipt
  for ipt in iptables ip6tables; do
    ip netns exec "$prefix-r2" $ipt -A FORWARD -p tcp --dport 8443 -j DROP
    ip netns exec "$prefix-r5" $ipt -A FORWARD -p tcp --dport 9443 -j DROP
    ip netns exec "$prefix-r4" $ipt -A FORWARD -p tcp --dport 7000 -j REJECT --reject-with tcp-reset
  done
  ip netns exec "$prefix-r5" iptables -A FORWARD -p tcp --dport 135 -j REJECT --reject-with icmp-admin-prohibited
  ip netns exec "$prefix-r5" ip6tables -A FORWARD -p tcp --dport 135 -j REJECT --reject-with icmp6-adm-prohibited
  # Silent routers: they forward, but never say time-exceeded.
  for n in 3 4; do
    ip netns exec "$prefix-r$n" iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP
    ip netns exec "$prefix-r$n" ip6tables -A OUTPUT -p ipv6-icmp --icmpv6-type time-exceeded -j DROP
  done

  _lab_apply_ratelimit "$prefix"
  _lab_wait_v6_ready "$prefix"
}

# lab_down PREFIX: stop everything running in the lab and delete its namespaces.
# Idempotent; only touches PREFIX-<node> for the node names of the two topologies
# (chain and ecmp), so it removes either kind of lab (lab_down_ecmp is the same).
lab_down() {
  local prefix=${1:?usage: lab_down PREFIX}
  _lab_check_prefix "$prefix" || return 1
  local state="$LAB_STATE_DIR/$prefix" node pid pids f tries
  local -A seen=()
  local all_nodes=()
  for node in "${LAB_NODES[@]}" "${LAB_ECMP_NODES[@]}"; do
    [[ -n "${seen[$node]:-}" ]] && continue
    seen[$node]=1
    all_nodes+=("$node")
  done

  # Listeners we started (by pid), then anything else still running inside our
  # namespaces (a netns with live processes would outlive `ip netns del`).
  if [[ -d "$state" ]]; then
    for f in "$state"/*.pid; do
      [[ -e "$f" ]] || continue
      pid=$(<"$f")
      if [[ "$pid" =~ ^[0-9]+$ ]]; then kill "$pid" 2>/dev/null || true; fi
      rm -f "$f"
    done
  fi
  for node in "${all_nodes[@]}"; do
    _lab_ns_exists "$prefix-$node" || continue
    pids=$(ip netns pids "$prefix-$node" 2>/dev/null || true)
    [[ -n "$pids" ]] || continue
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for tries in $(seq 1 20); do
      [[ -z "$(ip netns pids "$prefix-$node" 2>/dev/null || true)" ]] && break
      sleep 0.1
    done
    for pid in $(ip netns pids "$prefix-$node" 2>/dev/null || true); do
      kill -9 "$pid" 2>/dev/null || true
    done
  done
  for node in "${all_nodes[@]}"; do
    if _lab_ns_exists "$prefix-$node"; then
      ip netns del "$prefix-$node" 2>/dev/null || true
    fi
  done
  rm -rf "$state" "/etc/netns/$prefix-c"
  return 0
}

# lab_start_listener PREFIX BINARY [PORT...]: run portpath-lab-listen (default port 80)
# in the server namespace, in the background, and wait until it listens. lab_down
# stops it. Calling it again replaces the previous listener.
lab_start_listener() {
  local prefix=${1:?usage: lab_start_listener PREFIX BINARY [PORT...]}
  local bin=${2:?usage: lab_start_listener PREFIX BINARY [PORT...]}
  shift 2
  local ports=("$@") state="$LAB_STATE_DIR/$prefix" pid old port tries ok
  [[ ${#ports[@]} -gt 0 ]] || ports=("$LAB_PORT_OPEN")
  _lab_check_prefix "$prefix" || return 1
  if ! _lab_ns_exists "$prefix-s"; then
    echo "lab: no lab '$prefix' (run lab_up first)" >&2
    return 1
  fi
  if [[ ! -x "$bin" ]]; then
    echo "lab: listener binary '$bin' not found or not executable" >&2
    return 1
  fi
  mkdir -p "$state"
  if [[ -e "$state/listener.pid" ]]; then
    old=$(<"$state/listener.pid")
    if [[ "$old" =~ ^[0-9]+$ ]]; then kill "$old" 2>/dev/null || true; fi
    rm -f "$state/listener.pid"
    sleep 0.1
  fi
  # `ip netns exec` execs the binary, so $! is the listener's own pid. All standard
  # streams are redirected so a caller's $(...) or pipe does not wait for it.
  ip netns exec "$prefix-s" "$bin" "${ports[@]}" </dev/null >"$state/listener.log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/listener.pid"
  for tries in $(seq 1 50); do
    ok=1
    for port in "${ports[@]}"; do
      [[ -n "$(ip netns exec "$prefix-s" ss -Htln "sport = :$port")" ]] || ok=0
    done
    [[ $ok -eq 1 ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "lab: listener exited: $(cat "$state/listener.log")" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "lab: listener did not start listening on ${ports[*]}" >&2
  return 1
}

# lab_status PREFIX: show which of the lab's namespaces exist.
lab_status() {
  local prefix=${1:?usage: lab_status PREFIX} node missing=0
  for node in "${LAB_NODES[@]}"; do
    if _lab_ns_exists "$prefix-$node"; then echo "$prefix-$node up"; else echo "$prefix-$node missing"; missing=1; fi
  done
  return $missing
}

# ---------------------------------------------------------------------------------
# TOPOLOGY "ecmp" (see the header): c - r1 =(ra | rb)= r2 - s, r1 load-balances per flow.

# lab_up_ecmp PREFIX: build the ECMP lab. Same contract as lab_up: an already complete
# lab is kept (rate limits re-applied), a half-built one is removed and rebuilt, a
# failed build leaves nothing behind. Do not use a PREFIX that holds a chain lab.
lab_up_ecmp() {
  local prefix=${1:?usage: lab_up_ecmp PREFIX}
  _lab_check_prefix "$prefix" || return 1
  local state="$LAB_STATE_DIR/$prefix" node

  if [[ -e "$state/up" ]]; then
    echo "lab: '$prefix' holds a chain lab; use another prefix or lab_down it first" >&2
    return 1
  fi
  if [[ -e "$state/up-ecmp" ]]; then
    local complete=1
    for node in "${LAB_ECMP_NODES[@]}"; do _lab_ns_exists "$prefix-$node" || complete=0; done
    if [[ $complete -eq 1 ]]; then
      _lab_apply_ratelimit "$prefix" "${LAB_ECMP_ROUTERS[@]}"
      return 0
    fi
  fi
  lab_down "$prefix"
  mkdir -p "$state"
  if ! LAB_RATELIMIT="${LAB_RATELIMIT:-off}" LAB_STATE_DIR="$LAB_STATE_DIR" \
      LAB_ECMP_HASH_SEED="$LAB_ECMP_HASH_SEED" \
      bash -euo pipefail "$LAB_SH" __build_ecmp "$prefix"; then
    echo "lab: building ecmp lab '$prefix' failed; removing it" >&2
    lab_down "$prefix"
    return 1
  fi
  _lab_client_names "$prefix"
  touch "$state/up-ecmp"
}

# lab_down_ecmp PREFIX: the same as lab_down (which removes either topology).
lab_down_ecmp() { lab_down "$@"; }

# lab_status_ecmp PREFIX: show which of the ECMP lab's namespaces exist.
lab_status_ecmp() {
  local prefix=${1:?usage: lab_status_ecmp PREFIX} node missing=0
  for node in "${LAB_ECMP_NODES[@]}"; do
    if _lab_ns_exists "$prefix-$node"; then echo "$prefix-$node up"; else echo "$prefix-$node missing"; missing=1; fi
  done
  return $missing
}

# lab_ecmp_branch ADDR: "A" or "B" for a hop-2 or hop-3 address, "-" otherwise.
lab_ecmp_branch() {
  case "$1" in
    "$LAB_ECMP_HOP2A_4" | "$LAB_ECMP_HOP2A_6" | "$LAB_ECMP_HOP3A_4" | "$LAB_ECMP_HOP3A_6") echo A ;;
    "$LAB_ECMP_HOP2B_4" | "$LAB_ECMP_HOP2B_6" | "$LAB_ECMP_HOP3B_4" | "$LAB_ECMP_HOP3B_6") echo B ;;
    *) echo - ;;
  esac
}

# lab_ecmp_expected_branch FAMILY(4|6) DPORT(80|8443) SPORT(20000..20031) -> A or B
# (the measured table above, valid with the default LAB_ECMP_HASH_SEED).
lab_ecmp_expected_branch() {
  local key="$1.$2" i=$(($3 - LAB_ECMP_SPORT_FIRST))
  if [[ -z "${LAB_ECMP_BRANCHES[$key]:-}" || $i -lt 0 || $i -ge 32 ]]; then
    echo "lab_ecmp_expected_branch: no table for family $1 port $2 sport $3" >&2
    return 1
  fi
  echo "${LAB_ECMP_BRANCHES[$key]:i:1}"
}

# Runs in a fresh `bash -euo pipefail` (see _lab_build): stops at the first failure.
_lab_build_ecmp_body() {
  local prefix=$1 node link
  for node in "${LAB_ECMP_NODES[@]}"; do
    ip netns add "$prefix-$node"
    ip -n "$prefix-$node" link set lo up
    _lab_sysctl "$prefix" "$node" \
      net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
      net.ipv6.conf.default.autoconf=0 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done

  # Links, created directly inside the two namespaces (never in the root namespace).
  for link in "${LAB_ECMP_LINKS[@]}"; do
    local ln li rn ri n4 l4 r4 n6 l6 r6
    read -r ln li rn ri n4 l4 r4 n6 l6 r6 <<<"$link"
    ip link add name "$li" netns "$prefix-$ln" type veth peer name "$ri" netns "$prefix-$rn"
    ip -n "$prefix-$ln" addr add "$l4/${n4#*/}" dev "$li"
    ip -n "$prefix-$rn" addr add "$r4/${n4#*/}" dev "$ri"
    ip -n "$prefix-$ln" -6 addr add "$l6/${n6#*/}" dev "$li" nodad
    ip -n "$prefix-$rn" -6 addr add "$r6/${n6#*/}" dev "$ri" nodad
    ip -n "$prefix-$ln" link set dev "$li" up
    ip -n "$prefix-$rn" link set dev "$ri" up
  done

  # icmp_errors_use_inbound_ifaddr: IPv4 time-exceeded comes from the address of the
  # interface the probe arrived on (what IPv6 does by itself), so r2 shows up as
  # 198.51.100.18 on branch A and 203.0.113.18 on branch B although its route back
  # to the client always leaves over A.
  local r
  for r in "${LAB_ECMP_ROUTERS[@]}"; do
    _lab_sysctl "$prefix" "$r" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
      net.ipv4.icmp_errors_use_inbound_ifaddr=1
  done

  # Client and server.
  ip -n "$prefix-c" route add default via 10.0.0.2 dev right
  ip -n "$prefix-c" -6 route add default via fd00::2 dev right
  local s="$prefix-s"
  ip -n "$s" route add default via 192.0.2.1 dev left
  ip -n "$s" -6 route add default via 2001:db8:ff::1 dev left
  ip -n "$s" addr add "$LAB_ECMP_TARGET4/28" dev left
  ip -n "$s" -6 addr add "$LAB_ECMP_TARGET6/64" dev left nodad
  ip -n "$s" route add local "$LAB_ECMP_BULK4_NET" dev lo
  ip -n "$s" -6 route add local "$LAB_ECMP_BULK6_NET" dev lo

  # r1: the server prefixes over both branches, chosen per flow by an L4 hash
  # (addresses, ports, protocol) with a fixed seed.
  local ns="$prefix-r1"
  _lab_sysctl "$prefix" r1 net.ipv4.fib_multipath_hash_policy=1 \
    net.ipv6.fib_multipath_hash_policy=1 \
    net.ipv4.fib_multipath_hash_seed="$LAB_ECMP_HASH_SEED"
  local p4 p6
  for p4 in 192.0.2.0/24 "$LAB_ECMP_BULK4_NET"; do
    ip -n "$ns" route add "$p4" nexthop via 198.51.100.2 dev brA nexthop via 203.0.113.2 dev brB
  done
  for p6 in 2001:db8:ff::/48 "$LAB_ECMP_BULK6_NET"; do
    ip -n "$ns" -6 route add "$p6" nexthop via 2001:db8:a1::2 dev brA nexthop via 2001:db8:b1::2 dev brB
  done
  ip -n "$ns" route add 198.51.100.16/28 via 198.51.100.2 dev brA
  ip -n "$ns" route add 203.0.113.16/28 via 203.0.113.2 dev brB
  ip -n "$ns" -6 route add 2001:db8:a2::/64 via 2001:db8:a1::2 dev brA
  ip -n "$ns" -6 route add 2001:db8:b2::/64 via 2001:db8:b1::2 dev brB

  # ra and rb: back to the client via r1, on to the server via r2.
  local br n4 l4 r4 n6 l6 r6
  for br in "ra 198.51.100.1 2001:db8:a1::1 198.51.100.18 2001:db8:a2::2" \
            "rb 203.0.113.1 2001:db8:b1::1 203.0.113.18 2001:db8:b2::2"; do
    read -r node l4 l6 r4 r6 <<<"$br"
    ns="$prefix-$node"
    ip -n "$ns" route add 10.0.0.0/24 via "$l4" dev left
    ip -n "$ns" -6 route add fd00::/64 via "$l6" dev left
    for p4 in 192.0.2.0/24 "$LAB_ECMP_BULK4_NET"; do ip -n "$ns" route add "$p4" via "$r4" dev right; done
    for p6 in 2001:db8:ff::/48 "$LAB_ECMP_BULK6_NET"; do ip -n "$ns" -6 route add "$p6" via "$r6" dev right; done
  done
  ip -n "$prefix-ra" route add 203.0.113.0/28 via 198.51.100.1 dev left
  ip -n "$prefix-rb" route add 198.51.100.0/28 via 203.0.113.1 dev left
  ip -n "$prefix-ra" -6 route add 2001:db8:b1::/64 via 2001:db8:a1::1 dev left
  ip -n "$prefix-rb" -6 route add 2001:db8:a1::/64 via 2001:db8:b1::1 dev left

  # r2: everything back over branch A only (a deterministic return path; only the
  # forward path matters for a TCP traceroute).
  ns="$prefix-r2"
  ip -n "$ns" route add 10.0.0.0/24 via 198.51.100.17 dev brA
  ip -n "$ns" route add 198.51.100.0/28 via 198.51.100.17 dev brA
  ip -n "$ns" route add 203.0.113.0/28 via 203.0.113.17 dev brB
  ip -n "$ns" route add "$LAB_ECMP_BULK4_NET" via 192.0.2.2 dev right
  ip -n "$ns" -6 route add fd00::/64 via 2001:db8:a2::1 dev brA
  ip -n "$ns" -6 route add 2001:db8:a1::/64 via 2001:db8:a2::1 dev brA
  ip -n "$ns" -6 route add 2001:db8:b1::/64 via 2001:db8:b2::1 dev brB
  ip -n "$ns" -6 route add "$LAB_ECMP_BULK6_NET" via 2001:db8:ff::2 dev right

  # The one-branch block: rb silently drops port 8443 (TTL is checked before FORWARD,
  # so rb itself still answers time-exceeded for probes that expire on it).
  local ipt
  for ipt in iptables ip6tables; do
    ip netns exec "$prefix-rb" $ipt -A FORWARD -p tcp --dport "$LAB_ECMP_PORT_BLOCK_B" -j DROP
  done

  _lab_apply_ratelimit "$prefix" "${LAB_ECMP_ROUTERS[@]}"
  _lab_wait_v6_ready "$prefix" "${LAB_ECMP_NODES[@]}"
}

# ---------------------------------------------------------------------------------
# Command-line use (only when executed, not when sourced).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  usage() {
    cat >&2 <<'EOF'
usage: lab.sh up PREFIX            build the chain lab (LAB_RATELIMIT=off|global|default,
                                   LAB_THREADED_NAPI=off|on)
       lab.sh down PREFIX          stop listeners, delete the lab's namespaces
       lab.sh status PREFIX
       lab.sh up-ecmp PREFIX       build the ecmp lab; down-ecmp / status-ecmp PREFIX
       lab.sh exec PREFIX NODE cmd...      NODE: c r1..r6 s (ecmp: c r1 ra rb r2 s)
       lab.sh listen PREFIX BINARY [PORT...]
       lab.sh expect [CASE [FIELD]]        expected results (table without CASE)
EOF
    exit 2
  }
  [[ $# -ge 1 ]] || usage
  cmd=$1
  shift
  case "$cmd" in
    up) [[ $# -eq 1 ]] || usage; lab_up "$1" ;;
    down) [[ $# -eq 1 ]] || usage; lab_down "$1" ;;
    status) [[ $# -eq 1 ]] || usage; lab_status "$1" ;;
    exec) [[ $# -ge 3 ]] || usage; lab_exec "$@" ;;
    listen) [[ $# -ge 2 ]] || usage; lab_start_listener "$@" ;;
    __build) _lab_build_body "$1" ;;  # internal, used by lab_up
    __build_ecmp) _lab_build_ecmp_body "$1" ;;  # internal, used by lab_up_ecmp
    up-ecmp) [[ $# -eq 1 ]] || usage; lab_up_ecmp "$1" ;;
    down-ecmp) [[ $# -eq 1 ]] || usage; lab_down_ecmp "$1" ;;
    status-ecmp) [[ $# -eq 1 ]] || usage; lab_status_ecmp "$1" ;;
    expect) if [[ $# -eq 0 ]]; then lab_expect_table; else lab_expect "$@"; fi ;;
    *) usage ;;
  esac
fi
