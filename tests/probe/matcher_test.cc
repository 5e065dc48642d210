#include "probe/matcher.h"

#include <gtest/gtest.h>

#include <vector>

#include "probe/packet/bytes.h"
#include "probe/packet/echo_probe.h"
#include "probe/trace.h"
#include "tests/probe/fixtures.h"

namespace portpath::probe {
namespace {

using packet::DropReason;
using packet::IpAddress;
using packet::ProbeId;
using packet::ProbeIdCodec;
using packet::Reply;
using portpath::testing::LoadPacket;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

Reply Decode(const char* name) {
  std::vector<std::uint8_t> bytes = LoadPacket(name);
  packet::DecodeResult r = packet::DecodeReply(bytes);
  EXPECT_TRUE(std::holds_alternative<Reply>(r)) << name;
  return std::holds_alternative<Reply>(r) ? std::get<Reply>(r) : Reply{};
}

// The v4 lab trace as the engine saw it: the capture's first probe (TTL 1, attempt 0)
// had sequence 0x288a134f and the SYN-ACK answered 0x288a154f (TTL 7, attempt 0).
// Key 0x288a0000 with nonce 0x124f reproduces both for slot 0; the v6 trace likewise
// with key 0xc8270000 and nonce 0x7996.
constexpr std::uint32_t kKey4 = 0x288a0000, kKey6 = 0xc8270000;
constexpr std::uint16_t kNonce4 = 0x124f, kNonce6 = 0x7996;

Flow LabFlow4(std::uint16_t nonce = kNonce4) {
  return Flow{Ip("10.0.0.1"), Ip("192.0.2.10"), 12000, 80, nonce};
}
Flow LabFlow6(std::uint16_t nonce = kNonce6) {
  return Flow{Ip("fd00::1"), Ip("2001:db8:ff::10"), 12000, 80, nonce};
}

MatchResult Match(const Flow& flow, std::uint32_t key, const Reply& reply) {
  FlowTable table;
  table.Insert(0, flow);
  table.Insert(1, Flow{Ip("10.0.0.1"), Ip("192.0.2.11"), 12001, 80, 0x1111});  // another trace
  return MatchReply(table, ProbeIdCodec(key), reply);
}

std::optional<DropReason> DropOf(const MatchResult& m) {
  if (auto* reason = std::get_if<DropReason>(&m)) return *reason;
  return std::nullopt;
}

TEST(MatcherTest, CapturedRepliesMatchTheirProbes) {
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow4(), kKey4, Decode("v4_time_exceeded.hex"))),
            (ProbeId{0, 1, 0}));
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow4(), kKey4, Decode("v4_syn_ack.hex"))),
            (ProbeId{0, 7, 0}));
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow6(), kKey6, Decode("v6_time_exceeded.hex"))),
            (ProbeId{0, 1, 0}));
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow6(), kKey6, Decode("v6_syn_ack.hex"))),
            (ProbeId{0, 7, 0}));
}

TEST(MatcherTest, WrongSequenceNamingNoTraceIsNoSuchTrace) {
  Reply r = Decode("v4_time_exceeded.hex");
  r.probe.sequence ^= 0x00050000;  // slot 5: not outstanding
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, r)), DropReason::kNoSuchTrace);
  // The right packet, but the trace already finished and its slot was freed.
  FlowTable empty;
  EXPECT_EQ(DropOf(MatchReply(empty, ProbeIdCodec(kKey4), Decode("v4_time_exceeded.hex"))),
            DropReason::kNoSuchTrace);
  // Another engine key (a restarted daemon): the slot bits decode elsewhere.
  EXPECT_EQ(DropOf(Match(LabFlow4(), 0x12340000, Decode("v4_time_exceeded.hex"))),
            DropReason::kNoSuchTrace);
}

