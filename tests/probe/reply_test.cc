#include "probe/packet/reply.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/probe/fixtures.h"

namespace portpath::packet {
namespace {

using testing::LoadPacket;
using testing::ParseHex;
using testing::ReplyFixtures;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// Offsets in the captured fixtures (no IP options, no extension headers).
constexpr std::size_t kV4IcmpAt = 20, kV4QuoteAt = 28, kV4QuotedTcpAt = 48;
constexpr std::size_t kV6IcmpAt = 40, kV6QuoteAt = 48, kV6QuotedTcpAt = 88;

void PutU16(std::vector<std::uint8_t>& p, std::size_t at, std::uint16_t v) {
  p.at(at) = static_cast<std::uint8_t>(v >> 8);
  p.at(at + 1) = static_cast<std::uint8_t>(v);
}
// Keeps the outer length field consistent after a test cuts or grows a packet, so
// the decoder sees the edit and not a plain truncation.
void FixOuterLength(std::vector<std::uint8_t>& p) {
  if ((p[0] >> 4) == 4)
    PutU16(p, 2, static_cast<std::uint16_t>(p.size()));
  else
    PutU16(p, 4, static_cast<std::uint16_t>(p.size() - 40));
  testing::FixIcmpChecksum(p);
}

// The cases below edit captured packets to reach one decoding step each; the
// checksum is made to agree first (BadChecksumsAreDropped tests the check itself).
std::vector<std::uint8_t> WithChecksum(std::vector<std::uint8_t> p) {
  testing::FixIcmpChecksum(p);
  return p;
}

Reply DecodeOk(const std::vector<std::uint8_t>& p) {
  DecodeResult r = DecodeReply(WithChecksum(p));
  if (auto* reason = std::get_if<DropReason>(&r)) {
    ADD_FAILURE() << "dropped as " << ToString(*reason);
    return {};
  }
  return std::get<Reply>(r);
}

std::optional<DropReason> DropOf(const std::vector<std::uint8_t>& p) {
  DecodeResult r = DecodeReply(WithChecksum(p));
  if (auto* reason = std::get_if<DropReason>(&r)) return *reason;
  return std::nullopt;
}

struct Expected {
  const char* file;
  ReplyType type;
  const char* from;
  std::uint8_t reply_ttl;
  std::uint8_t icmp_type;
  std::uint8_t icmp_code;
  const char* probe_source;
  const char* probe_destination;
  std::uint16_t destination_port;
  std::uint32_t sequence;
  std::optional<std::uint8_t> quoted_ttl;
};

// The values in each fixture's comment header, read off the capture by tcpdump.
const Expected kExpected[] = {
    {"v4_time_exceeded.hex", ReplyType::kTimeExceeded, "10.0.0.2", 64, 11, 0, "10.0.0.1",
     "192.0.2.10", 80, 0x288a134f, 1},
    {"v6_time_exceeded.hex", ReplyType::kTimeExceeded, "fd00::2", 64, 3, 0, "fd00::1",
     "2001:db8:ff::10", 80, 0xc8277896, 1},
    {"v4_syn_ack.hex", ReplyType::kSynAck, "192.0.2.10", 58, 0, 0, "10.0.0.1", "192.0.2.10", 80,
     0x288a154f, std::nullopt},
    {"v6_syn_ack.hex", ReplyType::kSynAck, "2001:db8:ff::10", 58, 0, 0, "fd00::1",
     "2001:db8:ff::10", 80, 0xc8277e96, std::nullopt},
    {"v4_rst.hex", ReplyType::kRst, "192.0.2.10", 58, 0, 0, "10.0.0.1", "192.0.2.10", 81,
     0x5738cf51, std::nullopt},
    {"v6_rst.hex", ReplyType::kRst, "2001:db8:ff::10", 58, 0, 0, "fd00::1", "2001:db8:ff::10", 81,
     0xcc5eb60e, std::nullopt},
    {"v4_admin_prohibited.hex", ReplyType::kUnreachable, "198.51.100.18", 60, 3, 13, "10.0.0.1",
     "192.0.2.10", 135, 0x1666c750, 1},
    {"v6_admin_prohibited.hex", ReplyType::kUnreachable, "2001:db8:4::2", 60, 1, 1, "fd00::1",
     "2001:db8:ff::10", 135, 0x22eb8b21, 1},
    {"v4_host_unreachable.hex", ReplyType::kUnreachable, "203.0.113.2", 59, 3, 1, "10.0.0.1",
     "192.0.2.9", 80, 0xd6f2bb4f, 1},
    {"v6_address_unreachable.hex", ReplyType::kUnreachable, "2001:db8:5::2", 59, 1, 3, "fd00::1",
     "2001:db8:ff::9", 80, 0x077f7c4c, 1},
    {"v4_net_unreachable.hex", ReplyType::kUnreachable, "203.0.113.2", 59, 3, 0, "10.0.0.1",
     "192.0.2.200", 80, 0xdb4e9e8c, 1},
    {"v6_no_route.hex", ReplyType::kUnreachable, "2001:db8:5::2", 59, 1, 0, "fd00::1",
     "2001:db8:ff:1::200", 80, 0x8b3aea82, 1},
};

TEST(FixtureLoaderTest, SkipsCommentsAndWhitespaceAndRejectsDamage) {
  EXPECT_EQ(ParseHex("# header\n45 00\n# mid 12\n0aFF  # trailing ab\n"),
            (std::vector<std::uint8_t>{0x45, 0x00, 0x0a, 0xff}));
  EXPECT_THROW(ParseHex("450"), std::invalid_argument);
  EXPECT_THROW(ParseHex("45 0g"), std::invalid_argument);
}

TEST(ReplyTest, DecodesEveryCapturedFixture) {
  ASSERT_EQ(std::size(kExpected), ReplyFixtures().size());
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.file);
    Reply r = DecodeOk(LoadPacket(e.file));
    EXPECT_EQ(r.type, e.type);
    EXPECT_EQ(r.from, Ip(e.from));
    EXPECT_EQ(r.reply_ttl, e.reply_ttl);
    if (e.type == ReplyType::kTimeExceeded || e.type == ReplyType::kUnreachable) {
      EXPECT_EQ(r.icmp_type, e.icmp_type);
      EXPECT_EQ(r.icmp_code, e.icmp_code);
    }
    EXPECT_EQ(r.probe.source, Ip(e.probe_source));
    EXPECT_EQ(r.probe.destination, Ip(e.probe_destination));
    EXPECT_EQ(r.probe.source_port, 12000);
    EXPECT_EQ(r.probe.destination_port, e.destination_port);
    EXPECT_EQ(r.probe.sequence, e.sequence);
    EXPECT_EQ(r.quoted_ttl, e.quoted_ttl);
  }
}

