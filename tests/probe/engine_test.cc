#include "probe/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "probe/packet/bytes.h"
#include "probe/packet_transport.h"
#include "probe/verdict.h"
#include "tests/probe/fixtures.h"

namespace portpath::probe {
namespace {

using namespace std::chrono_literals;
using packet::ByteReader;
using packet::Bytes;
using packet::ByteWriter;
using packet::DropReason;
using packet::IpAddress;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }
IpAddress Ip(const std::string& text) { return *IpAddress::Parse(text); }
const TimePoint kEpoch = TimePoint{} + std::chrono::hours(24 * 365 * 50);

class FakeClock : public TimeSource {
 public:
  TimePoint Now() override { return now; }
  TimePoint now = kEpoch;
};

/// A router's ICMP policing: a token bucket like Linux's per-destination limit
/// (icmp_ratelimit: a burst of 6, then one message per second).
struct Policer {
  double burst = 0;  // 0 = unlimited
  double per_second = 0;
  double tokens = -1;
  TimePoint last{};
  bool Take(TimePoint now) {
    if (burst == 0) return true;
    if (tokens < 0) {
      tokens = burst;
      last = now;
    }
    tokens =
        std::min(burst, tokens + std::chrono::duration<double>(now - last).count() * per_second);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }
};

struct Router {
  IpAddress v4, v6;
  /// ICMP policing of the errors this router sends us. Linux's per-destination
  /// limit keeps one bucket per peer, so our IPv4 and IPv6 addresses get one each
  /// (policer_v6); its global budget is one bucket for both (policer alone).
  Policer policer;
  std::optional<Policer> policer_v6;
  bool silent = false;  // never sends ICMP errors at all
  /// Linux's per-destination limit (icmp_ratelimit: a burst of 6, then one a second).
  void PolicePerDestination() {
    policer = Policer{6, 1};
    policer_v6 = Policer{6, 1};
  }
};

/// What the end of a path does with a probe.
enum class End {
  kOpen,           // the destination answers SYN-ACK
  kClosed,         // the destination answers RST
  kFilteredAfter,  // router k drops the port: TCP with TTL > k is silent
  kProhibitedAt,   // router k answers TCP with TTL > k with !X (time-exceeded at TTL k)
};

struct SimPath {
  std::vector<int> routers;  // indices into FakeNetwork::routers; hop n = routers[n-1]
  End end = End::kOpen;
  int k = 0;
  bool duplicate_tcp = false;  // the destination's answer arrives twice
  bool drop_echo = false;      // ICMP echo is dropped before the first hop
};

/// The probe as the fake network reads it off the wire.
struct WireProbe {
  bool v6 = false;
  ProbeKind kind = ProbeKind::kTcpSyn;
  IpAddress source, destination;
  int ttl = 0;
  /// For an echo: source_port is its identifier, sequence (identifier << 16) | sequence.
  std::uint16_t source_port = 0, destination_port = 0;
  std::uint32_t sequence = 0;
  std::uint16_t icmp_checksum = 0;
  std::vector<std::uint8_t> bytes;
  TimePoint sent{};
};

/// A TCP SYN or an ICMP/ICMPv6 echo request; nullopt for anything else.
std::optional<WireProbe> ParseProbe(Bytes ip) {
  WireProbe p;
  ByteReader r(ip);
  auto first = r.u8();
  if (!first) return std::nullopt;
  p.v6 = (*first >> 4) == 6;
  std::size_t header = p.v6 ? 40 : 20;
  if (ip.size() < header + 8) return std::nullopt;
  std::uint8_t proto = 0;
  if (p.v6) {
    proto = ip[6];
    p.ttl = ip[7];
    p.source = IpAddress::FromBytes(packet::Family::kIpv6, &ip[8]);
    p.destination = IpAddress::FromBytes(packet::Family::kIpv6, &ip[24]);
  } else {
    if (*first != 0x45) return std::nullopt;
    proto = ip[9];
    p.ttl = ip[8];
    p.source = IpAddress::FromBytes(packet::Family::kIpv4, &ip[12]);
    p.destination = IpAddress::FromBytes(packet::Family::kIpv4, &ip[16]);
  }
  ByteReader l4(ip.subspan(header));
  if (proto == packet::kProtoTcp) {
    if (ip.size() < header + 20) return std::nullopt;
    p.source_port = *l4.u16();
    p.destination_port = *l4.u16();
    p.sequence = *l4.u32();
    l4.skip(5);
    if (*l4.u8() != 0x02) return std::nullopt;  // only SYNs are probes
  } else if (proto == (p.v6 ? packet::kProtoIcmp6 : packet::kProtoIcmp)) {
    if (*l4.u8() != (p.v6 ? 128 : 8) || *l4.u8() != 0) return std::nullopt;  // echo request
    p.kind = ProbeKind::kIcmpEcho;
    p.icmp_checksum = *l4.u16();
    p.source_port = *l4.u16();
    p.sequence = (std::uint32_t{p.source_port} << 16) | *l4.u16();
  } else {
    return std::nullopt;
  }
  p.bytes.assign(ip.begin(), ip.end());
  return p;
}

void IpHeader(ByteWriter& w, bool v6, const IpAddress& from, const IpAddress& to,
              std::uint8_t proto, std::size_t payload, std::uint8_t ttl) {
  if (v6) {
    w.u32(6u << 28);
    w.u16(static_cast<std::uint16_t>(payload));
    w.u8(proto);
    w.u8(ttl);
    w.bytes(Bytes(from.bytes().data(), 16));
    w.bytes(Bytes(to.bytes().data(), 16));
  } else {
    w.u8(0x45);
    w.u8(0);
    w.u16(static_cast<std::uint16_t>(20 + payload));
    w.u32(0);
    w.u8(ttl);
    w.u8(proto);
    w.u16(0);  // checksums are not checked by the decoder
    w.bytes(Bytes(from.bytes().data(), 4));
    w.bytes(Bytes(to.bytes().data(), 4));
  }
}

/// The TTL a reply from `hops` away arrives with: sent at 64, decremented by each
/// router on the way back. The engine reads the destination's distance from it.
std::uint8_t ArrivingTtl(int hops) { return static_cast<std::uint8_t>(65 - hops); }

/// What a router sends: ICMP time-exceeded or unreachable quoting the probe (SYN or
/// echo) with the TTL it had on arrival minus its decrement. IPv4 quotes the RFC 792
/// minimum (IP header + 8 bytes), IPv6 the whole probe (RFC 4443), so both paths are
/// used.
std::vector<std::uint8_t> IcmpError(const WireProbe& p, const IpAddress& from, int hop,
                                    bool time_exceeded, std::uint8_t code, int quoted_ttl) {
  std::vector<std::uint8_t> quote = p.bytes;
  if (!p.v6) quote.resize(28);
  quote[p.v6 ? 7 : 8] = static_cast<std::uint8_t>(quoted_ttl);
  ByteWriter w;
  IpHeader(w, p.v6, from, p.source, p.v6 ? 58 : 1, 8 + quote.size(), ArrivingTtl(hop));
  w.u8(p.v6 ? (time_exceeded ? 3 : 1) : (time_exceeded ? 11 : 3));
  w.u8(code);
  w.u16(0);
  w.u32(0);
  w.bytes(quote);
  std::vector<std::uint8_t> packet = w.take();
  testing::FixIcmpChecksum(packet);
  return packet;
}

std::vector<std::uint8_t> TcpAnswer(const WireProbe& p, bool syn_ack, int dist = 7) {
  ByteWriter w;
  IpHeader(w, p.v6, p.destination, p.source, 6, 20, ArrivingTtl(dist));
  w.u16(p.destination_port);
  w.u16(p.source_port);
  w.u32(syn_ack ? 0x51f0c0de : 0);
  w.u32(p.sequence + 1);
  w.u8(0x50);
  w.u8(syn_ack ? 0x12 : 0x14);
  w.u16(syn_ack ? 65535 : 0);
  w.u32(0);
  return w.take();
}

/// The destination's echo reply: the request's ICMP message, type changed.
std::vector<std::uint8_t> EchoAnswer(const WireProbe& p, int dist = 7) {
  std::size_t header = p.v6 ? 40 : 20;
  std::vector<std::uint8_t> icmp(p.bytes.begin() + static_cast<std::ptrdiff_t>(header),
                                 p.bytes.end());
  icmp[0] = p.v6 ? 129 : 0;
  ByteWriter w;
  IpHeader(w, p.v6, p.destination, p.source, p.v6 ? 58 : 1, icmp.size(), ArrivingTtl(dist));
  w.bytes(icmp);
  std::vector<std::uint8_t> packet = w.take();
  testing::FixIcmpChecksum(packet);
  return packet;
}

/// A simulated network: the sender reads each probe and queues what the path would
/// send back; the source delivers due packets and moves the fake clock forward
/// instead of sleeping. Routers police their ICMP errors (time-exceeded and
/// unreachable alike, for SYNs and echoes); the destination's own answers (SYN-ACK,
/// RST, echo reply) are not policed.
class FakeNetwork : public PacketSender, public PacketSource {
 public:
  explicit FakeNetwork(FakeClock& clock) : clock_(clock) {}

