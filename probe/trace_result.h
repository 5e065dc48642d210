#pragma once
/// The result of one finished trace: plain data, copyable, safe to share
/// between threads once built (the exporter reads immutable snapshots of these).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/address_class.h"
#include "probe/packet/ip_address.h"

namespace portpath::probe {

enum class Outcome { kOpen, kClosed, kFiltered, kProhibited, kUnreachable, kError };
std::string_view ToString(Outcome o);
inline constexpr Outcome kAllOutcomes[] = {Outcome::kOpen,       Outcome::kClosed,
                                           Outcome::kFiltered,   Outcome::kProhibited,
                                           Outcome::kUnreachable, Outcome::kError};

/// What answered a probe at one TTL.
enum class HopReply { kNone, kTimeExceeded, kSynAck, kRst, kUnreachable };
std::string_view ToString(HopReply r);

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
  int answered() const;
};

struct HopRef {
  int ttl = 0;
  packet::IpAddress address;
  AddressClass address_class = AddressClass::kPublic;
};

struct TraceResult {
  std::string target;  // as the user wrote it, e.g. "db.example.com:5432"
  std::string host;
  std::optional<packet::IpAddress> address;
  std::uint16_t port = 0;
  Outcome outcome = Outcome::kError;
  bool destination_reached = false;
  std::optional<HopRef> last_responding_hop;
  std::optional<HopRef> blocked_hop;
  /// For prohibited/unreachable: the ICMP type/code and traceroute's marker.
  std::optional<int> icmp_type;
  std::optional<int> icmp_code;
  std::string marker;
  std::vector<Hop> hops;
  std::string error;  // for Outcome::kError
  std::chrono::milliseconds duration{0};
  int probes_sent = 0;
  int retry_rounds = 0;
  /// Wall-clock completion time (Unix seconds), set by the engine.
  double finished_at = 0;
};

}  // namespace portpath::probe
