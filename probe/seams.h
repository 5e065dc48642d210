#pragma once
/// The engine's only contact with the outside world: a clock, a packet sender
/// and a packet source. The real ones live in probe/io/; tests use fakes.

#include <functional>

#include "probe/packet/bytes.h"
#include "probe/packet/ip_address.h"
#include "probe/trace.h"

namespace portpath::probe {

/// Wall-clock time. The engine uses the system clock domain because capture
/// timestamps (libpcap) are wall-clock too, and RTTs subtract one from the other.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint Now() = 0;
};

class PacketSender {
 public:
  virtual ~PacketSender() = default;
  /// Sends a complete IP packet. Returns 0 or an errno value.
  virtual int Send(const packet::IpAddress& destination, packet::Bytes ip_packet) = 0;
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  using Handler = std::function<void(packet::Bytes ip_packet, TimePoint received)>;
  /// Waits up to max_wait for packets and hands each one (starting at its IP
  /// header) to the handler with its receive time. Frames that are not IP are
  /// reported through link_drops().
  virtual void Poll(Duration max_wait, const Handler& handler) = 0;
  virtual std::uint64_t link_drops() const { return 0; }
};

}  // namespace portpath::probe