  std::vector<Router> routers;
  std::map<IpAddress, SimPath> paths;    // by destination
  std::map<IpAddress, int> send_errors;  // errno returned for a destination...
  int send_error_count = 1;              // ...this many times (ENOBUFS) or forever (others)
  Duration per_hop = 1ms;                // one-way delay per hop
  std::vector<WireProbe> sent;

  int Send(const IpAddress& destination, Bytes ip_packet) override {
    auto e = send_errors.find(destination);
    if (e != send_errors.end()) {
      int err = e->second;
      if (err != ENOBUFS || send_error_count-- > 0) return err;
    }
    std::optional<WireProbe> p = ParseProbe(ip_packet);
    EXPECT_TRUE(p) << "the engine sent something that is neither a SYN nor an echo probe";
    if (!p) return 0;
    EXPECT_EQ(p->destination, destination);
    p->sent = clock_.Now();
    sent.push_back(*p);
    Respond(*p);
    return 0;
  }

  void Poll(Duration max_wait, const Handler& handler) override {
    if (queue_.empty() || queue_.begin()->first > clock_.now) {
      TimePoint wake = clock_.now + max_wait;
      if (!queue_.empty() && queue_.begin()->first < wake) wake = queue_.begin()->first;
      clock_.now = std::max(clock_.now, wake);
    }
    while (!queue_.empty() && queue_.begin()->first <= clock_.now) {
      std::vector<std::uint8_t> bytes = std::move(queue_.begin()->second);
      TimePoint at = queue_.begin()->first;
      queue_.erase(queue_.begin());
      handler(bytes, at);
    }
  }

  /// Queues an arbitrary packet for delivery at `at`.
  void Inject(std::vector<std::uint8_t> bytes, TimePoint at) {
    queue_.emplace(at, std::move(bytes));
  }

  /// Answers to the probes it picks are lost unread, as in a full capture
  /// buffer: not delivered, and counted in capture_drops().
  std::function<bool(const WireProbe&)> lose;
  std::uint64_t capture_drops() const override { return capture_drops_; }

 private:
  void Deliver(std::vector<std::uint8_t> bytes, const WireProbe& p, int hops) {
    if (lose && lose(p)) {
      ++capture_drops_;
      return;
    }
    queue_.emplace(p.sent + 2 * hops * per_hop, std::move(bytes));
  }
  std::uint64_t capture_drops_ = 0;
  void FromRouter(const WireProbe& p, int hop, bool time_exceeded, std::uint8_t code,
                  int quoted_ttl, const SimPath& path) {
    Router& r =
        routers.at(static_cast<std::size_t>(path.routers.at(static_cast<std::size_t>(hop - 1))));
    Policer& policer = p.v6 && r.policer_v6 ? *r.policer_v6 : r.policer;
    if (r.silent || !policer.Take(clock_.Now())) return;
    Deliver(IcmpError(p, p.v6 ? r.v6 : r.v4, hop, time_exceeded, code, quoted_ttl), p, hop);
  }
  void Respond(const WireProbe& p) {
    auto it = paths.find(p.destination);
    if (it == paths.end()) return;
    const SimPath& path = it->second;
    int dist = static_cast<int>(path.routers.size()) + 1;
    if (p.kind == ProbeKind::kIcmpEcho) {
      // Filters here stop the TCP port only: echoes go on to the destination.
      if (path.drop_echo) return;
      if (p.ttl < dist)
        FromRouter(p, p.ttl, true, 0, 1, path);
      else
        Deliver(EchoAnswer(p, dist), p, dist);
      return;
    }
    switch (path.end) {
      case End::kFilteredAfter:
        if (p.ttl <= path.k) FromRouter(p, p.ttl, true, 0, 1, path);
        return;
      case End::kProhibitedAt:
        if (p.ttl <= path.k)
          FromRouter(p, p.ttl, true, 0, 1, path);
        else
          FromRouter(p, path.k, false, p.v6 ? 1 : 13, p.ttl - path.k, path);
        return;
      case End::kOpen:
      case End::kClosed:
        if (p.ttl < dist) {
          FromRouter(p, p.ttl, true, 0, 1, path);
          return;
        }
        Deliver(TcpAnswer(p, path.end == End::kOpen, dist), p, dist);
        if (path.duplicate_tcp) Deliver(TcpAnswer(p, path.end == End::kOpen, dist), p, dist);
        return;
    }
  }

