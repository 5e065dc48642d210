#include "probe/packet/icmp_extensions.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "probe/packet/reply.h"
#include "tests/probe/fixtures.h"

namespace portpath::packet {
namespace {

using testing::LoadPacket;
using testing::ReplyFixtures;
using Labels = std::vector<MplsLabel>;

// Crafted by tests/fixtures/packets/make_mpls_fixtures.py; each file's comment
// header lists the labels it carries.
const std::vector<std::string>& MplsFixtures() {
  static const std::vector<std::string> names = {
      "mpls_v4_one_label.hex",     "mpls_v4_two_labels.hex",   "mpls_v4_legacy.hex",
      "mpls_v4_frag_needed.hex",   "mpls_v4_bad_checksum.hex", "mpls_v4_truncated_object.hex",
      "mpls_v4_unknown_class.hex", "mpls_v6_two_labels.hex",   "mpls_v6_legacy.hex",
  };
  return names;
}

bool IsV6(const std::vector<std::uint8_t>& p) { return (p[0] >> 4) == 6; }
// The fixtures have no IP options or IPv6 extension headers.
Bytes IcmpOf(const std::vector<std::uint8_t>& p) { return Bytes(p).subspan(IsV6(p) ? 40 : 20); }

Reply DecodeOk(const std::vector<std::uint8_t>& p) {
  DecodeResult r = DecodeReply(p);
  if (auto* reason = std::get_if<DropReason>(&r)) {
    ADD_FAILURE() << "dropped as " << ToString(*reason);
    return {};
  }
  return std::get<Reply>(r);
}

void FixOuterLength(std::vector<std::uint8_t>& p) {
  std::size_t v = IsV6(p) ? p.size() - 40 : p.size();
  std::size_t at = IsV6(p) ? 4 : 2;
  p.at(at) = static_cast<std::uint8_t>(v >> 8);
  p.at(at + 1) = static_cast<std::uint8_t>(v);
}

// An ICMP message built in the test: header with the RFC 4884 length attribute,
// a zero "original datagram" of `original` bytes, then an extension header and
// `objects`. The ICMP checksum is left zero: the decoder does not check it.
struct Message {
  bool v6 = false;
  std::uint8_t type = 11;
  std::uint8_t length_words = 32;
  std::size_t original = 128;
  std::uint8_t version = 2;
  bool good_checksum = true;
  std::vector<std::uint8_t> objects;

