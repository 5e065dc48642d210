#include "probe/packet/tcp_probe.h"

#include "probe/packet/bytes.h"

namespace portpath::packet {
namespace {

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kTcpFlagSyn = 0x02;
constexpr std::uint16_t kWindow = 64240;
constexpr std::uint16_t kMss = 1220;  // safe for IPv6 minimum MTU too

std::vector<std::uint8_t> TcpSyn(const SynProbe& p) {
  ByteWriter w;
  w.u16(p.source_port);
  w.u16(p.destination_port);
  w.u32(p.sequence);
  w.u32(0);                                                         // ack
  w.u8(static_cast<std::uint8_t>((kSynTcpHeaderLength / 4) << 4));  // data offset
  w.u8(kTcpFlagSyn);
  w.u16(kWindow);
  w.u16(0);  // checksum, patched below
  w.u16(0);  // urgent pointer
  w.u8(2);   // option: MSS
  w.u8(4);
  w.u16(kMss);
  w.put_u16_at(16, TcpChecksum(p.source, p.destination, w.data()));
  return w.take();
}

}  // namespace

std::uint16_t TcpChecksum(const IpAddress& src, const IpAddress& dst, Bytes segment) {
  InternetChecksum sum;
  sum.add(Bytes(src.bytes().data(), src.size()));
  sum.add(Bytes(dst.bytes().data(), dst.size()));
  if (src.is_v4()) {
    sum.add_u16(kProtoTcp);
    sum.add_u16(static_cast<std::uint16_t>(segment.size()));
  } else {
    sum.add_u32(static_cast<std::uint32_t>(segment.size()));
    sum.add_u32(kProtoTcp);
  }
  sum.add(segment);
  return sum.finish();
}

std::vector<std::uint8_t> BuildSynProbe(const SynProbe& p) {
  std::vector<std::uint8_t> tcp = TcpSyn(p);
  ByteWriter w;
  if (p.destination.is_v4()) {
    w.u8(0x45);  // version 4, IHL 5
    w.u8(0);     // DSCP/ECN
    w.u16(static_cast<std::uint16_t>(20 + tcp.size()));
    w.u16(p.ip_id);
    w.u16(0);  // no DF: a probe small enough never needs it
    w.u8(p.ttl);
    w.u8(kProtoTcp);
    w.u16(0);  // header checksum, patched below
    w.bytes(Bytes(p.source.bytes().data(), 4));
    w.bytes(Bytes(p.destination.bytes().data(), 4));
    InternetChecksum sum;
    sum.add(w.data());
    w.put_u16_at(10, sum.finish());
  } else {
    w.u32((6u << 28) | (p.flow_label & 0xfffff));
    w.u16(static_cast<std::uint16_t>(tcp.size()));
    w.u8(kProtoTcp);
    w.u8(p.ttl);
    w.bytes(Bytes(p.source.bytes().data(), 16));
    w.bytes(Bytes(p.destination.bytes().data(), 16));
  }
  w.bytes(tcp);
  return w.take();
}

}  // namespace portpath::packet