  FakeClock& clock_;
  std::multimap<TimePoint, std::vector<std::uint8_t>> queue_;
};

/// What the unprivileged connect() transport tells the engine, over the same
/// simulated network: each answer still reaches its probe (the kernel matches
/// it to the probe's socket; here the packet matcher stands in for that), but
/// without the quoted IP header (no quoted TTL), without the TTL of the
/// destination's SYN-ACK or RST, without MPLS labels, and with ICMP echo only
/// where ping sockets are allowed.
class ConnectLikeTransport : public ProbeTransport {
 public:
  ConnectLikeTransport(FakeNetwork& net, bool echo) : inner_(net, net, 0x5eed1234), echo_(echo) {}
  ProbeMode mode() const override { return ProbeMode::kConnect; }
  bool SupportsEcho(bool) const override { return echo_; }
  void BeginTrace(std::uint16_t slot, const Flow& flow) override {
    EXPECT_TRUE(open.insert(slot).second) << "slot " << slot << " begun twice";
    inner_.BeginTrace(slot, flow);
  }
  void EndTrace(std::uint16_t slot) override {
    EXPECT_EQ(open.erase(slot), 1u) << "slot " << slot << " ended but never begun";
    ++ended;
    inner_.EndTrace(slot);
  }
  int Send(const ProbeSpec& probe) override {
    EXPECT_TRUE(echo_ || probe.kind == ProbeKind::kTcpSyn) << "an echo without ping sockets";
    EXPECT_GT(probe.timeout, Duration::zero());
    return inner_.Send(probe);
  }
  void Poll(Duration max_wait, const Handler& handler) override {
    inner_.Poll(max_wait, [&](const ProbeEvent& event) {
      ProbeEvent seen = event;
      seen.reply.quoted_ttl.reset();
      seen.reply.mpls.clear();
      if (seen.reply.type == packet::ReplyType::kSynAck ||
          seen.reply.type == packet::ReplyType::kRst)
        seen.reply.reply_ttl = 0;
      handler(seen);
    });
  }
  std::set<std::uint16_t> open;  // traces begun and not ended
  int ended = 0;

 private:
  PacketTransport inner_;
  bool echo_;
};

/// Six routers r1..r6 with lab-like addresses, shared by every path.
std::vector<Router> SixRouters() {
  std::vector<Router> r;
  for (int i = 1; i <= 6; ++i)
    r.push_back({Ip("10.0." + std::to_string(i) + ".1"),
                 Ip("fd00:" + std::to_string(i) + "::1"),
                 {},
                 std::nullopt,
                 false});
  return r;
}

struct Harness {
  FakeClock clock;
  FakeNetwork net{clock};
  std::unique_ptr<ConnectLikeTransport> connect;  // the engine's transport, if not `net` itself
  std::unique_ptr<Engine> engine;
  std::map<std::uint64_t, TraceResult> results;
  std::map<std::uint64_t, std::optional<TraceResult>> pings;
  std::map<std::uint64_t, SimPath> truth;

  /// How the engine reaches the simulated network.
  enum class Transport { kRaw, kConnect, kConnectWithoutEcho };
  explicit Harness(double rate = 100000, TraceSettings settings = {}, std::uint64_t seed = 42,
                   Transport transport = Transport::kRaw)
      : settings(settings) {
    net.routers = SixRouters();
    EngineOptions o;
    o.rate = rate;
    o.seed = seed;
    if (transport == Transport::kRaw) {
      engine = std::make_unique<Engine>(o, net, net, clock);
    } else {
      connect = std::make_unique<ConnectLikeTransport>(net, transport == Transport::kConnect);
      engine = std::make_unique<Engine>(o, *connect, clock);
    }
  }
  TraceSettings settings;