  std::vector<std::uint8_t> Build() const {
    ByteWriter w;
    w.u8(type);
    w.u8(0);
    w.u16(0);
    w.u8(v6 ? length_words : 0);
    w.u8(v6 ? 0 : length_words);
    w.u16(0);
    for (std::size_t i = 0; i < original; ++i) w.u8(0);
    std::size_t ext = w.size();
    w.u8(static_cast<std::uint8_t>(version << 4));
    w.u8(0);
    w.u16(0);
    w.bytes(objects);
    InternetChecksum sum;
    sum.add(Bytes(w.data()).subspan(ext));
    w.put_u16_at(ext + 2, static_cast<std::uint16_t>(sum.finish() ^ (good_checksum ? 0 : 1)));
    return w.take();
  }
};

std::vector<std::uint8_t> Object(std::uint16_t length, std::uint8_t class_num, std::uint8_t c_type,
                                 const std::vector<std::uint32_t>& words) {
  ByteWriter w;
  w.u16(length);
  w.u8(class_num);
  w.u8(c_type);
  for (std::uint32_t v : words) w.u32(v);
  return w.take();
}
std::vector<std::uint8_t> MplsObject(const std::vector<std::uint32_t>& entries) {
  return Object(static_cast<std::uint16_t>(4 + 4 * entries.size()), 1, 1, entries);
}
std::vector<std::uint8_t> Concat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

constexpr std::uint32_t kEntry = 24001u << 12 | 0x100 | 1;  // label 24001, S, TTL 1
const MplsLabel kLabel{24001, 0, true, 1};

Labels Decode(const Message& m) { return DecodeMplsExtensions(m.Build(), m.v6); }

TEST(IcmpExtensionsTest, Ipv4TimeExceededWithRfc4884LengthAndOneLabel) {
  std::vector<std::uint8_t> p = LoadPacket("mpls_v4_one_label.hex");
  Reply r = DecodeOk(p);
  EXPECT_EQ(r.type, ReplyType::kTimeExceeded);
  EXPECT_EQ(r.from, *IpAddress::Parse("203.0.113.5"));
  // The extensions do not disturb the quote: still credited to the captured probe.
  EXPECT_EQ(r.probe.sequence, 0x288a134fu);
  EXPECT_EQ(r.probe.destination, *IpAddress::Parse("192.0.2.10"));
  EXPECT_EQ(r.quoted_ttl, 1);
  EXPECT_EQ(r.mpls, (Labels{{24001, 0, true, 1}}));
  EXPECT_EQ(DecodeMplsExtensions(IcmpOf(p), false), r.mpls);
}

TEST(IcmpExtensionsTest, TwoLabelStackKeepsOrderBottomOfStackTcAndTtl) {
  Reply r = DecodeOk(LoadPacket("mpls_v4_two_labels.hex"));
  ASSERT_EQ(r.mpls.size(), 2u);
  EXPECT_EQ(r.mpls[0], (MplsLabel{16005, 0, false, 1}));    // top: the label that expired
  EXPECT_EQ(r.mpls[1], (MplsLabel{703710, 5, true, 254}));  // bottom, full 20 bits, TC 5
}

TEST(IcmpExtensionsTest, LegacyFormWithZeroLengthIsReadAt128Bytes) {
  EXPECT_EQ(DecodeOk(LoadPacket("mpls_v4_legacy.hex")).mpls, (Labels{{299792, 0, true, 1}}));
  EXPECT_EQ(DecodeOk(LoadPacket("mpls_v6_legacy.hex")).mpls, (Labels{{299792, 7, true, 1}}));
}

TEST(IcmpExtensionsTest, UnreachableCarriesLabelsNextToTheMtu) {
  Reply r = DecodeOk(LoadPacket("mpls_v4_frag_needed.hex"));
  EXPECT_EQ(r.type, ReplyType::kUnreachable);
  EXPECT_EQ(r.icmp_code, 4);
  EXPECT_EQ(r.mpls, (Labels{{24001, 0, true, 1}}));
}

TEST(IcmpExtensionsTest, Ipv6TimeExceededWithExtensions) {
  std::vector<std::uint8_t> p = LoadPacket("mpls_v6_two_labels.hex");
  Reply r = DecodeOk(p);
  EXPECT_EQ(r.type, ReplyType::kTimeExceeded);
  EXPECT_EQ(r.from, *IpAddress::Parse("2001:db8:6::1"));
  EXPECT_EQ(r.probe.sequence, 0xc8277896u);
  EXPECT_EQ(r.mpls, (Labels{{16006, 0, false, 1}, {2, 0, true, 1}}));
  EXPECT_EQ(IcmpOf(p)[4], 16);  // RFC 4884 length: 16 64-bit words = 128 bytes
}

TEST(IcmpExtensionsTest, BadExtensionChecksumMeansNoLabelsButTheReplyStands) {
  Reply r = DecodeOk(LoadPacket("mpls_v4_bad_checksum.hex"));
  EXPECT_EQ(r.probe.sequence, 0x288a134fu);
  EXPECT_TRUE(r.mpls.empty());
}

TEST(IcmpExtensionsTest, ObjectRunningPastTheEndMeansNoLabels) {
  Reply r = DecodeOk(LoadPacket("mpls_v4_truncated_object.hex"));
  EXPECT_EQ(r.probe.sequence, 0x288a134fu);
  EXPECT_TRUE(r.mpls.empty());
}

TEST(IcmpExtensionsTest, UnknownClassIsSkipped) {
  EXPECT_EQ(DecodeOk(LoadPacket("mpls_v4_unknown_class.hex")).mpls, (Labels{{24001, 0, true, 1}}));
  // And an MPLS class object with a c-type RFC 4950 does not define.
  EXPECT_EQ(Decode({.objects = Concat(Object(8, 1, 2, {0x12345678}), MplsObject({kEntry}))}),
            Labels{kLabel});
}

TEST(IcmpExtensionsTest, CapturedRepliesWithoutExtensionsHaveNoLabels) {
  for (const std::string& name : ReplyFixtures())
    EXPECT_TRUE(DecodeOk(LoadPacket(name)).mpls.empty()) << name;
}

TEST(IcmpExtensionsTest, BuiltMessagesAgreeWithTheFixtures) {
  EXPECT_EQ(Decode({.objects = MplsObject({kEntry})}), Labels{kLabel});
  EXPECT_EQ(Decode({.v6 = true, .type = 3, .length_words = 16, .objects = MplsObject({kEntry})}),
            Labels{kLabel});
  EXPECT_EQ(Decode({.type = 12, .objects = MplsObject({kEntry})}),
            Labels{kLabel});  // param. problem
  // A longer original datagram (RFC 4884 allows more than 128 bytes).
  EXPECT_EQ(Decode({.length_words = 40, .original = 160, .objects = MplsObject({kEntry})}),
            Labels{kLabel});
  // Two MPLS objects: both stacks, in order.
  EXPECT_EQ(Decode({.objects = Concat(MplsObject({kEntry}), MplsObject({kEntry}))}),
            (Labels{kLabel, kLabel}));
}

TEST(IcmpExtensionsTest, MalformedStructuresYieldNoLabels) {
  std::vector<std::uint8_t> mpls = MplsObject({kEntry});
  // Not an error message with a length attribute: echo reply, ICMPv6 packet-too-big.
  EXPECT_TRUE(Decode({.type = 0, .objects = mpls}).empty());
  EXPECT_TRUE(Decode({.v6 = true, .type = 2, .length_words = 16, .objects = mpls}).empty());
  // Length attribute below the 128-byte minimum, or pointing past the end.
  EXPECT_TRUE(Decode({.length_words = 16, .original = 64, .objects = mpls}).empty());
  EXPECT_TRUE(Decode({.length_words = 200, .objects = mpls}).empty());
  // Version 1, even with a checksum that verifies.
  EXPECT_TRUE(Decode({.version = 1, .objects = mpls}).empty());
  EXPECT_TRUE(Decode({.good_checksum = false, .objects = mpls}).empty());
  // Object length below its own header (would loop forever if accepted), past the
  // end, or an MPLS payload that is not whole entries.
  EXPECT_TRUE(Decode({.objects = Concat(mpls, Object(0, 1, 1, {}))}).empty());
  EXPECT_TRUE(Decode({.objects = Concat(mpls, Object(3, 1, 1, {}))}).empty());
  EXPECT_TRUE(Decode({.objects = Object(16, 1, 1, {kEntry})}).empty());
  EXPECT_TRUE(Decode({.objects = Concat(Object(10, 1, 1, {kEntry, kEntry}), {})}).empty());
  // Trailing bytes too short for an object header.
  EXPECT_TRUE(Decode({.objects = Concat(mpls, {0x00, 0x08})}).empty());
  // An extension header alone is a valid, empty structure.
  EXPECT_TRUE(Decode({}).empty());
  // Nothing after the original datagram: padding, not extensions.
  std::vector<std::uint8_t> bare = Message{}.Build();
  bare.resize(8 + 128);
  EXPECT_TRUE(DecodeMplsExtensions(bare, false).empty());
  EXPECT_TRUE(DecodeMplsExtensions({}, false).empty());
}

TEST(IcmpExtensionsTest, EveryTruncationIsHandledNeverACrash) {
  for (const std::string& name : MplsFixtures()) {
    std::vector<std::uint8_t> p = LoadPacket(name);
    Labels full = DecodeOk(p).mpls;
    std::size_t icmp_at = IsV6(p) ? 40 : 20;
    for (std::size_t n = 0; n < p.size(); ++n) {
      // A fresh allocation of exactly n bytes, so a sanitizer catches any read past it.
      std::vector<std::uint8_t> cut(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_TRUE(std::holds_alternative<DropReason>(DecodeReply(cut))) << name << " cut to " << n;
      if (n < icmp_at) continue;
      // The outer header agreeing with the cut: the reply may stand, but a cut
      // extension structure never yields a partial stack.
      FixOuterLength(cut);
      DecodeResult r = DecodeReply(cut);
      if (auto* reply = std::get_if<Reply>(&r)) {
        EXPECT_TRUE(reply->mpls.empty()) << name << " cut to " << n;
      }
      std::vector<std::uint8_t> icmp(p.begin() + static_cast<std::ptrdiff_t>(icmp_at),
                                     p.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_TRUE(DecodeMplsExtensions(icmp, IsV6(p)).empty()) << name << " cut to " << n;
    }
    // Ethernet-style trailing padding is outside the IP packet and changes nothing.
    std::vector<std::uint8_t> padded = p;
    padded.resize(p.size() + 6, 0);
    EXPECT_EQ(DecodeOk(padded).mpls, full) << name;
  }
}

}  // namespace
}  // namespace portpath::packet