TEST(MatcherTest, LateReplyToThePreviousTraceInTheSlotIsAnUnknownProbe) {
  // Slot 0 now belongs to a new trace to the same target with a new nonce. The old
  // trace's TTL-1 answer decodes to a probe of the new trace that was never sent.
  Flow reused = LabFlow4(kNonce4 ^ 0x0400);  // turns "TTL 1" into "TTL 5"
  MatchResult m = Match(reused, kKey4, Decode("v4_time_exceeded.hex"));
  ASSERT_TRUE(std::holds_alternative<ProbeId>(m));
  ProbeId id = std::get<ProbeId>(m);
  EXPECT_EQ(id, (ProbeId{0, 5, 0}));

  // The new trace has sent only its first probe so far (the SYN at max_hops).
  Trace trace(TraceSettings{}, TimePoint{});
  auto first = trace.NextProbe();
  ASSERT_TRUE(first);
  trace.OnSent(*first, TimePoint{});
  EXPECT_EQ(trace.OnReply(id.ttl, id.attempt, Decode("v4_time_exceeded.hex"), reused.destination,
                          TimePoint{}),
            Trace::ReplyStatus::kUnknownProbe);

  // A nonce change that lands on TTL 0 is refused by the matcher itself.
  EXPECT_EQ(DropOf(Match(LabFlow4(kNonce4 ^ 0x0100), kKey4, Decode("v4_time_exceeded.hex"))),
            DropReason::kUnknownProbe);
}

TEST(MatcherTest, WrongDestinationPortIsAFlowMismatch) {
  Reply r = Decode("v4_time_exceeded.hex");
  r.probe.destination_port = 443;
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, r)), DropReason::kFlowMismatch);
  Reply s = Decode("v6_syn_ack.hex");
  s.probe.destination_port = 81;
  EXPECT_EQ(DropOf(Match(LabFlow6(), kKey6, s)), DropReason::kFlowMismatch);
}

TEST(MatcherTest, WrongSourcePortIsAFlowMismatch) {
  Reply r = Decode("v6_time_exceeded.hex");
  r.probe.source_port = 12001;
  EXPECT_EQ(DropOf(Match(LabFlow6(), kKey6, r)), DropReason::kFlowMismatch);
  // The RST of someone else's connection to the target that happens to carry a
  // plausible acknowledgement number.
  Reply rst = Decode("v4_rst.hex");
  rst.probe.sequence = 0x288a134f;
  rst.probe.destination_port = 80;
  rst.probe.source_port = 40000;
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, rst)), DropReason::kFlowMismatch);
}

TEST(MatcherTest, QuoteOfSomeoneElsesFlowIsAFlowMismatch) {
  // Same ports and sequence, but the quoted probe went to another destination.
  Reply r = Decode("v4_admin_prohibited.hex");  // quotes 192.0.2.10:135
  r.probe.sequence = 0x288a144f;                // TTL 6 of our trace
  r.probe.destination_port = 80;
  EXPECT_TRUE(std::holds_alternative<ProbeId>(Match(LabFlow4(), kKey4, r)));
  r.probe.destination = Ip("192.0.2.11");
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, r)), DropReason::kFlowMismatch);
  // The other family's address with the same bytes is another destination too.
  r.probe.destination = Ip("::c000:20a");
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, r)), DropReason::kFlowMismatch);
}

TEST(MatcherTest, QuotedSourceRewrittenByNatStillMatches) {
  // A NAT in front of us may leave its public address in the quote.
  Reply r = Decode("v4_time_exceeded.hex");
  r.probe.source = Ip("203.0.113.77");
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow4(), kKey4, r)), (ProbeId{0, 1, 0}));
}

