// libFuzzer harness: the encoders against the decoders. From fuzzed fields it builds a TCP SYN or
// ICMP echo probe (BuildSynProbe, BuildEchoProbe) and checks its checksums, then builds a reply
// to it the way a router or the destination would: an ICMP/ICMPv6 time-exceeded or unreachable
// quoting a prefix of the probe, optionally followed by an RFC 4884 extension structure with an
// RFC 4950 MPLS label stack (in the compliant or the legacy layout, after an object of another
// class or not); a SYN-ACK or RST; an echo reply. DecodeReply must give back exactly the flow,
// sequence, TTL and labels that went in, and MatchReply the probe id that was encoded.

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "probe/matcher.h"
#include "probe/packet/echo_probe.h"
#include "probe/packet/probe_id.h"
#include "probe/packet/reply.h"
#include "probe/packet/tcp_probe.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace portpath::packet;

IpAddress ConsumeAddress(FuzzedDataProvider& fdp, bool v6) {
  if (!v6) return IpAddress::V4(fdp.ConsumeIntegral<std::uint32_t>());
  std::array<std::uint8_t, 16> b{};
  for (auto& x : b) x = fdp.ConsumeIntegral<std::uint8_t>();
  return IpAddress::V6(b);
}

bool Verifies(Bytes data) {
  InternetChecksum sum;
  sum.add(data);
  return sum.finish() == 0;
}

// An outer IP header in front of `payload`, from `from` to `to`.
std::vector<std::uint8_t> WithIpHeader(const IpAddress& from, const IpAddress& to,
                                       std::uint8_t protocol, std::uint8_t ttl, Bytes payload) {
  ByteWriter w;
  if (from.is_v4()) {
    w.u8(0x45);
    w.u8(0);
    w.u16(static_cast<std::uint16_t>(20 + payload.size()));
    w.u32(0);
    w.u8(ttl);
    w.u8(protocol);
    w.u16(0);
    w.bytes(Bytes(from.bytes().data(), 4));
    w.bytes(Bytes(to.bytes().data(), 4));
  } else {
    w.u32(6u << 28);
    w.u16(static_cast<std::uint16_t>(payload.size()));
    w.u8(protocol);
    w.u8(ttl);
    w.bytes(Bytes(from.bytes().data(), 16));
    w.bytes(Bytes(to.bytes().data(), 16));
  }
  w.bytes(payload);
  return w.take();
}

