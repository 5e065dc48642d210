#pragma once
/// The engine's only contact with the outside world: a clock and a probe
/// transport. Two transports exist: packet-level (a PacketSender and a
/// PacketSource, with the matcher in between: probe/packet_transport.h) and the
/// unprivileged connect() one (probe/io/connect_transport.h). The real ones live
/// in probe/io/; tests use fakes of either level.

#include <cstdint>
#include <functional>
#include <variant>

#include "probe/matcher.h"
#include "probe/packet/bytes.h"
#include "probe/packet/ip_address.h"
#include "probe/packet/probe_id.h"
#include "probe/packet/reply.h"
#include "probe/trace.h"
#include "probe/trace_result.h"

namespace portpath::probe {

/// Wall-clock time. The engine uses the system clock domain because capture
/// timestamps (libpcap, SO_TIMESTAMPNS) are wall-clock too, and RTTs subtract
/// one from the other.
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
  /// Packets lost unread because the capture buffer was full (cumulative).
  virtual std::uint64_t capture_drops() const { return 0; }
};

/// One probe the engine wants sent: which probe of which trace, and what kind.
struct ProbeSpec {
  packet::ProbeId id;  // slot (the trace), TTL, attempt
  ProbeKind kind = ProbeKind::kTcpSyn;
  /// The trace's timeout: a transport that holds state per probe (a socket)
  /// may let it go once this has passed.
  Duration timeout{};
};

/// What a transport hands back: an answer credited to one probe, or a packet
/// credited to none (counted by reason).
struct ProbeEvent {
  std::variant<packet::ProbeId, packet::DropReason> probe;
  /// The answer (meaningful with a ProbeId). reply_ttl 0 means the transport
  /// could not see the reply's TTL; quoted_ttl is empty when it could not see
  /// the quoted header.
  packet::Reply reply;
  TimePoint received{};
};

/// Probe-level transport: sends probes by identity and reports answers by
/// identity, so the engine and the trace state machine run unchanged over raw
/// packets or over kernel sockets. Not thread-safe (owned by the probe loop).
class ProbeTransport {
 public:
  virtual ~ProbeTransport() = default;
  virtual ProbeMode mode() const = 0;
  /// Whether ICMP echo probes can go to destinations of this family. Without
  /// them the engine runs traces with TraceSettings::echo off.
  virtual bool SupportsEcho(bool v6) const = 0;
  /// A trace starts on `slot` with this flow (the slot is free until then).
  virtual void BeginTrace(std::uint16_t slot, const Flow& flow) = 0;
  /// The trace on `slot` is over: answers to its probes from now on must not
  /// be credited to the next trace on that slot.
  virtual void EndTrace(std::uint16_t slot) = 0;
  /// Sends one probe of a begun trace. Returns 0 or an errno value; ENOBUFS
  /// and EAGAIN mean "not now, try again later" (no probe went out).
  virtual int Send(const ProbeSpec& probe) = 0;
  using Handler = std::function<void(const ProbeEvent& event)>;
  /// Waits up to max_wait for answers and hands each one to the handler.
  virtual void Poll(Duration max_wait, const Handler& handler) = 0;
  /// Frames received that were not IP at all (packet transports).
  virtual std::uint64_t link_drops() const { return 0; }
  /// Packets lost unread because the capture buffer was full (packet
  /// transports; cumulative). Any of them may have been an answer.
  virtual std::uint64_t capture_drops() const { return 0; }
};

}  // namespace portpath::probe
