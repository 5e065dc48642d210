// libFuzzer harness: a TCP segment or an ICMP/ICMPv6 message behind a well-formed IPv4 or IPv6
// header, so every mutation lands in the transport decoders (TCP flags and ack, ICMP types,
// the quoted IP header and transport header, RFC 4884 extensions) instead of being rejected by
// the outer header check that fuzz_ip_packet mostly exercises. The ICMP checksum is set right
// unless the selector says to keep the one in the input, so mutations get past the checksum
// check too.
//
// Input: one selector byte (bit 0: IPv6; bit 1: ICMP, else TCP; bit 2: keep the ICMP checksum
// as given; bits 3-7: the outer TTL's high bits), then the transport bytes.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "probe/packet/bytes.h"
#include "probe/packet/reply.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portpath::packet;
  if (size < 1 || size > 65000) return 0;
  const std::uint8_t selector = data[0];
  const bool v6 = selector & 1;
  const bool icmp = selector & 2;
  const bool keep_checksum = selector & 4;
  const std::uint8_t ttl = static_cast<std::uint8_t>(selector & 0xf8);
  std::vector<std::uint8_t> payload(data + 1, data + size);
  const std::uint8_t protocol = icmp ? (v6 ? kProtoIcmp6 : kProtoIcmp) : kProtoTcp;
  static const IpAddress kRouter4 = *IpAddress::Parse("203.0.113.5");
  static const IpAddress kUs4 = *IpAddress::Parse("10.0.0.1");
  static const IpAddress kRouter6 = *IpAddress::Parse("2001:db8:6::1");
  static const IpAddress kUs6 = *IpAddress::Parse("fd00::1");
  const IpAddress& from = v6 ? kRouter6 : kRouter4;
  const IpAddress& to = v6 ? kUs6 : kUs4;
  if (icmp && !keep_checksum) portpath::fuzz::SetIcmpChecksum(from, to, payload);

  ByteWriter w;
  if (!v6) {
    w.u8(0x45);
    w.u8(0);
    w.u16(static_cast<std::uint16_t>(20 + payload.size()));
    w.u32(0);  // identification, flags, fragment offset
    w.u8(ttl);
    w.u8(protocol);
    w.u16(0);
  } else {
    w.u32(6u << 28);
    w.u16(static_cast<std::uint16_t>(payload.size()));
    w.u8(protocol);
    w.u8(ttl);
  }
  w.bytes(Bytes(from.bytes().data(), from.size()));
  w.bytes(Bytes(to.bytes().data(), to.size()));
  w.bytes(payload);
  const std::vector<std::uint8_t> packet = w.take();
  auto result = DecodeReply(packet);
  portpath::fuzz::CheckDecoded(result);
  // Behind a well-formed outer header a TCP segment is either an answer, too short, or not a
  // SYN-ACK/RST: never a header problem.
  if (const auto* reason = std::get_if<DropReason>(&result); reason && !icmp)
    FUZZ_CHECK(*reason == DropReason::kTruncated || *reason == DropReason::kUnrelatedTcp);
  return 0;
}