TEST(MatcherTest, TcpAnswerFromAnotherAddressIsAFlowMismatch) {
  // A router's time-exceeded comes from the router: fine. A SYN-ACK must come from
  // the destination itself.
  Reply r = Decode("v4_syn_ack.hex");
  r.from = Ip("198.51.100.18");
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, r)), DropReason::kFlowMismatch);
  Reply rst = Decode("v6_rst.hex");
  rst.probe.sequence = 0xc8277e96;
  rst.probe.destination_port = 80;
  rst.from = Ip("2001:db8:ff::11");
  EXPECT_EQ(DropOf(Match(LabFlow6(), kKey6, rst)), DropReason::kFlowMismatch);
  // On the wire a SYN-ACK from elsewhere names that sender as the destination.
  std::vector<std::uint8_t> bytes = LoadPacket("v4_syn_ack.hex");
  bytes[15] = 11;  // source 192.0.2.11
  packet::DecodeResult d = packet::DecodeReply(bytes);
  ASSERT_TRUE(std::holds_alternative<Reply>(d));
  EXPECT_EQ(DropOf(Match(LabFlow4(), kKey4, std::get<Reply>(d))), DropReason::kFlowMismatch);
}

TEST(MatcherTest, TruncatedQuoteNeverReachesTheMatcherButEightBytesDo) {
  std::vector<std::uint8_t> bytes = LoadPacket("v4_time_exceeded.hex");
  bytes.resize(48 + 8);  // quoted IP header + the 8 bytes RFC 792 guarantees
  bytes[3] = 48 + 8;
  portpath::testing::FixIcmpChecksum(bytes);
  packet::DecodeResult d = packet::DecodeReply(bytes);
  ASSERT_TRUE(std::holds_alternative<Reply>(d));
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow4(), kKey4, std::get<Reply>(d))), (ProbeId{0, 1, 0}));
  bytes.resize(48 + 7);
  bytes[3] = 48 + 7;
  portpath::testing::FixIcmpChecksum(bytes);
  EXPECT_EQ(std::get<DropReason>(packet::DecodeReply(bytes)), DropReason::kQuoteTruncated);
}

// A TCP trace's ICMP echo probes (ping and controls) travel on the trace's own
// slot: the engine puts the high half of the probe id in the echo identifier
// (constant for the trace, Flow::echo_identifier) and the low half in the echo
// sequence, so a quote of an echo decodes to the same (slot, ttl, attempt).
std::vector<std::uint8_t> EchoProbeBytes(const Flow& flow, std::uint32_t key, packet::ProbeId id) {
  std::uint32_t seq = ProbeIdCodec(key).Encode(id, flow.nonce);
  packet::EchoProbe e;
  e.source = flow.source;
  e.destination = flow.destination;
  e.identifier = static_cast<std::uint16_t>(seq >> 16);
  e.sequence = static_cast<std::uint16_t>(seq);
  e.ttl = id.ttl;
  e.ip_id = 0x1234;
  e.flow_label = 0x12345;
  e.checksum = 0xbeef;
  return packet::BuildEchoProbe(e);
}

/// A router's time-exceeded quoting `probe` (RFC 792 minimum for IPv4, the whole
/// probe for IPv6) as it arrived, with TTL 1.
Reply TimeExceededQuoting(std::vector<std::uint8_t> probe, const IpAddress& router) {
  bool v6 = (probe[0] >> 4) == 6;
  if (!v6) probe.resize(28);
  probe[v6 ? 7 : 8] = 1;
  IpAddress to =
      IpAddress::FromBytes(v6 ? packet::Family::kIpv6 : packet::Family::kIpv4, &probe[v6 ? 8 : 12]);
  packet::ByteWriter w;
  std::size_t icmp = 8 + probe.size();
  if (v6) {
    w.u32(6u << 28);
    w.u16(static_cast<std::uint16_t>(icmp));
    w.u8(packet::kProtoIcmp6);
    w.u8(62);
    w.bytes(packet::Bytes(router.bytes().data(), 16));
    w.bytes(packet::Bytes(to.bytes().data(), 16));
  } else {
    w.u8(0x45);
    w.u8(0);
    w.u16(static_cast<std::uint16_t>(20 + icmp));
    w.u32(0);
    w.u8(62);
    w.u8(packet::kProtoIcmp);
    w.u16(0);
    w.bytes(packet::Bytes(router.bytes().data(), 4));
    w.bytes(packet::Bytes(to.bytes().data(), 4));
  }
  w.u8(v6 ? 3 : 11);
  w.u8(0);
  w.u16(0);
  w.u32(0);
  w.bytes(probe);
  std::vector<std::uint8_t> bytes = w.take();
  portpath::testing::FixIcmpChecksum(bytes);
  packet::DecodeResult d = packet::DecodeReply(bytes);
  EXPECT_TRUE(std::holds_alternative<Reply>(d));
  return std::holds_alternative<Reply>(d) ? std::get<Reply>(d) : Reply{};
}

