#pragma once
/// The result of one finished trace: plain data, copyable, safe to share
/// between threads once built (the exporter reads immutable snapshots of these).

#include <chrono>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/address_class.h"
#include "probe/packet/icmp_extensions.h"
#include "probe/packet/ip_address.h"

namespace portpath::probe {

enum class Outcome {
  kOpen,
  kClosed,
  kFiltered,
  kProhibited,
  kUnreachable,
  kError,
  /// A RST that claims to come from the destination but was sent by a node
  /// closer than the destination (a firewall or load balancer rejecting).
  kResetByMiddlebox,
  /// The same for a SYN-ACK: a proxy or SYN-proxy answers for the destination.
  kAnsweredByMiddlebox,
};
std::string_view ToString(Outcome o);
inline constexpr Outcome kAllOutcomes[] = {Outcome::kOpen,
                                           Outcome::kClosed,
                                           Outcome::kFiltered,
                                           Outcome::kProhibited,
                                           Outcome::kUnreachable,
                                           Outcome::kError,
                                           Outcome::kResetByMiddlebox,
                                           Outcome::kAnsweredByMiddlebox};
inline constexpr std::size_t kOutcomeCount = std::size(kAllOutcomes);

/// What answered a probe at one TTL.
enum class HopReply { kNone, kTimeExceeded, kSynAck, kRst, kUnreachable, kEchoReply };
std::string_view ToString(HopReply r);

/// How the probes went out. kRaw: hand-built SYNs and echoes on raw sockets,
/// replies captured with libpcap (needs CAP_NET_RAW). kConnect: the unprivileged
/// fallback, one TCP connect() per probe with its own TTL and the kernel's
/// IP_RECVERR error queue (like `traceroute -M tcpconn`).
enum class ProbeMode { kRaw, kConnect };
inline std::string_view ToString(ProbeMode m) { return m == ProbeMode::kRaw ? "raw" : "connect"; }

/// The answer to one probe (nullopt rtt = no answer within the timeout).
struct ProbeSample {
  std::optional<double> rtt_ms;
  std::optional<packet::IpAddress> from;
};

struct Hop {
  int ttl = 0;
  /// The first address that answered at this TTL; nullopt if none did.
  std::optional<packet::IpAddress> address;
  /// One entry per probe sent at this TTL, in sending order.
  std::vector<ProbeSample> probes;
  HopReply reply = HopReply::kNone;
  /// traceroute's marker for an unreachable (!X, !H, !N, ...), empty otherwise.
  std::string marker;
  /// The address's AS and its organisation, from the ASN database if one is loaded.
  std::optional<std::uint32_t> asn;
  std::string as_org;
  /// Reverse DNS name of `address`, when looked up and found.
  std::string name;
  /// MPLS label stack (RFC 4950) the hop reported our probe carried, top first.
  std::vector<packet::MplsLabel> mpls;
  int answered() const;
};

struct HopRef {
  int ttl = 0;
  /// nullopt when that hop never answered for itself (a middlebox that only
  /// forges replies in the destination's name).
  std::optional<packet::IpAddress> address;
  AddressClass address_class = AddressClass::kPublic;
  std::optional<std::uint32_t> asn;
  std::string as_org;
};

struct TraceResult;

/// One distinct path among a target's flows (ECMP): which flows took it, and
/// how the port fared along it.
struct PathSummary {
  std::string path_id;
  std::vector<std::uint16_t> source_ports;  // the flows that took this path
  Outcome outcome = Outcome::kError;
  std::optional<HopRef> blocked_hop;
  std::vector<Hop> hops;
};

struct TraceResult {
  std::string target;  // as the user wrote it, e.g. "db.example.com:5432"
  std::string host;
  std::optional<packet::IpAddress> address;
  std::uint16_t port = 0;
  /// The flow's source port (TCP) or echo identifier (ping).
  std::uint16_t source_port = 0;
  Outcome outcome = Outcome::kError;
  /// Which transport traced it (set by the engine).
  ProbeMode probe_mode = ProbeMode::kRaw;
  bool destination_reached = false;
  std::optional<HopRef> last_responding_hop;
  std::optional<HopRef> blocked_hop;
  /// False when the port is filtered but the silence after the last responding
  /// hop could not be told apart from ICMP rate limiting (the routers' budget
  /// ran out before a control answered): blocked_hop is then empty rather than
  /// a guess, and unconfirmed_hop_ttl names the TTL whose silence is in doubt.
  bool blocked_hop_confirmed = true;
  std::optional<int> unconfirmed_hop_ttl;
  /// A refresh round (serve): only what the verdict rests on was asked; the
  /// hop list is the earlier round's where the service carries it over.
  bool refreshed = false;
  /// serve: this round could not confirm the verdict, so the last confirmed one
  /// is shown (outcome, blocked hop); confirmed_at says when it was confirmed.
  bool stale = false;
  /// serve: Unix time at which the shown outcome and blocked hop were last
  /// confirmed by a round's own evidence.
  double confirmed_at = 0;
  /// For prohibited/unreachable: the ICMP type/code and traceroute's marker.
  std::optional<int> icmp_type;
  std::optional<int> icmp_code;
  std::string marker;
  /// Outer TTL / hop limit of the reply that ended the trace (SYN-ACK, RST,
  /// echo reply or unreachable) as received: tells how far away its sender is.
  std::optional<int> reply_ttl;
  /// Ping comparison (set when an ICMP echo trace ran alongside): whether the
  /// destination answers ping, how far away it is by ping, and the last hop
  /// the TCP and ICMP paths share before they part ways.
  std::optional<bool> icmp_reachable;
  std::optional<int> icmp_destination_ttl;
  std::optional<int> divergence_hop;
  /// serve: the identity of the path when an earlier round saw the same path
  /// (a policed hop does not make a new one); empty = PathId(*this).
  std::string path_id;
  /// With several flows: every distinct path found, in order of first flow.
  std::vector<PathSummary> paths;
  std::vector<Hop> hops;
  std::string error;  // for Outcome::kError
  std::chrono::milliseconds duration{0};
  int probes_sent = 0;
  int retry_rounds = 0;
  /// Wall-clock completion time (Unix seconds), set by the engine.
  double finished_at = 0;
};

}  // namespace portpath::probe
