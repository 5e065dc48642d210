#include "probe/verdict.h"

namespace portpath::probe {
namespace {

std::string Describe(const HopRef& hop) {
  return "hop " + std::to_string(hop.ttl) + " (" + hop.address.ToString() + ", " +
         std::string(ToString(hop.address_class)) + " address)";
}

// Who to talk to about a hop, following what a person reasons by hand: an
// intranet address means a local security policy; a public one, its carrier.
std::string WhoToAsk(const HopRef& hop) {
  if (IsIntranet(hop.address_class))
    return "it is an intranet address, so suspect a local security policy (firewall, ACL, "
           "security group): ask your network administrator";
  return "it is not an intranet address, so suspect the carrier that owns " +
         hop.address.ToString() + ": look up its AS and contact that provider";
}

std::string PortName(const TraceResult& r) { return "port " + std::to_string(r.port) + "/tcp"; }

}  // namespace

std::string Verdict(const TraceResult& r) {
  std::string dest = r.address ? r.address->ToString() : r.host;
  switch (r.outcome) {
    case Outcome::kOpen:
      return PortName(r) + " is open: " + dest + " answered SYN-ACK" +
             (r.last_responding_hop ? " at hop " + std::to_string(r.last_responding_hop->ttl) : "") +
             ".";
    case Outcome::kClosed:
      return dest + " is reachable" +
             (r.last_responding_hop ? " at hop " + std::to_string(r.last_responding_hop->ttl) : "") +
             " but " + PortName(r) + " is closed: the host answered RST (nothing listens there).";
    case Outcome::kFiltered:
      if (!r.blocked_hop)
        return PortName(r) + " to " + dest +
               " is filtered and no hop answered at all: the probes are dropped at the first hop "
               "or by this host's own firewall, or every router on the path is silent.";
      return PortName(r) + " to " + dest + " is silently dropped after " + Describe(*r.blocked_hop) +
             ": the filter sits on that hop or just after it; " + WhoToAsk(*r.blocked_hop) + ".";
    case Outcome::kProhibited:
      if (!r.blocked_hop) return PortName(r) + " to " + dest + " is administratively prohibited.";
      if (r.destination_reached)
        return dest + " itself rejects " + PortName(r) +
               " (ICMP administratively prohibited, !X): its own firewall refuses the port.";
      return PortName(r) + " to " + dest + " is rejected at " + Describe(*r.blocked_hop) +
             " with ICMP administratively prohibited (!X); " + WhoToAsk(*r.blocked_hop) + ".";
    case Outcome::kUnreachable: {
      std::string what = "unreachable (" + r.marker + ", ICMP code " +
                         std::to_string(r.icmp_code.value_or(-1)) + ")";
      if (r.marker == "!H") what = "host unreachable (!H): the last router cannot reach the host";
      if (r.marker == "!N") what = "network unreachable (!N): a router has no route to it";
      if (!r.blocked_hop) return dest + " is " + what + ".";
      return dest + " is " + what + ", reported by " + Describe(*r.blocked_hop) + "; " +
             WhoToAsk(*r.blocked_hop) + ".";
    }
    case Outcome::kError:
      return "could not trace " + r.target + ": " + r.error;
  }
  return "";
}

}  // namespace portpath::probe