/// The destination's echo reply to an echo probe of `flow`.
Reply EchoReplyTo(const Flow& flow, std::uint32_t key, packet::ProbeId id) {
  Flow back = flow;
  std::swap(back.source, back.destination);
  std::vector<std::uint8_t> bytes = EchoProbeBytes(back, key, id);
  bytes[flow.destination.is_v6() ? 40 : 20] = flow.destination.is_v6() ? 129 : 0;  // echo reply
  portpath::testing::FixIcmpChecksum(bytes);
  packet::DecodeResult d = packet::DecodeReply(bytes);
  EXPECT_TRUE(std::holds_alternative<Reply>(d));
  return std::holds_alternative<Reply>(d) ? std::get<Reply>(d) : Reply{};
}

/// The flow of a TCP trace in slot 0 that sends echo probes, as the engine sets it up.
Flow EchoingFlow(Flow flow, std::uint32_t key) {
  flow.sends_echo = true;
  flow.echo_identifier =
      static_cast<std::uint16_t>(ProbeIdCodec(key).Encode(ProbeId{0, 0, 0}, 0) >> 16);
  return flow;
}

TEST(MatcherTest, EchoQuoteOnATcpTraceSlotMatchesItsEchoIdentifier) {
  Flow f4 = EchoingFlow(LabFlow4(), kKey4);
  Reply te4 = TimeExceededQuoting(EchoProbeBytes(f4, kKey4, ProbeId{0, 6, 4}), Ip("198.51.100.18"));
  EXPECT_EQ(te4.probe.protocol, packet::kProtoIcmp);
  EXPECT_EQ(te4.probe.source_port, f4.echo_identifier);
  EXPECT_EQ(std::get<ProbeId>(Match(f4, kKey4, te4)), (ProbeId{0, 6, 4}));

  Flow f6 = EchoingFlow(LabFlow6(), kKey6);
  Reply te6 = TimeExceededQuoting(EchoProbeBytes(f6, kKey6, ProbeId{0, 3, 7}), Ip("fd00:3::1"));
  EXPECT_EQ(te6.probe.protocol, packet::kProtoIcmp6);
  EXPECT_EQ(std::get<ProbeId>(Match(f6, kKey6, te6)), (ProbeId{0, 3, 7}));

  // The destination's echo reply to the ping at max_hops.
  Reply reply4 = EchoReplyTo(f4, kKey4, ProbeId{0, 30, 1});
  ASSERT_EQ(reply4.type, packet::ReplyType::kEchoReply);
  EXPECT_EQ(std::get<ProbeId>(Match(f4, kKey4, reply4)), (ProbeId{0, 30, 1}));
  Reply reply6 = EchoReplyTo(f6, kKey6, ProbeId{0, 30, 1});
  EXPECT_EQ(std::get<ProbeId>(Match(f6, kKey6, reply6)), (ProbeId{0, 30, 1}));
}

TEST(MatcherTest, AnEchoIdentifierOfZeroStillMatches) {
  // The identifier is slot XOR the key's high half: for one slot in 65,536 it
  // is 0. An engine run of 200 traces once hit it in CI, and that trace's
  // controls were all dropped (0 used to mean "no echoes").
  std::uint32_t key = 0x00001234;  // slot 0 -> identifier 0
  Flow flow = EchoingFlow(LabFlow4(), key);
  ASSERT_EQ(flow.echo_identifier, 0);
  Reply te = TimeExceededQuoting(EchoProbeBytes(flow, key, ProbeId{0, 6, 4}), Ip("198.51.100.18"));
  EXPECT_EQ(std::get<ProbeId>(Match(flow, key, te)), (ProbeId{0, 6, 4}));
}

