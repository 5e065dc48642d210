#include "probe/packet/reply.h"

namespace portpath::packet {
namespace {

constexpr std::uint8_t kIcmpUnreach = 3, kIcmpTimeExceeded = 11;
constexpr std::uint8_t kIcmp6Unreach = 1, kIcmp6TimeExceeded = 3;
constexpr std::uint8_t kIcmpEchoRequest = 8, kIcmpEchoReply = 0;
constexpr std::uint8_t kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;
constexpr std::uint8_t kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;

struct IpHeader {
  IpAddress source;
  IpAddress destination;
  std::uint8_t protocol = 0;  // after walking IPv6 extension headers
  std::uint8_t ttl = 0;
  Bytes payload;
};

// Parses an IP header. For a quoted header `quoted` relaxes the length check:
// routers quote only the start of our packet, so its total length exceeds what
// we hold.
std::variant<IpHeader, DropReason> ParseIp(Bytes data, bool quoted) {
  ByteReader r(data);
  auto first = r.u8();
  if (!first) return DropReason::kTruncated;
  IpHeader h;
  if ((*first >> 4) == 4) {
    std::size_t ihl = static_cast<std::size_t>(*first & 0x0f) * 4;
    if (ihl < 20) return DropReason::kBadHeader;
    if (data.size() < ihl) return quoted ? DropReason::kQuoteTruncated : DropReason::kTruncated;
    r.skip(1);
    std::uint16_t total = *r.u16();
    r.skip(2);
    std::uint16_t frag = *r.u16();
    h.ttl = *r.u8();
    h.protocol = *r.u8();
    r.skip(2);
    h.source = IpAddress::FromBytes(Family::kIpv4, r.bytes(4)->data());
    h.destination = IpAddress::FromBytes(Family::kIpv4, r.bytes(4)->data());
    if ((frag & 0x1fff) != 0) return DropReason::kBadHeader;  // not the first fragment
    std::size_t end = data.size();
    if (!quoted) {
      if (total < ihl || total > data.size()) return DropReason::kTruncated;
      end = total;  // drop Ethernet padding
    }
    h.payload = data.subspan(ihl, end - ihl);
    return h;
  }
  if ((*first >> 4) == 6) {
    if (data.size() < 40) return quoted ? DropReason::kQuoteTruncated : DropReason::kTruncated;
    r.skip(3);
    std::uint16_t payload_length = *r.u16();
    std::uint8_t next = *r.u8();
    h.ttl = *r.u8();
    h.source = IpAddress::FromBytes(Family::kIpv6, r.bytes(16)->data());
    h.destination = IpAddress::FromBytes(Family::kIpv6, r.bytes(16)->data());
    Bytes rest = r.rest();
    if (!quoted) {
      if (payload_length > rest.size()) return DropReason::kTruncated;
      rest = rest.first(payload_length);
    }
    // Walk extension headers (hop-by-hop, routing, destination options,
    // fragment) to reach the upper-layer protocol.
    for (int guard = 0; guard < 8; ++guard) {
      if (next == 0 || next == 43 || next == 60) {
        ByteReader ext(rest);
        auto nh = ext.u8();
        auto len = ext.u8();
        if (!nh || !len) return quoted ? DropReason::kQuoteTruncated : DropReason::kTruncated;
        std::size_t size = (std::size_t{*len} + 1) * 8;
        if (rest.size() < size)
          return quoted ? DropReason::kQuoteTruncated : DropReason::kTruncated;
        next = *nh;
        rest = rest.subspan(size);
      } else if (next == 44) {
        if (rest.size() < 8) return quoted ? DropReason::kQuoteTruncated : DropReason::kTruncated;
        std::uint16_t offset = static_cast<std::uint16_t>((rest[2] << 8 | rest[3]) & 0xfff8);
        if (offset != 0) return DropReason::kBadHeader;
        next = rest[0];
        rest = rest.subspan(8);
      } else {
        break;
      }
    }
    h.protocol = next;
    h.payload = rest;
    return h;
  }
  return DropReason::kBadHeader;
}

DecodeResult DecodeIcmpError(const IpHeader& outer, ReplyType type, std::uint8_t icmp_type,
                             std::uint8_t code, Bytes quote) {
  auto parsed = ParseIp(quote, /*quoted=*/true);
  if (auto* reason = std::get_if<DropReason>(&parsed)) return *reason;
  const IpHeader& inner = std::get<IpHeader>(parsed);
  if (inner.source.family() != outer.source.family()) return DropReason::kBadHeader;
  std::uint8_t icmp_proto = inner.source.is_v6() ? kProtoIcmp6 : kProtoIcmp;
  ProbeFlow flow;
  flow.source = inner.source;
  flow.destination = inner.destination;
  flow.protocol = inner.protocol;
  // RFC 792 guarantees the first 8 bytes of the quoted transport header: for
  // TCP the ports and sequence number, for an echo its identifier and sequence.
  ByteReader quoted(inner.payload);
  if (inner.protocol == kProtoTcp) {
    auto sport = quoted.u16();
    auto dport = quoted.u16();
    auto seq = quoted.u32();
    if (!sport || !dport || !seq) return DropReason::kQuoteTruncated;
    flow.source_port = *sport;
    flow.destination_port = *dport;
    flow.sequence = *seq;
  } else if (inner.protocol == icmp_proto) {
    auto qtype = quoted.u8();
    bool skipped = quoted.skip(3);  // code, checksum
    auto id = quoted.u16();
    auto seq = quoted.u16();
    if (!qtype || !skipped || !id || !seq) return DropReason::kQuoteTruncated;
    if (*qtype != (inner.source.is_v6() ? kIcmp6EchoRequest : kIcmpEchoRequest))
      return DropReason::kQuoteNotTcp;
    flow.source_port = *id;
    flow.sequence = (std::uint32_t{*id} << 16) | *seq;
  } else {
    return DropReason::kQuoteNotTcp;
  }
  Reply reply;
  reply.type = type;
  reply.from = outer.source;
  reply.reply_ttl = outer.ttl;
  reply.icmp_type = icmp_type;
  reply.icmp_code = code;
  reply.probe = flow;
  reply.quoted_ttl = inner.ttl;
  return reply;
}

// An echo reply answers an echo probe that reached the destination.
DecodeResult DecodeEchoReply(const IpHeader& outer) {
  ByteReader r(outer.payload);
  r.skip(4);
  auto id = r.u16();
  auto seq = r.u16();
  if (!id || !seq) return DropReason::kTruncated;
  Reply reply;
  reply.type = ReplyType::kEchoReply;
  reply.from = outer.source;
  reply.reply_ttl = outer.ttl;
  reply.icmp_type = outer.source.is_v6() ? kIcmp6EchoReply : kIcmpEchoReply;
  reply.probe.source = outer.destination;
  reply.probe.destination = outer.source;
  reply.probe.source_port = *id;
  reply.probe.sequence = (std::uint32_t{*id} << 16) | *seq;
  reply.probe.protocol = outer.source.is_v6() ? kProtoIcmp6 : kProtoIcmp;
  return reply;
}

// ICMP checksums are computed in software by the sender's kernel (no offload
// for locally generated errors), so unlike TCP's they verify on capture: a
// message whose checksum fails is forged or corrupt, and never credited.
// ICMPv6 covers a pseudo-header (RFC 4443 section 2.3).
bool IcmpChecksumOk(const IpHeader& outer) {
  InternetChecksum sum;
  if (outer.source.is_v6()) {
    sum.add(outer.source.bytes());
    sum.add(outer.destination.bytes());
    sum.add_u32(static_cast<std::uint32_t>(outer.payload.size()));
    sum.add_u32(kProtoIcmp6);
  }
  sum.add(outer.payload);
  return sum.finish() == 0;
}

DecodeResult DecodeIcmp(const IpHeader& outer) {
  ByteReader r(outer.payload);
  auto type = r.u8();
  auto code = r.u8();
  // checksum and the 4-byte rest-of-header (unused / MTU / RFC 4884 length)
  if (!type || !code || !r.skip(6)) return DropReason::kTruncated;
  bool v6 = outer.source.is_v6();
  std::uint8_t te = v6 ? kIcmp6TimeExceeded : kIcmpTimeExceeded;
  std::uint8_t unreach = v6 ? kIcmp6Unreach : kIcmpUnreach;
  bool ours = *type == te || *type == unreach || *type == (v6 ? kIcmp6EchoReply : kIcmpEchoReply);
  if (ours && !IcmpChecksumOk(outer)) return DropReason::kBadChecksum;
  DecodeResult result;
  if (*type == te)
    result = DecodeIcmpError(outer, ReplyType::kTimeExceeded, *type, *code, r.rest());
  else if (*type == unreach)
    result = DecodeIcmpError(outer, ReplyType::kUnreachable, *type, *code, r.rest());
  else if (*type == (v6 ? kIcmp6EchoReply : kIcmpEchoReply))
    return DecodeEchoReply(outer);
  else
    return DropReason::kUnrelatedIcmp;
  // Malformed extensions only cost the labels: the reply itself stays credited.
  if (auto* reply = std::get_if<Reply>(&result))
    reply->mpls = DecodeMplsExtensions(outer.payload, v6);
  return result;
}

DecodeResult DecodeTcp(const IpHeader& outer) {
  ByteReader r(outer.payload);
  auto sport = r.u16();
  auto dport = r.u16();
  auto seq = r.u32();
  auto ack = r.u32();
  auto offset = r.u8();
  auto flags = r.u8();
  if (!sport || !dport || !seq || !ack || !offset || !flags) return DropReason::kTruncated;
  // TCP checksums are not verified: across veth and with offload the captured
  // checksum is often partial. The 32-bit acknowledgement must echo our
  // sequence number instead, which a stray packet cannot do by chance.
  bool syn_ack = (*flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck) && !(*flags & kTcpRst);
  bool rst = (*flags & kTcpRst) && (*flags & kTcpAck);
  if (!syn_ack && !rst) return DropReason::kUnrelatedTcp;
  Reply reply;
  reply.type = syn_ack ? ReplyType::kSynAck : ReplyType::kRst;
  reply.from = outer.source;
  reply.reply_ttl = outer.ttl;
  // Our SYN consumed one sequence number, so the reply acknowledges seq + 1.
  reply.probe = ProbeFlow{outer.destination, outer.source, *dport, *sport, *ack - 1, kProtoTcp};
  return reply;
}

}  // namespace

std::string_view ToString(DropReason reason) {
  switch (reason) {
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kBadHeader:
      return "bad_header";
    case DropReason::kUnrelatedIcmp:
      return "unrelated_icmp";
    case DropReason::kQuoteNotTcp:
      return "quote_not_tcp";
    case DropReason::kQuoteTruncated:
      return "quote_truncated";
    case DropReason::kUnrelatedTcp:
      return "unrelated_tcp";
    case DropReason::kNoSuchTrace:
      return "no_such_trace";
    case DropReason::kFlowMismatch:
      return "flow_mismatch";
    case DropReason::kUnknownProbe:
      return "unknown_probe";
    case DropReason::kDuplicate:
      return "duplicate";
    case DropReason::kLinkLayer:
      return "link_layer";
    case DropReason::kBadChecksum:
      return "bad_checksum";
    case DropReason::kCaptureOverflow:
      return "capture_overflow";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

DecodeResult DecodeReply(Bytes ip_packet) {
  auto parsed = ParseIp(ip_packet, /*quoted=*/false);
  if (auto* reason = std::get_if<DropReason>(&parsed)) return *reason;
  const IpHeader& outer = std::get<IpHeader>(parsed);
  if (outer.protocol == kProtoTcp) return DecodeTcp(outer);
  if (outer.protocol == (outer.source.is_v6() ? kProtoIcmp6 : kProtoIcmp)) return DecodeIcmp(outer);
  return DropReason::kUnrelatedIcmp;
}

std::optional<Bytes> StripLinkLayer(LinkType link, Bytes frame) {
  ByteReader r(frame);
  std::optional<std::uint16_t> ethertype;
  switch (link) {
    case LinkType::kRaw:
    case LinkType::kRawAlt:
      return frame;
    case LinkType::kEthernet:
      if (!r.skip(12)) return std::nullopt;
      ethertype = r.u16();
      while (ethertype && (*ethertype == 0x8100 || *ethertype == 0x88a8)) {  // VLAN tags
        if (!r.skip(2)) return std::nullopt;
        ethertype = r.u16();
      }
      break;
    case LinkType::kLinuxSll:  // 16-byte cooked header, protocol last
      if (!r.skip(14)) return std::nullopt;
      ethertype = r.u16();
      break;
    case LinkType::kLinuxSll2:  // 20-byte cooked header, protocol first
      ethertype = r.u16();
      if (!r.skip(18)) return std::nullopt;
      break;
  }
  if (!ethertype || (*ethertype != 0x0800 && *ethertype != 0x86dd)) return std::nullopt;
  return r.rest();
}

}  // namespace portpath::packet
