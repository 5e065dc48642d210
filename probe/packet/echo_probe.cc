#include "probe/packet/echo_probe.h"

#include "probe/packet/bytes.h"
#include "probe/packet/reply.h"

namespace portpath::packet {
namespace {

// One's-complement 16-bit arithmetic, for the compensation word.
std::uint16_t OnesAdd(std::uint32_t a, std::uint32_t b) {
  std::uint32_t s = a + b;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

}  // namespace

std::vector<std::uint8_t> BuildEchoProbe(const EchoProbe& p) {
  bool v6 = p.destination.is_v6();
  ByteWriter icmp;
  icmp.u8(v6 ? 128 : 8);  // echo request
  icmp.u8(0);
  icmp.u16(0);  // checksum, set below
  icmp.u16(p.identifier);
  icmp.u16(p.sequence);
  icmp.u16(0);  // compensation word, set below
  // The checksum with a zero word is ~S; choosing word w makes it ~(S + w).
  // We want ~(S + w) == checksum, so w = ~checksum - S (one's complement).
  InternetChecksum sum;
  if (v6) {  // ICMPv6 covers a pseudo-header (RFC 4443)
    sum.add(Bytes(p.source.bytes().data(), 16));
    sum.add(Bytes(p.destination.bytes().data(), 16));
    sum.add_u32(static_cast<std::uint32_t>(icmp.size()));
    sum.add_u32(kProtoIcmp6);
  }
  sum.add(icmp.data());
  std::uint16_t partial = static_cast<std::uint16_t>(~sum.finish());  // S, folded
  std::uint16_t word =
      OnesAdd(static_cast<std::uint16_t>(~p.checksum), static_cast<std::uint16_t>(~partial));
  icmp.put_u16_at(8, word);
  icmp.put_u16_at(2, p.checksum);

  ByteWriter w;
  if (!v6) {
    w.u8(0x45);
    w.u8(0);
    w.u16(static_cast<std::uint16_t>(20 + icmp.size()));
    w.u16(p.ip_id);
    w.u16(0);
    w.u8(p.ttl);
    w.u8(kProtoIcmp);
    w.u16(0);
    w.bytes(Bytes(p.source.bytes().data(), 4));
    w.bytes(Bytes(p.destination.bytes().data(), 4));
    InternetChecksum ip;
    ip.add(w.data());
    w.put_u16_at(10, ip.finish());
  } else {
    w.u32((6u << 28) | (p.flow_label & 0xfffff));
    w.u16(static_cast<std::uint16_t>(icmp.size()));
    w.u8(kProtoIcmp6);
    w.u8(p.ttl);
    w.bytes(Bytes(p.source.bytes().data(), 16));
    w.bytes(Bytes(p.destination.bytes().data(), 16));
  }
  w.bytes(icmp.data());
  return w.take();
}

}  // namespace portpath::packet