  /// Adds a path to `dest` over routers r1..r6 (unless given) and starts a trace of it.
  void Add(const std::string& dest, std::uint16_t port, SimPath path) {
    IpAddress d = Ip(dest);
    if (path.routers.empty())
      for (int i = 0; i < 6; ++i) path.routers.push_back(i);
    net.paths[d] = path;
    TraceJob job;
    job.target = dest + ":" + std::to_string(port);
    job.host = dest;
    job.destination = d;
    job.source = d.is_v6() ? Ip("fd00::100") : Ip("10.0.0.100");
    job.port = port;
    job.settings = settings;
    job.tag = next_tag++;
    truth[job.tag] = path;
    ASSERT_TRUE(engine->Start(job));
  }
  /// Runs until idle, in virtual time; returns the virtual time it took.
  Duration Run(Duration limit = 120s) {
    TimePoint start = clock.now;
    while (engine->active() > 0 && clock.now - start < limit) engine->RunOnce(1s);
    EXPECT_EQ(engine->active(), 0u) << "traces still running after the limit";
    for (FinishedTrace& f : engine->TakeFinished()) {
      results[f.tag] = std::move(f.result);
      pings[f.tag] = std::move(f.ping);
    }
    return clock.now - start;
  }
  std::uint64_t next_tag = 0;
  std::uint64_t Dropped(DropReason r) const {
    return engine->stats().dropped[static_cast<std::size_t>(r)];
  }
  std::uint64_t Replies(packet::ReplyType t) const {
    return engine->stats().replies_by_type[static_cast<std::size_t>(t)];
  }
  const Router& RouterAt(std::uint64_t tag, int hop) {
    return net.routers.at(
        static_cast<std::size_t>(truth.at(tag).routers.at(static_cast<std::size_t>(hop - 1))));
  }
};

std::string V4Target(int i) { return "192.0.2." + std::to_string(32 + i); }
std::string V6Target(int i) { return "2001:db8:ff::" + std::to_string(100 + i); }

/// How a result compares with the simulated ground truth.
enum class Judged { kRight, kUnconfirmed, kWrong };

/// Right: the outcome the path produces, with the true blocked hop. Unconfirmed (only
/// acceptable where the port is stopped on the way): "filtered, blocked hop not
/// confirmed", naming no hop. Anything else, above all a wrong blocked hop, is wrong.
Judged Judge(Harness& h, std::uint64_t tag, std::string* why) {
  const SimPath& p = h.truth.at(tag);
  const TraceResult& r = h.results.at(tag);
  int dist = static_cast<int>(p.routers.size()) + 1;
  std::ostringstream s;
  s << r.target << ": " << ToString(r.outcome) << " blocked "
    << (r.blocked_hop ? r.blocked_hop->ttl : 0) << " confirmed " << r.blocked_hop_confirmed
    << " unconfirmed ttl " << r.unconfirmed_hop_ttl.value_or(0) << " (truth: k " << p.k << ")";
  *why = s.str();
  auto blocked_at = [&](int k) {
    const Router& router = h.RouterAt(tag, k);
    return r.blocked_hop && r.blocked_hop->ttl == k &&
           r.blocked_hop->address == (r.address->is_v6() ? router.v6 : router.v4);
  };
  switch (p.end) {
    case End::kOpen:
    case End::kClosed:
      return r.outcome == (p.end == End::kOpen ? Outcome::kOpen : Outcome::kClosed) &&
                     r.last_responding_hop && r.last_responding_hop->ttl == dist && !r.blocked_hop
                 ? Judged::kRight
                 : Judged::kWrong;
    case End::kFilteredAfter:
    case End::kProhibitedAt:
      if (r.outcome == Outcome::kFiltered && !r.blocked_hop_confirmed) {
        return !r.blocked_hop && r.unconfirmed_hop_ttl ? Judged::kUnconfirmed : Judged::kWrong;
      }
      return r.outcome == (p.end == End::kFilteredAfter ? Outcome::kFiltered
                                                        : Outcome::kProhibited) &&
                     r.blocked_hop_confirmed && blocked_at(p.k)
                 ? Judged::kRight
                 : Judged::kWrong;
  }
  return Judged::kWrong;
}

TEST(EngineTest, OneTraceOfEachKindGivesTheRightVerdict) {
  Harness h;
  h.Add("192.0.2.10", 80, {{}, End::kOpen});
  h.Add("2001:db8:ff::10", 81, {{}, End::kClosed});
  h.Add("192.0.2.11", 9443, {{}, End::kFilteredAfter, 5});
  h.Add("2001:db8:ff::11", 135, {{}, End::kProhibitedAt, 5});
  h.Run();
  ASSERT_EQ(h.results.size(), 4u);

  const TraceResult& open = h.results[0];
  EXPECT_EQ(open.outcome, Outcome::kOpen);
  EXPECT_EQ(open.last_responding_hop->ttl, 7);
  EXPECT_EQ(open.hops.size(), 7u);
  EXPECT_EQ(open.hops[2].address, Ip("10.0.3.1"));
  // The trace's own echo probes pinged the destination (FinishedTrace::ping).
  ASSERT_TRUE(h.pings[0]);
  EXPECT_EQ(h.pings[0]->outcome, Outcome::kOpen);
  EXPECT_TRUE(h.pings[0]->destination_reached);
  EXPECT_EQ(h.pings[0]->last_responding_hop->ttl, 7);

  const TraceResult& closed = h.results[1];
  EXPECT_EQ(closed.outcome, Outcome::kClosed);
  EXPECT_EQ(closed.last_responding_hop->address, Ip("2001:db8:ff::10"));

  const TraceResult& filtered = h.results[2];
  EXPECT_EQ(filtered.outcome, Outcome::kFiltered);
  ASSERT_TRUE(filtered.blocked_hop);
  EXPECT_TRUE(filtered.blocked_hop_confirmed);
  EXPECT_EQ(filtered.blocked_hop->ttl, 5);
  EXPECT_EQ(filtered.blocked_hop->address, Ip("10.0.5.1"));
  EXPECT_NE(Verdict(filtered).find("network administrator"), std::string::npos);
  ASSERT_TRUE(h.pings[2]);
  EXPECT_EQ(h.pings[2]->outcome, Outcome::kOpen);  // the host is up; only the port is stopped

  const TraceResult& prohibited = h.results[3];
  EXPECT_EQ(prohibited.outcome, Outcome::kProhibited);
  EXPECT_EQ(prohibited.marker, "!X");
  ASSERT_TRUE(prohibited.blocked_hop);
  EXPECT_EQ(prohibited.blocked_hop->ttl, 5);
  EXPECT_EQ(prohibited.blocked_hop->address, Ip("fd00:5::1"));

  const EngineStats& s = h.engine->stats();
  EXPECT_EQ(s.traces_started, 4u);
  EXPECT_EQ(s.traces_finished, 4u);
  EXPECT_EQ(s.probes_sent, h.net.sent.size());
  EXPECT_GT(h.Replies(packet::ReplyType::kSynAck), 0u);
  EXPECT_GT(h.Replies(packet::ReplyType::kUnreachable), 0u);
  EXPECT_GT(h.Replies(packet::ReplyType::kEchoReply), 0u);
  // Every answer found its probe, echo replies and quotes of echoes too (answers
  // that arrive after their trace finished name no trace any more, and are fine).
  for (DropReason r : {DropReason::kFlowMismatch, DropReason::kUnknownProbe,
                       DropReason::kQuoteNotTcp, DropReason::kDuplicate})
    EXPECT_EQ(h.Dropped(r), 0u) << ToString(r);
}

TEST(EngineTest, ProbesKeepOneFlowPerTrace) {
  // Paris traceroute: every TTL of a trace uses the same ports, IP ID / flow label;
  // its echo probes one identifier and one ICMP checksum, and the same IP ID / flow
  // label as its SYNs.
  Harness h;
  h.Add("192.0.2.10", 80, {{}, End::kFilteredAfter, 4});
  h.Add("2001:db8:ff::10", 80, {{}, End::kFilteredAfter, 4});
  h.Run();
  std::map<IpAddress, std::set<std::vector<std::uint8_t>>> syn_flows, echo_flows, ip_flows;
  for (const WireProbe& p : h.net.sent) {
    std::vector<std::uint8_t> ip =
        p.v6 ? std::vector<std::uint8_t>(p.bytes.begin() + 1, p.bytes.begin() + 4)
             : std::vector<std::uint8_t>(p.bytes.begin() + 4, p.bytes.begin() + 6);
    ip_flows[p.destination].insert(ip);
    std::vector<std::uint8_t> key = {static_cast<std::uint8_t>(p.source_port >> 8),
                                     static_cast<std::uint8_t>(p.source_port)};
    if (p.kind == ProbeKind::kIcmpEcho) {
      key.push_back(static_cast<std::uint8_t>(p.icmp_checksum >> 8));
      key.push_back(static_cast<std::uint8_t>(p.icmp_checksum));
      echo_flows[p.destination].insert(key);
    } else {
      syn_flows[p.destination].insert(key);
    }
  }
  ASSERT_EQ(echo_flows.size(), 2u);
  for (auto* flows : {&syn_flows, &echo_flows, &ip_flows})
    for (auto& [dest, keys] : *flows) EXPECT_EQ(keys.size(), 1u) << dest.ToString();
}

TEST(EngineTest, ControlGroupsLeaveBackToBack) {
  // At a low global rate, with other traces competing for it, a control group
  // (SYN at t, SYN at the last hop, echo at t) still leaves as one burst: the
  // routers' ICMP budgets must see all three at the same moment.
  Harness h(100);
  for (int i = 0; i < 8; ++i) h.Add(V4Target(i), 9443, {{}, End::kFilteredAfter, 3});
  h.Run(300s);
  int groups = 0;
  for (std::size_t i = 0; i < h.net.sent.size(); ++i) {
    const WireProbe& echo = h.net.sent[i];
    if (echo.kind != ProbeKind::kIcmpEcho || echo.ttl == TraceSettings{}.max_hops) continue;
    ++groups;
    ASSERT_GE(i, 2u);
    const WireProbe& last = h.net.sent[i - 1];
    const WireProbe& syn = h.net.sent[i - 2];
    EXPECT_EQ(last.destination, echo.destination);
    EXPECT_EQ(syn.destination, echo.destination);
    EXPECT_EQ(last.kind, ProbeKind::kTcpSyn);
    EXPECT_EQ(syn.kind, ProbeKind::kTcpSyn);
    EXPECT_EQ(last.ttl, 3);
    EXPECT_EQ(syn.ttl, echo.ttl);
    EXPECT_EQ(last.sent, echo.sent);
    EXPECT_EQ(syn.sent, echo.sent);
  }
  EXPECT_GE(groups, 8 * 2);
  for (auto& [tag, r] : h.results) {
    ASSERT_TRUE(r.blocked_hop) << r.target;
    EXPECT_EQ(r.blocked_hop->ttl, 3) << r.target;
  }
}

TEST(EngineTest, ManyTracesAtOnceFinishInAboutOneTimeout) {
  Harness h(20000);
  for (int i = 0; i < 16; ++i) {
    h.Add(V4Target(i), 80, {{}, i % 2 ? End::kClosed : End::kOpen});
    h.Add(V6Target(i), 80, {{}, End::kOpen});
  }
  for (int i = 0; i < 200; ++i) h.Add("198.18.0." + std::to_string(i + 1), 80, {{}, End::kOpen});
  Duration took = h.Run();
  ASSERT_EQ(h.results.size(), 232u);
  for (auto& [tag, r] : h.results) {
    EXPECT_TRUE(r.outcome == Outcome::kOpen || r.outcome == Outcome::kClosed) << r.target;
    EXPECT_EQ(r.last_responding_hop->ttl, 7) << r.target;
  }
  // 232 traces, each a few round trips of work, concurrently: well under one
  // 1 s timeout in all, where one after the other they would take seconds.
  EXPECT_LT(took, 1s);
}

TEST(EngineTest, ManyFilteredTracesTakeAsLongAsOne) {
  Harness one;
  one.Add("192.0.2.10", 9443, {{}, End::kFilteredAfter, 4});
  Duration single = one.Run();

  Harness many(20000);
  for (int i = 0; i < 100; ++i)
    many.Add("198.18.0." + std::to_string(i + 1), 9443, {{}, End::kFilteredAfter, 4});
  Duration all = many.Run();
  for (auto& [tag, r] : many.results) {
    ASSERT_TRUE(r.blocked_hop) << r.target;
    EXPECT_EQ(r.blocked_hop->ttl, 4) << r.target;
    EXPECT_TRUE(r.blocked_hop_confirmed) << r.target;
  }
  // The wave and one confirmation round, each given up on a few round trips
  // after its answers (the destination's echo takes 14 ms; a control SYN is
  // silent one echo round trip after its echo came back): about 0.1 s, where a
  // timeout per step took more than 2 s.
  EXPECT_GE(single, 50ms);
  EXPECT_LT(single, 300ms);
  // 100 at once: the send rate (20000/s) sets the pace, not 100 times the work.
  EXPECT_LT(all, single + 500ms);
  EXPECT_LT(all, TraceSettings{}.timeout);
}

/// The most probes sent within any one second.
std::size_t BusiestSecond(const std::vector<TimePoint>& times) {
  std::size_t worst = 0;
  for (std::size_t i = 0, j = 0; i < times.size(); ++i) {
    while (j < times.size() && times[j] < times[i] + 1s) ++j;
    worst = std::max(worst, j - i);
  }
  return worst;
}

TEST(EngineTest, GlobalRateLimitIsRespected) {
  constexpr double kRate = 200;
  Harness h(kRate);
  for (int i = 0; i < 40; ++i) h.Add(V4Target(i), 8443, {{}, End::kFilteredAfter, 2});
  h.Run(300s);
  std::vector<TimePoint> times;
  for (const WireProbe& p : h.net.sent) times.push_back(p.sent);
  ASSERT_GT(times.size(), 1000u);
  // Any one-second window holds at most a second's worth plus the 10 ms burst,
  // plus the two followers of one control group, which take their tokens on credit
  // (the debt delays what comes after).
  EXPECT_LE(BusiestSecond(times), static_cast<std::size_t>(kRate + kRate / 100 + 2));
  // ...and the limit is used, not undershot: the first second is nearly full.
  std::size_t first_second = static_cast<std::size_t>(
      std::count_if(times.begin(), times.end(), [&](TimePoint t) { return t < times[0] + 1s; }));
  EXPECT_GE(first_second, static_cast<std::size_t>(0.95 * kRate));
}

TEST(EngineTest, ProbesOfConcurrentTracesAreInterleavedFairly) {
  Harness h(1000);
  for (int i = 0; i < 10; ++i) h.Add(V4Target(i), 80, {{}, End::kOpen});
  h.Run();
  ASSERT_GE(h.net.sent.size(), 30u);
  std::set<IpAddress> first10;
  std::map<IpAddress, int> count30;
  for (std::size_t i = 0; i < 30; ++i) {
    if (i < 10) first10.insert(h.net.sent[i].destination);
    ++count30[h.net.sent[i].destination];
  }
  EXPECT_EQ(first10.size(), 10u);
  for (auto& [dest, n] : count30) EXPECT_EQ(n, 3) << dest.ToString();
  // Each trace asks the destination first: a SYN, then an echo, at max_hops; then
  // the first stretch of TTLs (1..gap_limit), each trace from a TTL of its own, so
  // that the ten do not all ask the same router at the same moment.
  std::set<int> first_ttls;
  for (std::size_t i = 0; i < 30; ++i) {
    const WireProbe& p = h.net.sent[i];
    if (i < 10) {
      EXPECT_EQ(p.kind, ProbeKind::kTcpSyn);
      EXPECT_EQ(p.ttl, TraceSettings{}.max_hops);
    } else if (i < 20) {
      EXPECT_EQ(p.kind, ProbeKind::kIcmpEcho);
      EXPECT_EQ(p.ttl, TraceSettings{}.max_hops);
    } else {
      EXPECT_EQ(p.kind, ProbeKind::kTcpSyn);
      EXPECT_GE(p.ttl, 1);
      EXPECT_LE(p.ttl, TraceSettings{}.gap_limit);
      first_ttls.insert(p.ttl);
    }
  }
  EXPECT_GE(first_ttls.size(), 3u);
}

TEST(EngineTest, GarbageIsCountedByReasonAndIgnored) {
  Harness h;
  h.Add("192.0.2.10", 80, {{}, End::kOpen, 0, /*duplicate_tcp=*/true});
  TimePoint t = h.clock.now + 1ms;
  h.net.Inject({0x45, 0x00, 0x00}, t);  // a runt
  std::vector<std::uint8_t> echo = testing::LoadPacket("v4_time_exceeded.hex");
  echo[20] = 8;  // ICMP echo request
  h.net.Inject(echo, t);
  std::vector<std::uint8_t> udp_quote = testing::LoadPacket("v4_time_exceeded.hex");
  udp_quote[28 + 9] = 17;
  testing::FixIcmpChecksum(udp_quote);
  h.net.Inject(udp_quote, t);
  std::vector<std::uint8_t> forged = testing::LoadPacket("v4_time_exceeded.hex");
  forged[30] ^= 0x01;  // one bit of the quote: the ICMP checksum no longer verifies
  h.net.Inject(forged, t);
  // A real SYN-ACK from the lab capture: a trace of another engine (another key).
  h.net.Inject(testing::LoadPacket("v4_syn_ack.hex"), t);
  h.Run();
  ASSERT_EQ(h.results.size(), 1u);
  EXPECT_EQ(h.results[0].outcome, Outcome::kOpen);
  EXPECT_EQ(h.results[0].last_responding_hop->ttl, 7);
  EXPECT_EQ(h.Dropped(DropReason::kTruncated), 1u);
  EXPECT_EQ(h.Dropped(DropReason::kUnrelatedIcmp), 1u);
  EXPECT_EQ(h.Dropped(DropReason::kQuoteNotTcp), 1u);
  EXPECT_EQ(h.Dropped(DropReason::kBadChecksum), 1u);
  EXPECT_EQ(h.Dropped(DropReason::kNoSuchTrace), 1u);
  // Every SYN-ACK came twice; the second of each pair is a duplicate.
  std::uint64_t syn_acks = h.Replies(packet::ReplyType::kSynAck);
  EXPECT_GT(syn_acks, 0u);
  EXPECT_EQ(h.Dropped(DropReason::kDuplicate), syn_acks);
}

TEST(EngineTest, LateRepliesAfterATraceFinishedAreDroppedNotCredited) {
  Harness h;
  h.Add("192.0.2.10", 80, {{}, End::kOpen});
  h.Run();
  ASSERT_EQ(h.results.size(), 1u);
  // The trace concluded with answers of its own still on the way: let them land.
  for (TimePoint until = h.clock.now + 1s; h.clock.now < until;) h.engine->RunOnce(1s);
  std::uint64_t before = h.Dropped(DropReason::kNoSuchTrace);
  // Replay every probe's answer (SYN-ACK or echo reply) after the trace is gone.
  std::vector<WireProbe> old = h.net.sent;
  ASSERT_TRUE(std::any_of(old.begin(), old.end(),
                          [](const WireProbe& p) { return p.kind == ProbeKind::kIcmpEcho; }));
  for (const WireProbe& p : old)
    h.net.Inject(p.kind == ProbeKind::kTcpSyn ? TcpAnswer(p, true) : EchoAnswer(p), h.clock.now);
  h.Add("192.0.2.11", 80, {{}, End::kOpen});  // a new trace in the next slot
  h.Run();
  EXPECT_EQ(h.results[1].outcome, Outcome::kOpen);
  EXPECT_EQ(h.Dropped(DropReason::kNoSuchTrace) - before, old.size());
  EXPECT_EQ(h.Dropped(DropReason::kDuplicate), 0u);
}

/// Mixed cases over the six shared routers: open, closed, filtered after k and
/// prohibited at k for k = 2..5, each over IPv4 and IPv6.
void AddMixed(Harness& h, int n) {
  for (int i = 0; i < n; ++i) {
    std::string dest = (i / 4) % 2 ? V6Target(i) : V4Target(i);
    int k = 2 + (i / 8) % 4;
    switch (i % 4) {
      case 0:
        h.Add(dest, 80, {{}, End::kOpen});
        break;
      case 1:
        h.Add(dest, 81, {{}, End::kClosed});
        break;
      case 2:
        h.Add(dest, 9443, {{}, End::kFilteredAfter, k});
        break;
      case 3:
        h.Add(dest, 135, {{}, End::kProhibitedAt, k});
        break;
    }
  }
}

TEST(EngineTest, PerDestinationPolicingNeverBlamesTheWrongHop) {
  // Routers police ICMP like Linux per destination (a burst of 6, then one a
  // second), and every probe's error goes to us: the first wave alone asks each
  // router for far more than it gives. A result may be unsure, never wrong.
  Harness h(1000);
  for (Router& r : h.net.routers) r.PolicePerDestination();
  AddMixed(h, 48);
  h.Run(600s);
  ASSERT_EQ(h.results.size(), 48u);
  int right = 0, unconfirmed = 0, right_blocked = 0;
  for (auto& [tag, r] : h.results) {
    std::string why;
    switch (Judge(h, tag, &why)) {
      case Judged::kRight:
        ++right;
        right_blocked += r.blocked_hop.has_value();
        break;
      case Judged::kUnconfirmed:
        ++unconfirmed;
        break;
      case Judged::kWrong:
        ADD_FAILURE() << why;
        break;
    }
  }
  EXPECT_EQ(right + unconfirmed, 48);
  // Open and closed ports are never in doubt (the destination is not policed), and
  // the scenario is not so starved that nothing blocked is ever confirmed.
  EXPECT_GE(right, 24);
  EXPECT_GT(right_blocked, 0);
}

TEST(EngineTest, AnswersLostInAFullCaptureBufferNeverMoveTheBlame) {
  // The port is dropped after router 6, which answers every probe; but its
  // answers to SYNs are lost unread during the first 600 ms (the capture
  // buffer overflowed), while those to echo controls get through. Those
  // silences must not confirm a block at hop 5; later groups confirm hop 6.
  Harness h;
  TimePoint start = h.clock.now;
  h.net.lose = [&](const WireProbe& p) {
    return p.kind == ProbeKind::kTcpSyn && p.ttl == 6 && p.sent - start < 600ms;
  };
  h.Add(V4Target(1), 443, SimPath{{}, End::kFilteredAfter, 6});
  h.Run();
  const TraceResult& r = h.results.at(0);
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop) << r.duration.count() << " ms, rounds " << r.retry_rounds
                             << ", unconfirmed ttl " << r.unconfirmed_hop_ttl.value_or(0);
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_GT(h.Dropped(DropReason::kCaptureOverflow), 0u);
}