TEST(ReplyTest, TimeExceededQuotesTheSameSequenceAsTheProbeOnTheWire) {
  // The first probe of the v4 trace and r1's answer to it, from the same capture.
  std::vector<std::uint8_t> syn = LoadPacket("v4_syn_probe.hex");
  std::uint32_t wire_seq = std::uint32_t{syn[24]} << 24 | std::uint32_t{syn[25]} << 16 |
                           std::uint32_t{syn[26]} << 8 | syn[27];
  EXPECT_EQ(DecodeOk(LoadPacket("v4_time_exceeded.hex")).probe.sequence, wire_seq);
}

TEST(ReplyTest, EveryTruncationIsADropNeverACrash) {
  for (const std::string& name : ReplyFixtures()) {
    std::vector<std::uint8_t> p = LoadPacket(name);
    for (std::size_t n = 0; n < p.size(); ++n) {
      // A fresh allocation of exactly n bytes, so a sanitizer catches any read past it.
      std::vector<std::uint8_t> prefix(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_TRUE(DropOf(prefix).has_value()) << name << " cut to " << n << " bytes decoded";
    }
  }
}

TEST(ReplyTest, TruncationsWithConsistentLengthFieldsAreDropsToo) {
  // A router may quote less than usual; the outer header then agrees with the cut.
  for (const std::string& name : ReplyFixtures()) {
    std::vector<std::uint8_t> p = LoadPacket(name);
    std::size_t header = (p[0] >> 4) == 4 ? 20 : 40;
    std::size_t min_ok = 0;
    for (std::size_t n = header; n <= p.size(); ++n) {
      std::vector<std::uint8_t> cut(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
      FixOuterLength(cut);
      if (!DropOf(cut) && min_ok == 0) min_ok = n;
    }
    // Decoding needs the quoted IP header and the first 8 TCP bytes (RFC 792), or
    // the TCP header through the flags for a direct answer: never less.
    bool icmp = name.find("syn_ack") == std::string::npos && name.find("rst") == std::string::npos;
    std::size_t need = icmp ? (header == 20 ? kV4QuotedTcpAt : kV6QuotedTcpAt) + 8 : header + 14;
    EXPECT_EQ(min_ok, need) << name;
  }
}

TEST(ReplyTest, EthernetPaddingAfterTheIpPacketIsIgnored) {
  std::vector<std::uint8_t> p = LoadPacket("v4_rst.hex");  // 40 bytes: padded to 46 on Ethernet
  p.resize(46, 0);
  Reply r = DecodeOk(p);
  EXPECT_EQ(r.type, ReplyType::kRst);
  EXPECT_EQ(r.probe.sequence, 0x5738cf51u);
}

TEST(ReplyTest, OuterIpv4OptionsAreSkipped) {
  std::vector<std::uint8_t> p = LoadPacket("v4_time_exceeded.hex");
  p.insert(p.begin() + 20, {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
  p[0] = 0x46;
  FixOuterLength(p);
  Reply r = DecodeOk(p);
  EXPECT_EQ(r.from, Ip("10.0.0.2"));
  EXPECT_EQ(r.probe.sequence, 0x288a134fu);
}

TEST(ReplyTest, WrongIpVersionOrHeaderLengthIsABadHeader) {
  for (const std::string& name : ReplyFixtures()) {
    std::vector<std::uint8_t> p = LoadPacket(name);
    p[0] = static_cast<std::uint8_t>(0x50 | (p[0] & 0x0f));
    EXPECT_EQ(DropOf(p), DropReason::kBadHeader) << name;
  }
  std::vector<std::uint8_t> p = LoadPacket("v4_syn_ack.hex");
  p[0] = 0x44;  // IHL 16 bytes
  EXPECT_EQ(DropOf(p), DropReason::kBadHeader);
}

TEST(ReplyTest, QuoteOfTheOtherFamilyIsDropped) {
  std::vector<std::uint8_t> p = LoadPacket("v4_time_exceeded.hex");
  p[kV4QuoteAt] = 0x65;  // a "v6" header inside an ICMPv4 error
  EXPECT_TRUE(DropOf(p).has_value());
  std::vector<std::uint8_t> v6 = LoadPacket("v6_time_exceeded.hex");
  v6[kV6QuoteAt] = 0x45;
  EXPECT_EQ(DropOf(v6), DropReason::kBadHeader);
}

TEST(ReplyTest, NonFirstFragmentIsABadHeader) {
  std::vector<std::uint8_t> p = LoadPacket("v4_time_exceeded.hex");
  PutU16(p, 6, 0x0001);  // fragment offset 8 bytes: the ICMP header is elsewhere
  EXPECT_EQ(DropOf(p), DropReason::kBadHeader);
  p = LoadPacket("v4_time_exceeded.hex");
  PutU16(p, 6, 0x2000);  // first fragment (MF set, offset 0) holds the headers: fine
  EXPECT_EQ(DecodeOk(p).type, ReplyType::kTimeExceeded);

  // IPv6: a fragment header (44) in front of the ICMPv6 message.
  std::vector<std::uint8_t> v6 = LoadPacket("v6_time_exceeded.hex");
  std::uint8_t next = v6[6];
  v6[6] = 44;
  v6.insert(v6.begin() + 40, {next, 0, 0x00, 0x08, 0, 0, 0, 1});  // offset 1 (x8 bytes)
  FixOuterLength(v6);
  EXPECT_EQ(DropOf(v6), DropReason::kBadHeader);
  v6[40 + 3] = 0x01;  // offset 0, more fragments: the first fragment decodes
  EXPECT_EQ(DecodeOk(v6).probe.sequence, 0xc8277896u);
}

TEST(ReplyTest, IcmpEchoRequestIsUnrelated) {
  std::vector<std::uint8_t> p = LoadPacket("v4_time_exceeded.hex");
  p[kV4IcmpAt] = 8;  // echo request (ours, or anyone's: never an answer)
  EXPECT_EQ(DropOf(p), DropReason::kUnrelatedIcmp);
  std::vector<std::uint8_t> v6 = LoadPacket("v6_time_exceeded.hex");
  v6[kV6IcmpAt] = 128;  // ICMPv6 echo request
  EXPECT_EQ(DropOf(v6), DropReason::kUnrelatedIcmp);
  v6[kV6IcmpAt] = 11;  // the ICMPv4 time-exceeded number means nothing in ICMPv6
  EXPECT_EQ(DropOf(v6), DropReason::kUnrelatedIcmp);
  v6[kV6IcmpAt] = 3;
  v6[6] = 1;  // ICMPv4's protocol number in an IPv6 packet
  EXPECT_EQ(DropOf(v6), DropReason::kUnrelatedIcmp);
}

TEST(ReplyTest, EchoReplyAnswersAnEchoProbe) {
  std::vector<std::uint8_t> p = LoadPacket("v4_time_exceeded.hex");
  p[kV4IcmpAt] = 0;  // echo reply: identifier and sequence follow the header
  p[kV4IcmpAt + 4] = 0x12;
  p[kV4IcmpAt + 5] = 0x34;
  p[kV4IcmpAt + 6] = 0x56;
  p[kV4IcmpAt + 7] = 0x78;
  auto decoded = DecodeReply(WithChecksum(p));
  ASSERT_TRUE(std::holds_alternative<Reply>(decoded));
  const Reply& r = std::get<Reply>(decoded);
  EXPECT_EQ(r.type, ReplyType::kEchoReply);
  EXPECT_EQ(r.probe.protocol, kProtoIcmp);
  EXPECT_EQ(r.probe.source_port, 0x1234);
  EXPECT_EQ(r.probe.sequence, 0x12345678u);
  EXPECT_EQ(r.probe.destination, r.from);
}

TEST(ReplyTest, BadChecksumsAreDropped) {
  // Every captured ICMP fixture verifies as it came off the wire...
  for (const std::string& name : ReplyFixtures()) {
    std::vector<std::uint8_t> p = LoadPacket(name);
    bool v6 = (p[0] >> 4) == 6;
    if (p[v6 ? 6 : 9] != (v6 ? 58 : 1)) continue;
    EXPECT_FALSE(DropOf(p).has_value()) << name;
    // ...and one flipped bit anywhere in the ICMP message (the quote included)
    // makes it a forgery, never credited.
    for (std::size_t at = v6 ? 41 : 21; at < p.size(); at += 7) {  // from the code byte on
      std::vector<std::uint8_t> forged = p;
      forged[at] ^= 0x10;
      EXPECT_EQ(std::get<DropReason>(DecodeReply(forged)), DropReason::kBadChecksum)
          << name << " byte " << at;
    }
  }
}

TEST(ReplyTest, OuterUdpIsUnrelated) {
  std::vector<std::uint8_t> p = LoadPacket("v4_syn_ack.hex");
  p[9] = 17;
  EXPECT_TRUE(DropOf(p).has_value());
}

TEST(ReplyTest, QuoteOfUdpIsNotOurs) {
  std::vector<std::uint8_t> p = LoadPacket("v4_admin_prohibited.hex");
  p[kV4QuoteAt + 9] = 17;
  EXPECT_EQ(DropOf(p), DropReason::kQuoteNotTcp);
  std::vector<std::uint8_t> v6 = LoadPacket("v6_admin_prohibited.hex");
  v6[kV6QuoteAt + 6] = 17;
  EXPECT_EQ(DropOf(v6), DropReason::kQuoteNotTcp);
}

TEST(ReplyTest, QuoteShorterThanEightTcpBytesIsQuoteTruncated) {
  for (const char* name : {"v4_time_exceeded.hex", "v6_time_exceeded.hex"}) {
    std::vector<std::uint8_t> p = LoadPacket(name);
    std::size_t tcp_at = (p[0] >> 4) == 4 ? kV4QuotedTcpAt : kV6QuotedTcpAt;
    p.resize(tcp_at + 8);
    FixOuterLength(p);
    EXPECT_EQ(DecodeOk(p).probe.destination_port, 80) << name;  // 8 bytes: enough
    p.resize(tcp_at + 7);
    FixOuterLength(p);
    EXPECT_EQ(DropOf(p), DropReason::kQuoteTruncated) << name;
    p.resize(tcp_at - 1);  // not even the quoted IP header
    FixOuterLength(p);
    EXPECT_EQ(DropOf(p), DropReason::kQuoteTruncated) << name;
  }
}

TEST(ReplyTest, TcpWithoutSynAckOrRstAckIsUnrelated) {
  std::vector<std::uint8_t> p = LoadPacket("v4_syn_ack.hex");
  constexpr std::size_t kFlags = 20 + 13;
  for (std::uint8_t flags : {0x10, 0x02, 0x04, 0x18, 0x11, 0x00}) {  // ACK, SYN, bare RST, ...
    p[kFlags] = flags;
    EXPECT_EQ(DropOf(p), DropReason::kUnrelatedTcp) << std::hex << int{flags};
  }
  p[kFlags] = 0x16;  // SYN+RST+ACK: reset wins, and it still names our probe
  EXPECT_EQ(DecodeOk(p).type, ReplyType::kRst);
}

// Inserts an extension header into the quote of the v6 time-exceeded fixture.
std::vector<std::uint8_t> V6QuoteWithExtension(std::uint8_t ext_type,
                                               std::vector<std::uint8_t> ext) {
  std::vector<std::uint8_t> p = LoadPacket("v6_time_exceeded.hex");
  ext[0] = p[kV6QuoteAt + 6];  // the extension's next header: TCP
  p[kV6QuoteAt + 6] = ext_type;
  p.insert(p.begin() + kV6QuotedTcpAt, ext.begin(), ext.end());
  FixOuterLength(p);
  return p;
}

TEST(ReplyTest, Ipv6ExtensionHeadersInTheQuoteAreWalked) {
  // Destination options with a PadN, 8 bytes.
  std::vector<std::uint8_t> dstopt = {0, 0, 1, 4, 0, 0, 0, 0};
  Reply r = DecodeOk(V6QuoteWithExtension(60, dstopt));
  EXPECT_EQ(r.probe.sequence, 0xc8277896u);
  EXPECT_EQ(r.probe.destination_port, 80);
  // Hop-by-hop of 16 bytes (length field 1).
  std::vector<std::uint8_t> hbh = {0, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(DecodeOk(V6QuoteWithExtension(0, hbh)).probe.sequence, 0xc8277896u);
  // A first fragment of our probe, as a router may quote it.
  std::vector<std::uint8_t> frag = {0, 0, 0, 1, 0, 0, 0, 7};
  EXPECT_EQ(DecodeOk(V6QuoteWithExtension(44, frag)).probe.sequence, 0xc8277896u);
  // A non-first fragment does not hold the TCP header.
  frag[3] = 0x08;
  EXPECT_EQ(DropOf(V6QuoteWithExtension(44, frag)), DropReason::kBadHeader);
}

TEST(ReplyTest, Ipv6ExtensionHeaderThatEatsTheQuoteIsQuoteTruncated) {
  std::vector<std::uint8_t> p = V6QuoteWithExtension(60, {0, 0, 1, 4, 0, 0, 0, 0});
  p.resize(kV6QuotedTcpAt + 8 + 7);  // extension + 7 TCP bytes
  FixOuterLength(p);
  EXPECT_EQ(DropOf(p), DropReason::kQuoteTruncated);
  // An extension that claims more than the quote holds.
  p = V6QuoteWithExtension(60, {0, 9, 1, 4, 0, 0, 0, 0});
  EXPECT_EQ(DropOf(p), DropReason::kQuoteTruncated);
}

TEST(ReplyTest, ExtensionHeaderChainIsBounded) {
  // Nine destination-options headers: more than the decoder walks, so the "upper
  // layer" it stops at is another extension header, which is not TCP.
  std::vector<std::uint8_t> p = LoadPacket("v6_time_exceeded.hex");
  p[kV6QuoteAt + 6] = 60;
  std::vector<std::uint8_t> chain;
  for (int i = 0; i < 9; ++i) chain.insert(chain.end(), {60, 0, 1, 4, 0, 0, 0, 0});
  chain[std::size_t{8} * 8] = 6;
  p.insert(p.begin() + kV6QuotedTcpAt, chain.begin(), chain.end());
  FixOuterLength(p);
  EXPECT_EQ(DropOf(p), DropReason::kQuoteNotTcp);
}

TEST(ReplyTest, DropReasonsHaveMetricNames) {
  for (int i = 0; i < static_cast<int>(DropReason::kCount); ++i)
    EXPECT_NE(ToString(static_cast<DropReason>(i)), "unknown") << i;
  EXPECT_EQ(ToString(DropReason::kQuoteNotTcp), "quote_not_tcp");
}

// --- StripLinkLayer ---------------------------------------------------------------

std::vector<std::uint8_t> Concat(std::vector<std::uint8_t> head,
                                 const std::vector<std::uint8_t>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

bool StripsTo(LinkType link, const std::vector<std::uint8_t>& frame,
              const std::vector<std::uint8_t>& ip) {
  std::optional<Bytes> out = StripLinkLayer(link, frame);
  return out && std::vector<std::uint8_t>(out->begin(), out->end()) == ip;
}

const std::vector<std::uint8_t> kMacs = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};

TEST(StripLinkLayerTest, RealSll2FrameFromTheLabCapture) {
  std::vector<std::uint8_t> frame = LoadPacket("sll2_v4_time_exceeded.hex");
  std::vector<std::uint8_t> ip = LoadPacket("v4_time_exceeded.hex");
  EXPECT_TRUE(StripsTo(LinkType::kLinuxSll2, frame, ip));
  EXPECT_EQ(DecodeOk(ip).from, Ip("10.0.0.2"));
}

TEST(StripLinkLayerTest, Ethernet) {
  std::vector<std::uint8_t> ip = LoadPacket("v4_syn_ack.hex");
  EXPECT_TRUE(StripsTo(LinkType::kEthernet, Concat(Concat(kMacs, {0x08, 0x00}), ip), ip));
  std::vector<std::uint8_t> ip6 = LoadPacket("v6_syn_ack.hex");
  EXPECT_TRUE(StripsTo(LinkType::kEthernet, Concat(Concat(kMacs, {0x86, 0xdd}), ip6), ip6));
  // ARP is not ours.
  EXPECT_FALSE(StripLinkLayer(LinkType::kEthernet, Concat(Concat(kMacs, {0x08, 0x06}), ip)));
}

TEST(StripLinkLayerTest, VlanAndQinQ) {
  std::vector<std::uint8_t> ip6 = LoadPacket("v6_time_exceeded.hex");
  EXPECT_TRUE(StripsTo(LinkType::kEthernet,
                       Concat(Concat(kMacs, {0x81, 0x00, 0x00, 0x64, 0x86, 0xdd}), ip6), ip6));
  EXPECT_TRUE(StripsTo(
      LinkType::kEthernet,
      Concat(Concat(kMacs, {0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x86, 0xdd}), ip6), ip6));
  // A VLAN tag cut short.
  EXPECT_FALSE(StripLinkLayer(LinkType::kEthernet, Concat(kMacs, {0x81, 0x00, 0x00})));
}

TEST(StripLinkLayerTest, LinuxCookedV1AndV2) {
  std::vector<std::uint8_t> ip = LoadPacket("v4_rst.hex");
  // SLL: packet type, ARPHRD, address length, 8 address bytes, protocol.
  std::vector<std::uint8_t> sll = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00};
  EXPECT_TRUE(StripsTo(LinkType::kLinuxSll, Concat(sll, ip), ip));
  // SLL2: protocol first, then reserved, ifindex, ARPHRD, packet type, address.
  std::vector<std::uint8_t> sll2 = {0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1,
                                    0,    6,    2, 0, 0, 0, 0, 1, 0, 0};
  std::vector<std::uint8_t> ip6 = LoadPacket("v6_rst.hex");
  EXPECT_TRUE(StripsTo(LinkType::kLinuxSll2, Concat(sll2, ip6), ip6));
  sll2[1] = 0x06;  // 0x8606: not IP
  EXPECT_FALSE(StripLinkLayer(LinkType::kLinuxSll2, Concat(sll2, ip6)));
}

TEST(StripLinkLayerTest, RawIsUnchangedAndShortFramesAreRejected) {
  std::vector<std::uint8_t> ip = LoadPacket("v4_rst.hex");
  EXPECT_TRUE(StripsTo(LinkType::kRaw, ip, ip));
  EXPECT_TRUE(StripsTo(LinkType::kRawAlt, ip, ip));
  for (LinkType link : {LinkType::kEthernet, LinkType::kLinuxSll, LinkType::kLinuxSll2}) {
    for (std::size_t n = 0; n < 20; ++n) {
      std::vector<std::uint8_t> cut(n, 0x08);
      std::optional<Bytes> out = StripLinkLayer(link, cut);
      if (out) {
        EXPECT_LE(out->size(), n);  // never a view past the frame
      }
    }
    EXPECT_FALSE(StripLinkLayer(link, std::vector<std::uint8_t>(5, 0)));
  }
}

}  // namespace
}  // namespace portpath::packet
