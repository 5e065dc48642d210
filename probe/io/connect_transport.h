#pragma once
/// The unprivileged transport (what `traceroute -M tcpconn` does): no raw
/// socket and no capture, so no CAP_NET_RAW. Each TCP probe is a non-blocking
/// socket of its own with the probe's TTL (IP_TTL / IPV6_UNICAST_HOPS) and the
/// IP_RECVERR / IPV6_RECVERR error queue, and a connect():
///
///   connect() succeeds          -> SYN-ACK from the destination (port open)
///   ECONNREFUSED                -> RST from the destination (port closed)
///   an ICMP error on the queue  -> time-exceeded / unreachable; the router is
///                                  SO_EE_OFFENDER, ee_type/ee_code the ICMP
///                                  type/code, the cmsg IP_TTL its reply TTL
///   nothing                     -> silence
///
/// ICMP echo probes use unprivileged ping sockets (SOCK_DGRAM, IPPROTO_ICMP or
/// IPPROTO_ICMPV6), one per probe, with the same TTL and error queue, where
/// net.ipv4.ping_group_range lets this process's group open them; otherwise
/// SupportsEcho() is false and the engine runs without echoes.
///
/// What it cannot do, compared with the raw transport: a probe's identity
/// cannot live in the packet (the kernel picks the sequence number and the
/// source port), so an answer is credited to the probe whose socket it arrived
/// on; that the answer is about that socket's SYN is the kernel's check (it
/// matches the quoted ports and sequence number to the socket before it queues
/// the error). The quoted IP header is not visible (quoted_ttl stays empty),
/// nor the TTL of a SYN-ACK or RST (reply_ttl 0), nor RFC 4950 MPLS labels.
/// Every probe has its own source port, so per-flow load balancers may send
/// the TTLs of one trace along different paths (no Paris traceroute, no ECMP
/// flows). An open port's application sees a connection, reset at once
/// (SO_LINGER 0). A SYN socket is closed after at most kMaxSynLifetime, before
/// the kernel would retransmit the SYN (1 s): slower answers are lost.
///
/// Not thread-safe: the probe loop owns it.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "probe/io/fd.h"
#include "probe/seams.h"

namespace portpath::io {

class ConnectTransport : public probe::ProbeTransport {
 public:
  /// A SYN socket lives at most this long (the kernel's first SYN
  /// retransmission comes at 1 s and would be a second probe).
  static constexpr probe::Duration kMaxSynLifetime = std::chrono::milliseconds(900);

  /// Opens the epoll set, raises the open-files limit to its hard limit (one
  /// descriptor per outstanding probe) and checks whether ping sockets may be
  /// opened. `interface`: SO_BINDTODEVICE on every probe socket. Throws
  /// IoError when epoll cannot be had.
  ConnectTransport(const std::optional<std::string>& interface, probe::TimeSource& clock);

  probe::ProbeMode mode() const override { return probe::ProbeMode::kConnect; }
  bool SupportsEcho(bool v6) const override { return v6 ? echo_v6_ : echo_v4_; }
  void BeginTrace(std::uint16_t slot, const probe::Flow& flow) override;
  void EndTrace(std::uint16_t slot) override;
  /// EAGAIN when descriptors or ephemeral ports run short (the engine tries
  /// again later); other errno values are local errors (no route...).
  int Send(const probe::ProbeSpec& probe) override;
  void Poll(probe::Duration max_wait, const Handler& handler) override;

  /// Why ICMP echo probes are not available (empty when they are), for the
  /// notice that says what this mode can see.
  const std::string& echo_unavailable_reason() const { return echo_reason_; }
  /// Probe sockets open right now (for tests: none leak).
  std::size_t open_sockets() const { return probes_.size(); }

 private:
  struct Outstanding {
    Fd fd;
    packet::ProbeId id;
    probe::ProbeKind kind = probe::ProbeKind::kTcpSyn;
    std::uint16_t echo_sequence = 0;
  };
  struct TraceInfo {
    probe::Flow flow;
    std::vector<std::uint64_t> tokens;  // its probes' sockets (some may be gone)
  };

  int SendSyn(const TraceInfo& trace, const probe::ProbeSpec& spec, Outstanding& out);
  int SendEcho(const TraceInfo& trace, const probe::ProbeSpec& spec, Outstanding& out);
  /// Reads what a ready socket says; true when the probe is finished with.
  bool Drain(Outstanding& probe, std::uint32_t events, std::vector<probe::ProbeEvent>& out);
  void Close(std::uint64_t token);

  probe::TimeSource& clock_;
  std::optional<std::string> interface_;
  Fd epoll_;
  bool echo_v4_ = false;
  bool echo_v6_ = false;
  std::string echo_reason_;
  std::size_t max_sockets_ = 0;
  std::uint64_t next_token_ = 1;
  std::unordered_map<std::uint64_t, Outstanding> probes_;
  std::unordered_map<std::uint16_t, TraceInfo> traces_;
  using Expiry = std::pair<probe::TimePoint, std::uint64_t>;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;
  /// Answers known at send time (a refused connect to a local port).
  std::vector<probe::ProbeEvent> immediate_;
};

/// An ICMP error as the error queue reports it (sock_extended_err, the
/// offender address and the cmsg TTL), as a Reply to a probe of `kind`; nullopt
/// for anything that is not time-exceeded or destination-unreachable (the
/// engine counts those as unrelated ICMP). received_ttl 0 = unknown. Pure.
std::optional<packet::Reply> ReplyFromQueuedError(bool v6, std::uint8_t origin, std::uint8_t type,
                                                  std::uint8_t code,
                                                  const std::optional<packet::IpAddress>& offender,
                                                  int received_ttl, probe::ProbeKind kind);

}  // namespace portpath::io
