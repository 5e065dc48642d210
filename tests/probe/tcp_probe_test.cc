#include "probe/packet/tcp_probe.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "probe/packet/probe_id.h"
#include "tests/probe/fixtures.h"

namespace portpath::packet {
namespace {

using testing::LoadPacket;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

std::uint16_t U16(const std::vector<std::uint8_t>& p, std::size_t at) {
  return static_cast<std::uint16_t>(p.at(at) << 8 | p.at(at + 1));
}
std::uint32_t U32(const std::vector<std::uint8_t>& p, std::size_t at) {
  return std::uint32_t{U16(p, at)} << 16 | U16(p, at + 2);
}

// A deliberately naive RFC 1071 sum, independent of InternetChecksum: the sum over
// data that includes a correct checksum is 0xffff.
std::uint32_t Fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
std::uint32_t SumWords(const std::vector<std::uint8_t>& d) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < d.size(); i += 2)
    sum += static_cast<std::uint32_t>(d[i] << 8 | (i + 1 < d.size() ? d[i + 1] : 0));
  return Fold(sum);
}
bool TcpChecksumValid(const std::vector<std::uint8_t>& ip_packet) {
  bool v4 = (ip_packet[0] >> 4) == 4;
  std::size_t header = v4 ? 20 : 40;
  std::vector<std::uint8_t> pseudo;
  if (v4) {
    pseudo.assign(ip_packet.begin() + 12, ip_packet.begin() + 20);
    pseudo.insert(pseudo.end(), {0, 6});
  } else {
    pseudo.assign(ip_packet.begin() + 8, ip_packet.begin() + 40);
    pseudo.insert(pseudo.end(), {0, 0, 0, 0, 0, 0, 0, 6});
  }
  std::size_t length = ip_packet.size() - header;
  pseudo.insert(pseudo.end(),
                {static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)});
  pseudo.insert(pseudo.end(), ip_packet.begin() + static_cast<std::ptrdiff_t>(header),
                ip_packet.end());
  return SumWords(pseudo) == 0xffff;
}

// Rebuilds the probe from the fields of a captured SYN, so that BuildSynProbe can be
// compared with what the real binary put on the wire.
SynProbe FieldsOf(const std::vector<std::uint8_t>& wire) {
  SynProbe p;
  if ((wire[0] >> 4) == 4) {
    p.source = IpAddress::FromBytes(Family::kIpv4, &wire[12]);
    p.destination = IpAddress::FromBytes(Family::kIpv4, &wire[16]);
    p.ttl = wire[8];
    p.ip_id = U16(wire, 4);
  } else {
    p.source = IpAddress::FromBytes(Family::kIpv6, &wire[8]);
    p.destination = IpAddress::FromBytes(Family::kIpv6, &wire[24]);
    p.ttl = wire[7];
    p.flow_label = U32(wire, 0) & 0xfffff;
  }
  std::size_t tcp = (wire[0] >> 4) == 4 ? 20 : 40;
  p.source_port = U16(wire, tcp);
  p.destination_port = U16(wire, tcp + 2);
  p.sequence = U32(wire, tcp + 4);
  return p;
}

TEST(TcpProbeTest, V4ProbeIsByteForByteTheCapturedWireSyn) {
  std::vector<std::uint8_t> wire = LoadPacket("v4_syn_probe.hex");
  SynProbe p = FieldsOf(wire);
  EXPECT_EQ(p.source, Ip("10.0.0.1"));
  EXPECT_EQ(p.destination, Ip("192.0.2.10"));
  EXPECT_EQ(p.ttl, 1);
  EXPECT_EQ(BuildSynProbe(p), wire);
}

TEST(TcpProbeTest, V6ProbeIsByteForByteTheCapturedWireSyn) {
  std::vector<std::uint8_t> wire = LoadPacket("v6_syn_probe.hex");
  SynProbe p = FieldsOf(wire);
  EXPECT_EQ(p.source, Ip("fd00::1"));
  EXPECT_EQ(p.destination, Ip("2001:db8:ff::10"));
  EXPECT_EQ(p.flow_label, 0xf1257u);
  EXPECT_EQ(BuildSynProbe(p), wire);
}

TEST(TcpProbeTest, CapturedProbesCarryValidChecksums) {
  // tcpdump -vv printed "cksum ... (correct)" for these; check it independently.
  for (const char* name : {"v4_syn_probe.hex", "v6_syn_probe.hex"})
    EXPECT_TRUE(TcpChecksumValid(LoadPacket(name))) << name;
}

