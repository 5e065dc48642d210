#pragma once
/// Builds the ICMP / ICMPv6 echo request probe as a complete IP packet. Pure.
///
/// Paris rule for ICMP: per-flow load balancers that hash on the first bytes of
/// the transport header see type, code and checksum, so the checksum must stay
/// the same for every probe of a trace while the sequence number (which carries
/// the probe id) changes. A 16-bit payload word compensates for the sequence.

#include <cstdint>
#include <vector>

#include "probe/packet/ip_address.h"

namespace portpath::packet {

struct EchoProbe {
  IpAddress source;
  IpAddress destination;
  std::uint16_t identifier = 0;  // constant per trace
  std::uint16_t sequence = 0;    // carries the probe id
  std::uint8_t ttl = 0;
  std::uint16_t ip_id = 0;
  std::uint32_t flow_label = 0;
  /// The ICMP checksum every probe of the trace carries.
  std::uint16_t checksum = 0;
};

std::vector<std::uint8_t> BuildEchoProbe(const EchoProbe& probe);

}  // namespace portpath::packet
