#pragma once
/// The table of outstanding traces' flows and the pure function that matches a
/// decoded reply to a probe. Not thread-safe (owned by the probe loop).

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <variant>

#include "probe/packet/ip_address.h"
#include "probe/packet/probe_id.h"
#include "probe/packet/reply.h"

namespace portpath::probe {

/// The fixed 5-tuple of one trace (Paris: the same for every TTL) and the nonce
/// that scrambles its probe ids.
struct Flow {
  packet::IpAddress source;
  packet::IpAddress destination;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint16_t nonce = 0;
  /// packet::kProtoTcp, or kProtoIcmp/kProtoIcmp6 for an echo trace (whose
  /// source_port is the echo identifier and destination_port 0).
  std::uint8_t protocol = packet::kProtoTcp;
  /// A TCP trace's ICMP echo probes (ping and controls) go to the same
  /// destination with this identifier, when sends_echo. (Not 0 as "none":
  /// the identifier is slot XOR key, and 0 is as likely as any other value.)
  bool sends_echo = false;
  std::uint16_t echo_identifier = 0;
  /// Also fixed per trace (Paris: per-flow load balancers hash on the IPv6
  /// flow label; the IPv4 ID and the echo checksum are kept for the same
  /// reason). Packet transports write them into every probe.
  std::uint16_t ip_id = 0;
  std::uint32_t flow_label = 0;
  std::uint16_t echo_checksum = 0;
};

class FlowTable {
 public:
  void Insert(std::uint16_t slot, const Flow& flow) { flows_[slot] = flow; }
  void Erase(std::uint16_t slot) { flows_.erase(slot); }
  const Flow* Find(std::uint16_t slot) const {
    auto it = flows_.find(slot);
    return it == flows_.end() ? nullptr : &it->second;
  }
  std::size_t size() const { return flows_.size(); }

 private:
  std::unordered_map<std::uint16_t, Flow> flows_;
};

/// A reply matched to (slot, ttl, attempt); the trace then checks that this
/// probe was sent and not answered yet.
using MatchResult = std::variant<packet::ProbeId, packet::DropReason>;

/// Matches on the fields routers leave alone: destination address and both
/// ports of the quoted (or answering) flow, and the sequence number that carries
/// the probe id. The quoted source address is not compared: a NAT in front of us
/// may or may not translate it back inside the ICMP quote.
MatchResult MatchReply(const FlowTable& table, const packet::ProbeIdCodec& codec,
                       const packet::Reply& reply);

}  // namespace portpath::probe