SynProbe Sample(bool v6) {
  SynProbe p;
  p.source = Ip(v6 ? "2001:db8::1" : "192.0.2.1");
  p.destination = Ip(v6 ? "2001:db8:ff::10" : "198.51.100.7");
  p.source_port = 12345;
  p.destination_port = 443;
  p.sequence = 0xdeadbeef;
  p.ttl = 17;
  p.ip_id = 0xabcd;
  p.flow_label = 0x12345;
  return p;
}

TEST(TcpProbeTest, V4HeaderFields) {
  std::vector<std::uint8_t> b = BuildSynProbe(Sample(false));
  ASSERT_EQ(b.size(), 20 + kSynTcpHeaderLength);
  EXPECT_EQ(b[0], 0x45);
  EXPECT_EQ(U16(b, 2), b.size());    // total length
  EXPECT_EQ(U16(b, 4), 0xabcd);      // IP ID: constant per trace
  EXPECT_EQ(U16(b, 6) & 0x1fff, 0);  // not a fragment
  EXPECT_EQ(b[8], 17);               // TTL
  EXPECT_EQ(b[9], 6);                // TCP
  EXPECT_EQ(SumWords(std::vector<std::uint8_t>(b.begin(), b.begin() + 20)), 0xffffu);
  EXPECT_EQ(U32(b, 12), 0xc0000201u);  // 192.0.2.1
  EXPECT_EQ(U32(b, 16), 0xc6336407u);  // 198.51.100.7
  EXPECT_EQ(U16(b, 20), 12345);
  EXPECT_EQ(U16(b, 22), 443);
  EXPECT_EQ(U32(b, 24), 0xdeadbeefu);
  EXPECT_EQ(U32(b, 28), 0u);  // no ack
  EXPECT_EQ(b[32] >> 4, 6);   // data offset 24 bytes
  EXPECT_EQ(b[33], 0x02);     // SYN only
  EXPECT_NE(U16(b, 34), 0);   // a window: zero-window SYNs look like scans
  // MSS option: kind 2, length 4, 1220.
  EXPECT_EQ(std::vector<std::uint8_t>(b.begin() + 40, b.end()),
            (std::vector<std::uint8_t>{2, 4, 0x04, 0xc4}));
  EXPECT_TRUE(TcpChecksumValid(b));
}

TEST(TcpProbeTest, V6HeaderFields) {
  std::vector<std::uint8_t> b = BuildSynProbe(Sample(true));
  ASSERT_EQ(b.size(), 40 + kSynTcpHeaderLength);
  EXPECT_EQ(U32(b, 0), 0x60012345u);  // version 6, traffic class 0, flow label
  EXPECT_EQ(U16(b, 4), kSynTcpHeaderLength);
  EXPECT_EQ(b[6], 6);
  EXPECT_EQ(b[7], 17);  // hop limit
  EXPECT_EQ(IpAddress::FromBytes(Family::kIpv6, &b[8]), Ip("2001:db8::1"));
  EXPECT_EQ(IpAddress::FromBytes(Family::kIpv6, &b[24]), Ip("2001:db8:ff::10"));
  EXPECT_EQ(U32(b, 44), 0xdeadbeefu);
  EXPECT_EQ(b[53], 0x02);
  EXPECT_EQ(std::vector<std::uint8_t>(b.begin() + 60, b.end()),
            (std::vector<std::uint8_t>{2, 4, 0x04, 0xc4}));
  EXPECT_TRUE(TcpChecksumValid(b));
}

TEST(TcpProbeTest, FlowLabelIsMaskedTo20Bits) {
  SynProbe p = Sample(true);
  p.flow_label = 0xfff12345;
  std::vector<std::uint8_t> b = BuildSynProbe(p);
  EXPECT_EQ(U32(b, 0), 0x60012345u);
}

TEST(TcpProbeTest, ChecksumStaysValidAcrossTtlsAndSequences) {
  // The checksum must not depend on the IP TTL (not in the pseudo-header) but must
  // follow the sequence number; a stale checksum would make the target drop the SYN.
  for (bool v6 : {false, true}) {
    for (std::uint32_t seq : {0u, 1u, 0xffffffffu, 0x80000000u, 0x0000ffffu}) {
      SynProbe p = Sample(v6);
      p.sequence = seq;
      for (int ttl : {1, 2, 64, 255}) {
        p.ttl = static_cast<std::uint8_t>(ttl);
        EXPECT_TRUE(TcpChecksumValid(BuildSynProbe(p))) << v6 << " " << seq << " " << ttl;
      }
    }
  }
}