TEST(EngineTest, SharedFamilyBudgetNeverBlamesTheWrongHop) {
  // One small bucket per router for IPv4 and IPv6 together (a shared control-plane
  // policer, or Linux's global budget): the IPv4 traces can take every token of a
  // router, so IPv6 probes pass it in silence again and again. That silence is a
  // starved router's, not a silent one's: its IPv4 answers make its TTL a known
  // answerer in both families (HopBook), so neither the IPv6 silent passes nor a
  // trace's silent rounds let a v6 port filtered after hop 2 be "confirmed"
  // blocked after hop 1. (Before that, most seeds blamed hop 1 there.)
  for (std::uint64_t seed : {1, 2, 3, 4, 5, 6, 7, 42}) {
    Harness h(1000, {}, seed);
    for (Router& r : h.net.routers) r.policer = Policer{6, 1};
    AddMixed(h, 24);
    h.Run(600s);
    ASSERT_EQ(h.results.size(), 24u);
    int right = 0;
    for (auto& [tag, r] : h.results) {
      std::string why;
      Judged j = Judge(h, tag, &why);
      EXPECT_NE(j, Judged::kWrong) << "seed " << seed << ": " << why;
      right += j == Judged::kRight;
    }
    // Unsure at times, but not so starved that nothing is ever concluded.
    EXPECT_GE(right, 12) << "seed " << seed;
  }
}

