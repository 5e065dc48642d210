#pragma once
/// Helpers shared by the libFuzzer harnesses: a check that survives NDEBUG (the fuzz build is
/// RelWithDebInfo), the invariants every decoded reply must hold whatever bytes it came from,
/// and the ICMP checksum a harness sets on the messages it builds.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <variant>
#include <vector>

#include "probe/packet/bytes.h"
#include "probe/packet/ip_address.h"
#include "probe/packet/reply.h"

/// Aborts with the failed condition, so libFuzzer saves the input as a crash.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace portpath::fuzz {

/// What DecodeReply promises about any Reply: one address family throughout, a TCP flow for a
/// SYN-ACK or RST, MPLS labels only on ICMP errors, and labels that fit their RFC 3032 fields.
inline void CheckDecoded(const packet::DecodeResult& result) {
  if (const auto* reason = std::get_if<packet::DropReason>(&result)) {
    FUZZ_CHECK(*reason < packet::DropReason::kCount);
    return;
  }
  const auto& reply = std::get<packet::Reply>(result);
  FUZZ_CHECK(reply.probe.source.family() == reply.from.family());
  FUZZ_CHECK(reply.probe.destination.family() == reply.from.family());
  bool from_destination = reply.type == packet::ReplyType::kSynAck ||
                          reply.type == packet::ReplyType::kRst ||
                          reply.type == packet::ReplyType::kEchoReply;
  if (reply.type == packet::ReplyType::kSynAck || reply.type == packet::ReplyType::kRst)
    FUZZ_CHECK(reply.probe.protocol == packet::kProtoTcp);
  if (from_destination) {
    FUZZ_CHECK(reply.probe.destination == reply.from);
    FUZZ_CHECK(reply.mpls.empty());
    FUZZ_CHECK(!reply.quoted_ttl.has_value());
  } else {
    FUZZ_CHECK(reply.quoted_ttl.has_value());
  }
  for (const auto& label : reply.mpls) {
    FUZZ_CHECK(label.label < (1u << 20));
    FUZZ_CHECK(label.tc < 8);
  }
}

/// Sets the checksum (bytes 2-3) of an ICMP or ICMPv6 message sent from `from` to `to`, so that
/// a harness's mutations reach the decoder behind the checksum check (RFC 4443: ICMPv6 covers a
/// pseudo-header).
inline void SetIcmpChecksum(const packet::IpAddress& from, const packet::IpAddress& to,
                            std::vector<std::uint8_t>& message) {
  if (message.size() < 4) return;
  message[2] = message[3] = 0;
  packet::InternetChecksum sum;
  if (from.is_v6()) {
    sum.add(packet::Bytes(from.bytes().data(), 16));
    sum.add(packet::Bytes(to.bytes().data(), 16));
    sum.add_u32(static_cast<std::uint32_t>(message.size()));
    sum.add_u32(packet::kProtoIcmp6);
  }
  sum.add(message);
  const std::uint16_t checksum = sum.finish();
  message[2] = static_cast<std::uint8_t>(checksum >> 8);
  message[3] = static_cast<std::uint8_t>(checksum);
}

}  // namespace portpath::fuzz