// An ICMP error quoting `quote`, with an MPLS extension when `labels` is not empty.
std::vector<std::uint8_t> IcmpError(FuzzedDataProvider& fdp, bool v6, std::uint8_t type,
                                    std::uint8_t code, Bytes quote,
                                    const std::vector<MplsLabel>& labels) {
  std::vector<std::uint8_t> original(quote.begin(), quote.end());
  std::size_t length_attribute = 0;
  ByteWriter extension;
  if (!labels.empty()) {
    // RFC 4884: the original datagram is zero-padded to at least 128 bytes, a whole number of
    // 32-bit (ICMP) or 64-bit (ICMPv6) words; pre-RFC 4884 routers use exactly 128 and leave
    // the length attribute zero.
    const bool legacy = fdp.ConsumeBool();
    const std::size_t padded = legacy ? 128 : 128 + 8 * fdp.ConsumeIntegralInRange(0, 4);
    original.resize(padded, 0);
    length_attribute = legacy ? 0 : padded / (v6 ? 8 : 4);
    extension.u8(0x20);  // version 2
    extension.u8(0);
    extension.u16(0);         // checksum, patched below
    if (fdp.ConsumeBool()) {  // an object of another class first: skipped by the decoder
      const auto class_num = fdp.ConsumeIntegralInRange<std::uint8_t>(2, 255);
      const auto filler = fdp.ConsumeBytes<std::uint8_t>(fdp.ConsumeIntegralInRange(0, 16));
      extension.u16(static_cast<std::uint16_t>(4 + filler.size()));
      extension.u8(class_num);
      extension.u8(fdp.ConsumeIntegral<std::uint8_t>());
      extension.bytes(filler);
    }
    extension.u16(static_cast<std::uint16_t>(4 + 4 * labels.size()));
    extension.u8(1);  // MPLS Label Stack class
    extension.u8(1);  // incoming MPLS label stack
    for (const MplsLabel& l : labels) {
      extension.u32((l.label << 12) | (std::uint32_t{l.tc} << 9) |
                    (std::uint32_t{l.bottom_of_stack} << 8) | l.ttl);
    }
    InternetChecksum sum;
    sum.add(extension.data());
    extension.put_u16_at(2, sum.finish());
  }
  ByteWriter icmp;
  icmp.u8(type);
  icmp.u8(code);
  icmp.u16(0);  // checksum, set by the caller
  if (v6) {
    icmp.u8(static_cast<std::uint8_t>(length_attribute));
    icmp.u8(0);
    icmp.u16(0);
  } else {
    icmp.u8(0);
    icmp.u8(static_cast<std::uint8_t>(length_attribute));
    icmp.u16(fdp.ConsumeIntegral<std::uint16_t>());  // next-hop MTU, or unused
  }
  icmp.bytes(original);
  icmp.bytes(extension.data());
  return icmp.take();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  const bool v6 = fdp.ConsumeBool();
  const bool echo = fdp.ConsumeBool();
  const IpAddress source = ConsumeAddress(fdp, v6);
  const IpAddress destination = ConsumeAddress(fdp, v6);
  const IpAddress router = ConsumeAddress(fdp, v6);
  const ProbeIdCodec codec(fdp.ConsumeIntegral<std::uint32_t>());
  const std::uint16_t nonce = fdp.ConsumeIntegral<std::uint16_t>();
  const ProbeId id{fdp.ConsumeIntegral<std::uint16_t>(),
                   fdp.ConsumeIntegralInRange<std::uint8_t>(1, 255),
                   fdp.ConsumeIntegral<std::uint8_t>()};
  const std::uint32_t sequence = codec.Encode(id, nonce);
  const std::uint16_t source_port = fdp.ConsumeIntegral<std::uint16_t>();
  const std::uint16_t destination_port = fdp.ConsumeIntegral<std::uint16_t>();
  const std::uint16_t ip_id = fdp.ConsumeIntegral<std::uint16_t>();
  const std::uint32_t flow_label = fdp.ConsumeIntegral<std::uint32_t>();
  const std::size_t ip_header = v6 ? 40 : 20;
  const std::uint8_t icmp_proto = v6 ? kProtoIcmp6 : kProtoIcmp;

  // The probe, and the flow a reply about it must decode to.
  std::vector<std::uint8_t> probe;
  ProbeFlow flow;
  flow.source = source;
  flow.destination = destination;
  flow.sequence = sequence;
  if (!echo) {
    probe = BuildSynProbe(SynProbe{source, destination, source_port, destination_port, sequence,
                                   id.ttl, ip_id, flow_label});
    FUZZ_CHECK(probe.size() == ip_header + kSynTcpHeaderLength);
    FUZZ_CHECK(TcpChecksum(source, destination, Bytes(probe).subspan(ip_header)) == 0);
    flow.source_port = source_port;
    flow.destination_port = destination_port;
    flow.protocol = kProtoTcp;
  } else {
    const std::uint16_t checksum = fdp.ConsumeIntegral<std::uint16_t>();
    const auto identifier = static_cast<std::uint16_t>(sequence >> 16);
    probe = BuildEchoProbe(EchoProbe{source, destination, identifier,
                                     static_cast<std::uint16_t>(sequence), id.ttl, ip_id,
                                     flow_label, checksum});
    Bytes message = Bytes(probe).subspan(ip_header);
    // Paris rule: every echo of a trace carries the checksum it was given, and it is right.
    FUZZ_CHECK(message.size() >= 4 && ((message[2] << 8) | message[3]) == checksum);
    InternetChecksum sum;
    if (v6) {
      sum.add(Bytes(source.bytes().data(), 16));
      sum.add(Bytes(destination.bytes().data(), 16));
      sum.add_u32(static_cast<std::uint32_t>(message.size()));
      sum.add_u32(kProtoIcmp6);
    }
    sum.add(message);
    FUZZ_CHECK(sum.finish() == 0);
    flow.source_port = identifier;
    flow.destination_port = 0;
    flow.protocol = icmp_proto;
  }
  if (!v6) FUZZ_CHECK(Verifies(Bytes(probe).first(20)));

  // A reply about it.
  Reply expected;
  expected.probe = flow;
  expected.reply_ttl = fdp.ConsumeIntegral<std::uint8_t>();
  std::vector<std::uint8_t> reply;
  const int kind = fdp.ConsumeIntegralInRange(0, 2);
  if (kind == 0) {  // an ICMP error from a router, quoting the probe
    const bool time_exceeded = fdp.ConsumeBool();
    expected.type = time_exceeded ? ReplyType::kTimeExceeded : ReplyType::kUnreachable;
    expected.icmp_type = static_cast<std::uint8_t>(time_exceeded ? (v6 ? 3 : 11) : (v6 ? 1 : 3));
    expected.icmp_code = fdp.ConsumeIntegral<std::uint8_t>();
    expected.from = router;
    expected.quoted_ttl = id.ttl;
    // RFC 792 guarantees the IP header and 8 bytes of what follows; RFC 1812 routers send more.
    const std::size_t quote_length = fdp.ConsumeIntegralInRange(ip_header + 8, probe.size());
    const std::size_t label_count = fdp.ConsumeIntegralInRange(0, 4);
    for (std::size_t i = 0; i < label_count; ++i) {
      expected.mpls.push_back(MplsLabel{fdp.ConsumeIntegralInRange<std::uint32_t>(0, 0xfffff),
                                        fdp.ConsumeIntegralInRange<std::uint8_t>(0, 7),
                                        i + 1 == label_count, fdp.ConsumeIntegral<std::uint8_t>()});
    }
    auto icmp = IcmpError(fdp, v6, expected.icmp_type, expected.icmp_code,
                          Bytes(probe).first(quote_length), expected.mpls);
    portpath::fuzz::SetIcmpChecksum(router, source, icmp);
    reply = WithIpHeader(router, source, icmp_proto, expected.reply_ttl, icmp);
  } else if (!echo) {  // a SYN-ACK or RST from the destination
    const bool syn_ack = kind == 1;
    expected.type = syn_ack ? ReplyType::kSynAck : ReplyType::kRst;
    expected.from = destination;
    ByteWriter tcp;
    tcp.u16(destination_port);
    tcp.u16(source_port);
    tcp.u32(fdp.ConsumeIntegral<std::uint32_t>());
    tcp.u32(sequence + 1);  // our SYN took one sequence number
    tcp.u8(0x50);
    tcp.u8(syn_ack ? 0x12 : 0x14);
    tcp.u16(fdp.ConsumeIntegral<std::uint16_t>());  // window
    tcp.u32(0);                                     // checksum, urgent pointer
    reply = WithIpHeader(destination, source, kProtoTcp, expected.reply_ttl, tcp.data());
  } else {  // an echo reply from the destination
    expected.type = ReplyType::kEchoReply;
    expected.from = destination;
    expected.icmp_type = v6 ? 129 : 0;
    ByteWriter icmp;
    icmp.u8(expected.icmp_type);
    icmp.u8(0);
    icmp.u16(0);         // checksum, set below
    icmp.u32(sequence);  // identifier, sequence
    icmp.bytes(fdp.ConsumeBytes<std::uint8_t>(fdp.ConsumeIntegralInRange(0, 8)));
    std::vector<std::uint8_t> message = icmp.take();
    portpath::fuzz::SetIcmpChecksum(destination, source, message);
    reply = WithIpHeader(destination, source, icmp_proto, expected.reply_ttl, message);
  }

  auto decoded = DecodeReply(reply);
  portpath::fuzz::CheckDecoded(decoded);
  const auto* got = std::get_if<Reply>(&decoded);
  if (got == nullptr) {
    std::fprintf(stderr, "dropped as %s\n",
                 std::string(ToString(std::get<DropReason>(decoded))).c_str());
  }
  FUZZ_CHECK(got != nullptr);
  FUZZ_CHECK(got->type == expected.type);
  FUZZ_CHECK(got->from == expected.from);
  FUZZ_CHECK(got->reply_ttl == expected.reply_ttl);
  FUZZ_CHECK(got->icmp_type == expected.icmp_type);
  FUZZ_CHECK(got->icmp_code == expected.icmp_code);
  FUZZ_CHECK(got->probe.source == expected.probe.source);
  FUZZ_CHECK(got->probe.destination == expected.probe.destination);
  FUZZ_CHECK(got->probe.source_port == expected.probe.source_port);
  FUZZ_CHECK(got->probe.destination_port == expected.probe.destination_port);
  FUZZ_CHECK(got->probe.sequence == expected.probe.sequence);
  FUZZ_CHECK(got->probe.protocol == expected.probe.protocol);
  FUZZ_CHECK(got->quoted_ttl == expected.quoted_ttl);
  FUZZ_CHECK(got->mpls == expected.mpls);

  // The trace's flow, as the engine registers it, gets the probe id back.
  portpath::probe::FlowTable table;
  table.Insert(id.slot,
               portpath::probe::Flow{source, destination, source_port, destination_port, nonce,
                                     kProtoTcp, true, static_cast<std::uint16_t>(sequence >> 16)});
  auto match = portpath::probe::MatchReply(table, codec, *got);
  const auto* matched = std::get_if<ProbeId>(&match);
  FUZZ_CHECK(matched != nullptr);
  FUZZ_CHECK(*matched == id);
  return 0;
}