// FAILS since ca6db19 (kept failing on purpose: a wrong blocked hop). The same
// shared budget with 48 traces: in seeds 8 (of 1..20) and 22, 30, 34, 49 (of
// 1..60) a port filtered after hop 2, IPv4 or IPv6, is "confirmed" blocked after
// hop 1. Router 2's one small budget goes to the !X it sends for the traces
// prohibited at hop 2 (their probes at TTL 3 and beyond); with the discovery order
// rotated per trace those often come before anyone's TTL-2 probe, so router 2
// never answers a time-exceeded at all, in either family. Traces that reach their
// destination then record silent passes at TTL 2, the HopBook calls it a router
// that never answers (KnownSilent), the filtered trace skips TTL 2 and confirms
// the silence at TTL 3, after hop 1. Without the rotation (rotation_ = 0), and
// before ca6db19, 0 of 60 seeds go wrong. The HopBook takes only time-exceeded
// as a sign of life; router 2's unreachables (their sender's distance is known
// from the quoted TTL) show it answers, and is starved, not silent.
TEST(EngineTest, SharedFamilyBudgetWithMoreTracesNeverBlamesTheWrongHop) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Harness h(1000, {}, seed);
    for (Router& r : h.net.routers) r.policer = Policer{6, 1};
    AddMixed(h, 48);
    h.Run(600s);
    ASSERT_EQ(h.results.size(), 48u);
    for (auto& [tag, r] : h.results) {
      std::string why;
      EXPECT_NE(Judge(h, tag, &why), Judged::kWrong) << "seed " << seed << ": " << why;
    }
  }
}