TEST(TcpProbeTest, TcpChecksumFunctionAgreesWithTheNaiveSum) {
  std::vector<std::uint8_t> b = BuildSynProbe(Sample(false));
  std::vector<std::uint8_t> segment(b.begin() + 20, b.end());
  // Over a segment that already holds its checksum the result is 0.
  EXPECT_EQ(TcpChecksum(Ip("192.0.2.1"), Ip("198.51.100.7"), segment), 0);
  // Odd-length segments are padded with a zero byte (RFC 793).
  std::vector<std::uint8_t> odd = {0x12, 0x34, 0x56};
  std::uint16_t c = TcpChecksum(Ip("192.0.2.1"), Ip("198.51.100.7"), odd);
  std::vector<std::uint8_t> pseudo = {192, 0, 2, 1, 198,  51,   100,  7,
                                      0,   6, 0, 3, 0x12, 0x34, 0x56, 0};
  EXPECT_EQ(c, static_cast<std::uint16_t>(~SumWords(pseudo) & 0xffff));
}

// --- ProbeIdCodec ---------------------------------------------------------------------

TEST(ProbeIdCodecTest, RoundTripsEveryTtlAndAttempt) {
  for (std::uint32_t key : {0u, 0x288a0000u, 0xffffffffu, 0x9e3779b9u}) {
    ProbeIdCodec codec(key);
    for (std::uint16_t nonce : {std::uint16_t{0}, std::uint16_t{0x124f}, std::uint16_t{0xffff}}) {
      for (std::uint16_t slot : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{65535}}) {
        for (int ttl = 1; ttl <= 255; ++ttl) {
          for (int attempt : {0, 1, 2, 254, 255}) {
            ProbeId id{slot, static_cast<std::uint8_t>(ttl), static_cast<std::uint8_t>(attempt)};
            std::uint32_t seq = codec.Encode(id, nonce);
            ASSERT_EQ(codec.Decode(seq, nonce), id);
            ASSERT_EQ(codec.SlotOf(seq), slot);  // readable without the nonce
          }
        }
      }
    }
  }
}

TEST(ProbeIdCodecTest, DistinctProbesGetDistinctSequenceNumbers) {
  ProbeIdCodec codec(0x5a5a1234);
  std::set<std::uint32_t> seen;
  for (std::uint16_t slot : {std::uint16_t{7}, std::uint16_t{8}})
    for (int ttl = 1; ttl <= 30; ++ttl)
      for (int attempt = 0; attempt < 8; ++attempt)
        seen.insert(codec.Encode(
            {slot, static_cast<std::uint8_t>(ttl), static_cast<std::uint8_t>(attempt)}, 0x4242));
  EXPECT_EQ(seen.size(), 2u * 30 * 8);
}

TEST(ProbeIdCodecTest, ADifferentNonceDecodesToADifferentProbe) {
  // A late reply to the previous trace in the same slot must not pass for a probe
  // of the current one.
  ProbeIdCodec codec(0x288a0000);
  for (int ttl = 1; ttl <= 30; ++ttl) {
    ProbeId id{3, static_cast<std::uint8_t>(ttl), 0};
    std::uint32_t seq = codec.Encode(id, 0x124f);
    for (std::uint16_t other :
         {std::uint16_t{0x124e}, std::uint16_t{0x0000}, std::uint16_t{0x0100}}) {
      ProbeId decoded = codec.Decode(seq, other);
      EXPECT_EQ(decoded.slot, 3);
      EXPECT_NE(decoded, id) << ttl << " " << other;
    }
  }
}

TEST(ProbeIdCodecTest, CapturedTraceDecodesToTtlOneThenTtlSeven) {
  // In the lab capture the first v4 probe (TTL 1) had sequence 0x288a134f and the
  // SYN-ACK acknowledged 0x288a1550 (TTL 7, attempt 0). Key 0x288a0000 with nonce
  // 0x124f is one (key, nonce) pair that produces both, for slot 0.
  ProbeIdCodec codec(0x288a0000);
  EXPECT_EQ(codec.Decode(0x288a134f, 0x124f), (ProbeId{0, 1, 0}));
  EXPECT_EQ(codec.Decode(0x288a1550 - 1, 0x124f), (ProbeId{0, 7, 0}));
}

}  // namespace
}  // namespace portpath::packet
