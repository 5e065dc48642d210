#pragma once
/// Builds the TCP SYN probe as a complete IPv4 or IPv6 packet (header included),
/// ready for a raw socket with header inclusion. Pure: no sockets.

#include <cstdint>
#include <vector>

#include "probe/packet/bytes.h"
#include "probe/packet/ip_address.h"

namespace portpath::packet {

struct SynProbe {
  IpAddress source;
  IpAddress destination;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence = 0;
  std::uint8_t ttl = 0;
  /// IPv4 identification; constant per trace (see probe_id.h).
  std::uint16_t ip_id = 0;
  /// IPv6 flow label (20 bits); constant per trace.
  std::uint32_t flow_label = 0;
};

/// Size of the TCP header we send: 20 bytes plus a 4-byte MSS option, because
/// some firewalls drop option-less SYNs as scans.
inline constexpr std::size_t kSynTcpHeaderLength = 24;

/// Returns the IP packet. The TCP checksum covers the pseudo-header, so source
/// and destination must be of the same family.
std::vector<std::uint8_t> BuildSynProbe(const SynProbe& probe);

/// One's-complement checksum of a TCP segment with its IPv4/IPv6 pseudo-header.
std::uint16_t TcpChecksum(const IpAddress& src, const IpAddress& dst, Bytes segment);

}  // namespace portpath::packet