TEST(EngineTest, GlobalBudgetLikePolicingGivesRightAnswersEverywhere) {
  // Linux's global ICMP budget (a burst of 50, 1000/s, one bucket for IPv4 and
  // IPv6) with per-destination limits lifted (the lab's LAB_RATELIMIT=global):
  // enough for every trace to conclude.
  Harness h(1000);
  for (Router& r : h.net.routers) r.policer = Policer{50, 1000};
  AddMixed(h, 48);
  h.Run(600s);
  ASSERT_EQ(h.results.size(), 48u);
  for (auto& [tag, r] : h.results) {
    std::string why;
    EXPECT_EQ(Judge(h, tag, &why), Judged::kRight) << why;
  }
}

TEST(EngineTest, RateLimitedRoutersDoNotHideAnOpenPort) {
  TraceSettings s;
  Harness h(1000, s);
  for (Router& r : h.net.routers) r.PolicePerDestination();
  for (int i = 0; i < 10; ++i) h.Add(V6Target(i), 80, {{}, End::kOpen});
  h.Run();
  for (auto& [tag, r] : h.results) {
    EXPECT_EQ(r.outcome, Outcome::kOpen) << r.target;
    EXPECT_EQ(r.last_responding_hop->ttl, 7) << r.target;
  }
}

TEST(EngineTest, TheHopBookLetsLaterTracesSkipRoutersKnownToBeSilent) {
  // r3 and r4 never send time-exceeded (as in the lab). Three traces to open ports
  // pass them silently; a trace filtered after hop 2 then needs no control at
  // TTLs 3 and 4: its silence is confirmed at TTL 5, whose router answers.
  Harness h(1000);
  h.net.routers[2].silent = true;
  h.net.routers[3].silent = true;
  for (int i = 0; i < HopBook::kSilentPasses; ++i) h.Add(V4Target(i), 80, {{}, End::kOpen});
  h.Run();
  std::size_t before = h.net.sent.size();
  h.Add("192.0.2.10", 9443, {{}, End::kFilteredAfter, 2});
  h.Run();
  const TraceResult& r = h.results.at(HopBook::kSilentPasses);
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 2);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.retry_rounds, 1);
  for (std::size_t i = before; i < h.net.sent.size(); ++i) {
    const WireProbe& p = h.net.sent[i];
    EXPECT_FALSE(p.kind == ProbeKind::kIcmpEcho && (p.ttl == 3 || p.ttl == 4)) << p.ttl;
  }
}

TEST(EngineTest, LocalSendErrorIsReportedNotAMadeUpPath) {
  Harness h;
  h.net.send_errors[Ip("192.0.2.10")] = EHOSTUNREACH;
  h.Add("192.0.2.10", 80, {{}, End::kOpen});
  h.Add("192.0.2.11", 80, {{}, End::kOpen});
  h.Run();
  EXPECT_EQ(h.results[0].outcome, Outcome::kError);
  EXPECT_NE(h.results[0].error.find("cannot send probes"), std::string::npos);
  EXPECT_TRUE(h.results[0].hops.empty());
  EXPECT_FALSE(h.pings[0]);
  EXPECT_EQ(h.results[1].outcome, Outcome::kOpen);
  EXPECT_EQ(h.engine->stats().send_errors, 1u);
}

TEST(EngineTest, FullSendBufferIsRetriedLater) {
  Harness h;
  h.net.send_errors[Ip("192.0.2.10")] = ENOBUFS;
  h.net.send_error_count = 3;
  h.Add("192.0.2.10", 80, {{}, End::kOpen});
  h.Run();
  EXPECT_EQ(h.results[0].outcome, Outcome::kOpen);
  EXPECT_EQ(h.results[0].hops[0].probes.size(), 3u);  // no probe lost to the error
  EXPECT_EQ(h.engine->stats().send_errors, 3u);
}

TEST(EngineTest, ProbeLoopWorkGrowsLinearlyWithProbesNotCubically) {
  // A long silent trace sends its probes one after the other (1000/s), so their
  // timeouts fall due one by one. Every due timer must not multiply the timers and
  // trace updates that follow: with thousands of probes, work quadratic in the
  // timers (and linear per update) costs seconds of CPU where it should cost
  // milliseconds. Nothing answers, not even ping, and the window spans all 150 TTLs.
  TraceSettings s;
  s.max_hops = 150;
  s.probes_per_hop = 10;
  s.gap_limit = 150;
  Harness h(1000, s);
  SimPath silent{{}, End::kFilteredAfter, 0};
  silent.drop_echo = true;
  h.Add("192.0.2.10", 9443, silent);
  std::clock_t cpu = std::clock();
  h.Run(600s);
  double seconds = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
  EXPECT_GE(h.net.sent.size(), 1500u);
  EXPECT_LT(seconds, 2.0) << "CPU seconds for one trace of " << h.net.sent.size() << " probes";
  EXPECT_EQ(h.results[0].outcome, Outcome::kFiltered);
  EXPECT_FALSE(h.results[0].blocked_hop);
}

