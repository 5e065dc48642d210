#include "probe/matcher.h"

#include <gtest/gtest.h>

#include <vector>

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

  // The new trace has sent only its TTL-1 probe so far.
  Trace trace(TraceSettings{}, TimePoint{});
  auto first = trace.NextProbe(TimePoint{});
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
  packet::DecodeResult d = packet::DecodeReply(bytes);
  ASSERT_TRUE(std::holds_alternative<Reply>(d));
  EXPECT_EQ(std::get<ProbeId>(Match(LabFlow4(), kKey4, std::get<Reply>(d))), (ProbeId{0, 1, 0}));
  bytes.resize(48 + 7);
  bytes[3] = 48 + 7;
  EXPECT_EQ(std::get<DropReason>(packet::DecodeReply(bytes)), DropReason::kQuoteTruncated);
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
