#include "probe/verdict.h"

namespace portpath::probe {
namespace {

std::string AsName(const HopRef& hop) {
  std::string s = "AS" + std::to_string(*hop.asn);
  if (!hop.as_org.empty()) s += " " + hop.as_org;
  return s;
}

std::string Describe(const HopRef& hop) {
  if (!hop.address) return "hop " + std::to_string(hop.ttl) + " (which never answers for itself)";
  return "hop " + std::to_string(hop.ttl) + " (" + hop.address->ToString() + ", " +
         (hop.asn ? AsName(hop) + ", " : std::string()) + std::string(ToString(hop.address_class)) +
         " address)";
}

// Who to talk to about a hop, following what a person reasons by hand: an
// intranet address means a local security policy; a public one, its carrier.
std::string WhoToAsk(const HopRef& hop) {
  if (!hop.address)
    return "its address is unknown, so ask whoever runs the network just before the destination";
  if (IsIntranet(hop.address_class))
    return "it is an intranet address, so suspect a local security policy (firewall, ACL, "
           "security group): ask your network administrator";
  if (hop.asn)
    return "it is not an intranet address: it belongs to " + AsName(hop) +
           ", so contact that provider";
  return "it is not an intranet address, so suspect the carrier that owns " +
         hop.address->ToString() + ": look up its AS and contact that provider";
}

std::string PortName(const TraceResult& r) { return "port " + std::to_string(r.port) + "/tcp"; }

std::string TcpVerdict(const TraceResult& r) {
  std::string dest = r.address ? r.address->ToString() : r.host;
  switch (r.outcome) {
    case Outcome::kOpen:
      return PortName(r) + " is open: " + dest + " answered SYN-ACK" +
             (r.last_responding_hop ? " at hop " + std::to_string(r.last_responding_hop->ttl)
                                    : "") +
             ".";
    case Outcome::kClosed:
      return dest + " is reachable" +
             (r.last_responding_hop ? " at hop " + std::to_string(r.last_responding_hop->ttl)
                                    : "") +
             " but " + PortName(r) + " is closed: the host answered RST (nothing listens there).";
    case Outcome::kFiltered:
      if (!r.blocked_hop_confirmed) {
        std::string after = r.last_responding_hop ? "the last hop that answered is " +
                                                        Describe(*r.last_responding_hop) + ", but "
                                                  : "";
        return PortName(r) + " to " + dest + " is filtered; " + after + "hop " +
               std::to_string(r.unconfirmed_hop_ttl.value_or(0)) +
               " stayed silent, and routers were rate limiting their ICMP answers, so a filter "
               "there could not be told apart from the rate limiting: where the port is blocked "
               "is not confirmed (no hop is blamed without evidence).";
      }
      if (r.stale && r.blocked_hop)
        return PortName(r) + " to " + dest + " is silently dropped after " +
               Describe(*r.blocked_hop) +
               " (confirmed by an earlier round; this one did not re-confirm it); " +
               WhoToAsk(*r.blocked_hop) + ".";
      if (!r.blocked_hop)
        return PortName(r) + " to " + dest +
               " is filtered and no hop answered at all: the probes are dropped at the first hop "
               "or by this host's own firewall, or every router on the path is silent.";
      return PortName(r) + " to " + dest + " is silently dropped after " +
             Describe(*r.blocked_hop) + ": the filter sits on that hop or just after it; " +
             WhoToAsk(*r.blocked_hop) + ".";
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
    case Outcome::kResetByMiddlebox:
    case Outcome::kAnsweredByMiddlebox: {
      bool reset = r.outcome == Outcome::kResetByMiddlebox;
      std::string s =
          std::string(reset ? "a RST" : "a SYN-ACK") + " for " + PortName(r) +
          " claims to come from " + dest + " but was sent from closer: by " +
          (r.blocked_hop ? Describe(*r.blocked_hop) : std::string("a node on the way")) +
          (r.icmp_destination_ttl ? ", while " + dest + " itself is " +
                                        std::to_string(*r.icmp_destination_ttl) + " hops away"
                                  : std::string()) +
          ". ";
      s += reset ? "The port is not closed on the host: a firewall or load balancer in front of it "
                   "rejects the connection on its behalf"
                 : "A proxy or load balancer in front of the host accepts the connection on its "
                   "behalf";
      if (r.blocked_hop) s += "; " + WhoToAsk(*r.blocked_hop);
      return s + ".";
    }
    case Outcome::kError:
      return "could not trace " + r.target + ": " + r.error;
  }
  return "";
}

// What the ping trace adds: whether the host is up at all, and where the TCP
// probes stop while ICMP ones go on.
std::string PingSentence(const TraceResult& r) {
  if (!r.icmp_reachable || r.outcome == Outcome::kError) return "";
  std::string dest = r.address ? r.address->ToString() : r.host;
  if (!*r.icmp_reachable) {
    if (r.outcome == Outcome::kOpen || r.outcome == Outcome::kClosed)
      return " (It does not answer ping.)";
    return " The host does not answer ping either.";
  }
  if (r.outcome == Outcome::kOpen || r.outcome == Outcome::kClosed) return "";
  std::string s = " The host answers ping";
  if (r.icmp_destination_ttl) s += " (" + std::to_string(*r.icmp_destination_ttl) + " hops away)";
  s += ", so it is up and only TCP port " + std::to_string(r.port) + " is stopped";
  if (r.divergence_hop)
    s += ": the ICMP and TCP paths part ways after hop " + std::to_string(*r.divergence_hop);
  return s + ".";
}

// With several flows: how many distinct paths, and which of them stop the port.
std::string PathsSentence(const TraceResult& r) {
  if (r.paths.size() < 2) return "";
  std::size_t blocked = 0;
  std::string where;
  for (const PathSummary& p : r.paths) {
    if (p.outcome == Outcome::kOpen || p.outcome == Outcome::kClosed) continue;
    ++blocked;
    if (p.blocked_hop) where += (where.empty() ? "" : ", ") + Describe(*p.blocked_hop);
  }
  std::string s =
      " Per-flow load balancing: " + std::to_string(r.paths.size()) + " distinct paths, ";
  if (blocked == 0) return s + "none blocked.";
  if (blocked == r.paths.size()) return s + "all blocked.";
  return s + std::to_string(blocked) + " blocked" + (where.empty() ? "" : " (at " + where + ")") +
         ": connections fail or succeed depending on which path their flow hashes to.";
}

}  // namespace

std::string Verdict(const TraceResult& r) {
  return TcpVerdict(r) + PingSentence(r) + PathsSentence(r);
}

}  // namespace portpath::probe