/// One trace of each case, IPv4 and IPv6, for the transport comparisons.
void AddEachCase(Harness& h) {
  int i = 0;
  for (bool v6 : {false, true}) {
    auto dest = [&] { return v6 ? V6Target(i++) : V4Target(i++); };
    h.Add(dest(), 80, {{}, End::kOpen});
    h.Add(dest(), 81, {{}, End::kClosed});
    h.Add(dest(), 8443, {{}, End::kFilteredAfter, 2});
    h.Add(dest(), 9443, {{}, End::kFilteredAfter, 5});
    h.Add(dest(), 135, {{}, End::kProhibitedAt, 2});
    h.Add(dest(), 135, {{}, End::kProhibitedAt, 5});
  }
}

std::string Summary(const TraceResult& r) {
  std::ostringstream s;
  s << ToString(r.outcome) << " reached " << r.destination_reached << " last "
    << (r.last_responding_hop ? r.last_responding_hop->ttl : 0) << " "
    << (r.last_responding_hop && r.last_responding_hop->address
            ? r.last_responding_hop->address->ToString()
            : "-")
    << " blocked " << (r.blocked_hop ? r.blocked_hop->ttl : 0) << " "
    << (r.blocked_hop && r.blocked_hop->address ? r.blocked_hop->address->ToString() : "-")
    << " confirmed " << r.blocked_hop_confirmed << " marker " << r.marker;
  return s.str();
}

TEST(EngineTest, ConnectTransportGivesTheSameVerdictsAsRaw) {
  // The same engine and trace state machine over the probe-level seam, fed
  // what connect() sockets and their error queues can see (no quoted TTL, no
  // TTL of a SYN-ACK or RST): every case ends as it does over raw packets.
  Harness raw(1000);
  Harness connect(1000, {}, 42, Harness::Transport::kConnect);
  AddEachCase(raw);
  AddEachCase(connect);
  raw.Run();
  connect.Run();
  ASSERT_EQ(connect.results.size(), raw.results.size());
  for (auto& [tag, r] : connect.results) {
    std::string why;
    EXPECT_EQ(Judge(connect, tag, &why), Judged::kRight) << why;
    EXPECT_EQ(Summary(r), Summary(raw.results.at(tag))) << r.target;
    EXPECT_EQ(r.probe_mode, ProbeMode::kConnect);
    EXPECT_EQ(raw.results.at(tag).probe_mode, ProbeMode::kRaw);
    if (r.outcome == Outcome::kOpen || r.outcome == Outcome::kClosed) {
      EXPECT_FALSE(r.reply_ttl) << r.target << ": a reply TTL the transport never saw";
    }
    ASSERT_TRUE(connect.pings.at(tag)) << r.target;
    EXPECT_EQ(connect.pings.at(tag)->probe_mode, ProbeMode::kConnect);
  }
  EXPECT_EQ(connect.engine->stats().probe_mode, ProbeMode::kConnect);
  EXPECT_EQ(raw.engine->stats().probe_mode, ProbeMode::kRaw);
  // Every trace handed its slot back to the transport (sockets closed).
  EXPECT_TRUE(connect.connect->open.empty());
  EXPECT_EQ(connect.connect->ended, static_cast<int>(connect.results.size()));
}

TEST(EngineTest, ConnectTransportWithoutPingSocketsIsUnsureNeverWrong) {
  // No ping sockets (net.ipv4.ping_group_range excludes us): the engine sends
  // no echo at all, so no control can tell a filter from a policer. Under
  // per-destination policing every verdict is right or unconfirmed, never a
  // wrong hop; open, closed and prohibited ports need no control and are right.
  Harness h(1000, {}, 7, Harness::Transport::kConnectWithoutEcho);
  for (Router& r : h.net.routers) r.PolicePerDestination();
  AddMixed(h, 24);
  h.Run(600s);
  ASSERT_EQ(h.results.size(), 24u);
  for (const WireProbe& p : h.net.sent) EXPECT_EQ(p.kind, ProbeKind::kTcpSyn);
  int right = 0;
  for (auto& [tag, r] : h.results) {
    std::string why;
    Judged j = Judge(h, tag, &why);
    EXPECT_NE(j, Judged::kWrong) << why;
    right += j == Judged::kRight;
    if (h.truth.at(tag).end == End::kOpen || h.truth.at(tag).end == End::kClosed) {
      EXPECT_EQ(j, Judged::kRight) << why;
    }
    EXPECT_FALSE(h.pings.at(tag)) << r.target;
    EXPECT_FALSE(r.icmp_reachable) << r.target;
  }
  EXPECT_GE(right, 12);
  EXPECT_TRUE(h.connect->open.empty());
}
TEST(EngineTest, CancelEndsTheChosenTracesAtOnceWithoutAResult) {
  Harness h(1000);
  for (int i = 0; i < 10; ++i) h.Add(V4Target(i), 8443, {{}, End::kFilteredAfter, 2});
  for (int i = 0; i < 5; ++i) h.engine->RunOnce(10ms), h.clock.now += 10ms;
  ASSERT_EQ(h.engine->active(), 10u);
  // A reload removed the first five targets.
  std::set<std::string> removed;
  for (int i = 0; i < 5; ++i) removed.insert(V4Target(i) + ":8443");
  EXPECT_EQ(h.engine->Cancel([&](const TraceJob& j) { return removed.count(j.target) > 0; }), 5u);
  EXPECT_EQ(h.engine->active(), 5u);
  EXPECT_EQ(h.engine->stats().traces_cancelled, 5u);
  std::size_t sent_before = h.net.sent.size();
  h.Run(300s);
  // Nothing more went to them, late replies found no trace, and only the
  // others have results.
  for (std::size_t k = sent_before; k < h.net.sent.size(); ++k)
    EXPECT_EQ(removed.count(h.net.sent[k].destination.ToString() + ":8443"), 0u);
  EXPECT_EQ(h.results.size(), 5u);
  for (const auto& [tag, r] : h.results) EXPECT_EQ(removed.count(r.target), 0u) << r.target;
}

TEST(EngineTest, SetRateAppliesFromTheNextSend) {
  Harness h(1000);
  for (int i = 0; i < 40; ++i) h.Add(V4Target(i), 8443, {{}, End::kFilteredAfter, 2});
  h.engine->SetRate(100);
  EXPECT_EQ(h.engine->rate(), 100);
  h.Run(600s);
  std::vector<TimePoint> times;
  for (const WireProbe& p : h.net.sent) times.push_back(p.sent);
  ASSERT_GT(times.size(), 300u);
  EXPECT_LE(BusiestSecond(times), 100u + 1 + 2);  // a second, the burst, a control group
  h.engine->SetRate(0);                           // refused: not a rate
  EXPECT_EQ(h.engine->rate(), 100);
}

}  // namespace
}  // namespace portpath::probe
