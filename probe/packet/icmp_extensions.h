#pragma once
/// Decodes the RFC 4950 MPLS label stack that MPLS routers append to ICMP
/// time-exceeded and destination-unreachable messages as an RFC 4884 multi-part
/// extension. Tells which labels our probe carried where it expired, so a trace
/// through an MPLS core shows the tunnel instead of a run of unexplained hops.
/// Pure and thread-safe.

#include <cstdint>
#include <vector>

#include "probe/packet/bytes.h"

namespace portpath::packet {

/// One MPLS label stack entry (RFC 3032) as quoted by the router.
struct MplsLabel {
  /// The 20-bit label value.
  std::uint32_t label = 0;
  /// The 3-bit traffic class (RFC 5462; "EXP" in RFC 3032 and RFC 4950).
  std::uint8_t tc = 0;
  /// The S bit: set on the last entry of the stack.
  bool bottom_of_stack = false;
  /// The entry's TTL when the packet reached the router (usually 1 on the top
  /// entry of a time-exceeded).
  std::uint8_t ttl = 0;

  bool operator==(const MplsLabel&) const = default;
};

/// The label stack entries of every MPLS Label Stack object (class-num 1,
/// c-type 1) in the ICMP extension structure of `icmp_message`, top of stack
/// first. `icmp_message` starts at the ICMP/ICMPv6 header and ends where the IP
/// packet ends; `v6` says which of the two it is.
///
/// Only message types with an RFC 4884 length attribute are examined (ICMPv4
/// unreachable, time-exceeded and parameter-problem; ICMPv6 unreachable and
/// time-exceeded). The extension structure is found from the length attribute
/// (ICMPv4: byte 5, in 32-bit words; ICMPv6: byte 4, in 64-bit words), or, when
/// it is zero, at 128 bytes into the original-datagram field as pre-RFC 4884
/// routers put it (RFC 4884 section 5.5). Objects of other classes are skipped.
/// Empty when there is no extension structure, it is not version 2, its
/// checksum does not verify, or any object is malformed: partial stacks are
/// never returned.
std::vector<MplsLabel> DecodeMplsExtensions(Bytes icmp_message, bool v6);

}  // namespace portpath::packet