TEST(MatcherTest, EchoQuoteWithAnotherIdentifierIsAFlowMismatch) {
  Flow flow = EchoingFlow(LabFlow4(), kKey4);
  Reply te =
      TimeExceededQuoting(EchoProbeBytes(flow, kKey4, ProbeId{0, 6, 4}), Ip("198.51.100.18"));
  // Someone else's ping whose sequence lands on our slot: its identifier is not ours.
  Reply near_miss = te;
  near_miss.probe.source_port ^= 0x0001;
  EXPECT_EQ(DropOf(Match(flow, kKey4, near_miss)), DropReason::kFlowMismatch);
  // Our identifier, but the trace in this slot sends no echoes.
  Flow silent = flow;
  silent.sends_echo = false;
  EXPECT_EQ(DropOf(Match(silent, kKey4, te)), DropReason::kFlowMismatch);
  // Our identifier, but the echo went to another destination.
  Reply elsewhere = te;
  elsewhere.probe.destination = Ip("192.0.2.11");
  EXPECT_EQ(DropOf(Match(flow, kKey4, elsewhere)), DropReason::kFlowMismatch);
  // An echo reply must come from the destination itself.
  Reply reply = EchoReplyTo(flow, kKey4, ProbeId{0, 30, 1});
  reply.from = Ip("198.51.100.18");
  EXPECT_EQ(DropOf(Match(flow, kKey4, reply)), DropReason::kFlowMismatch);
  // The unmodified quote still matches: the checks above are near misses.
  EXPECT_TRUE(std::holds_alternative<ProbeId>(Match(flow, kKey4, te)));
}

TEST(MatcherTest, EchoAnswersAreCreditedOnlyToEchoProbes) {
  // The slot's attempt numbers are shared by both kinds: an echo quote that
  // decodes to an attempt the trace used for a SYN is not that SYN's answer.
  Flow flow = EchoingFlow(LabFlow4(), kKey4);
  Trace trace(TraceSettings{}, TimePoint{});
  auto syn = trace.NextProbe();  // SYN at max_hops, attempt 0
  ASSERT_TRUE(syn);
  ASSERT_EQ(syn->kind, ProbeKind::kTcpSyn);
  trace.OnSent(*syn, TimePoint{});
  auto echo = trace.NextProbe();  // echo at max_hops, attempt 1
  ASSERT_TRUE(echo);
  ASSERT_EQ(echo->kind, ProbeKind::kIcmpEcho);
  trace.OnSent(*echo, TimePoint{});
  ProbeId as_syn{0, syn->ttl, syn->attempt}, as_echo{0, echo->ttl, echo->attempt};
  Reply wrong = EchoReplyTo(flow, kKey4, as_syn);
  EXPECT_EQ(trace.OnReply(as_syn.ttl, as_syn.attempt, wrong, flow.destination, TimePoint{}),
            Trace::ReplyStatus::kUnknownProbe);
  Reply right = EchoReplyTo(flow, kKey4, as_echo);
  ProbeId id = std::get<ProbeId>(Match(flow, kKey4, right));
  EXPECT_EQ(id, as_echo);
  EXPECT_EQ(trace.OnReply(id.ttl, id.attempt, right, flow.destination, TimePoint{}),
            Trace::ReplyStatus::kAccepted);
}

TEST(MatcherTest, FlowTableEraseFreesTheSlot) {
  FlowTable table;
  table.Insert(0, LabFlow4());
  EXPECT_EQ(table.size(), 1u);
  table.Erase(0);
  EXPECT_EQ(table.Find(0), nullptr);
  EXPECT_EQ(DropOf(MatchReply(table, ProbeIdCodec(kKey4), Decode("v4_syn_ack.hex"))),
            DropReason::kNoSuchTrace);
}

}  // namespace
}  // namespace portpath::probe
