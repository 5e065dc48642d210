#include "app/result_output.h"

#include <cstdio>

#include "app/json_writer.h"
#include "probe/diagnosis.h"
#include "probe/verdict.h"

namespace portpath::app {

using probe::HopRef;
using probe::TraceResult;

namespace {

void WriteAs(JsonWriter& w, const std::optional<std::uint32_t>& asn, const std::string& org) {
  if (asn)
    w.Key("asn").Value(static_cast<std::int64_t>(*asn));
  else
    w.Key("asn").Null();
  if (asn)
    w.Key("as_org").Value(org);
  else
    w.Key("as_org").Null();
}

void WriteHopRef(JsonWriter& w, const std::optional<HopRef>& ref, bool with_class) {
  if (!ref) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Key("ttl").Value(ref->ttl);
  if (ref->address)
    w.Key("address").Value(ref->address->ToString());
  else
    w.Key("address").Null();
  if (with_class) {
    if (ref->address)
      w.Key("address_class").Value(probe::ToString(ref->address_class));
    else
      w.Key("address_class").Null();
  }
  WriteAs(w, ref->asn, ref->as_org);
  w.EndObject();
}

std::string Ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", ms);
  return buf;
}

}  // namespace

std::string ResultToJson(const TraceResult& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("target").Value(r.target);
  w.Key("host").Value(r.host);
  if (r.address)
    w.Key("address").Value(r.address->ToString());
  else
    w.Key("address").Null();
  w.Key("port").Value(static_cast<int>(r.port));
  w.Key("outcome").Value(probe::ToString(r.outcome));
  w.Key("probe_mode").Value(probe::ToString(r.probe_mode));
  w.Key("destination_reached").Value(r.destination_reached);
  w.Key("last_responding_hop");
  WriteHopRef(w, r.last_responding_hop, false);
  w.Key("blocked_hop");
  WriteHopRef(w, r.blocked_hop, true);
  w.Key("blocked_hop_confirmed").Value(r.blocked_hop_confirmed);
  if (r.unconfirmed_hop_ttl)
    w.Key("unconfirmed_hop_ttl").Value(*r.unconfirmed_hop_ttl);
  else
    w.Key("unconfirmed_hop_ttl").Null();
  if (r.icmp_reachable)
    w.Key("icmp_reachable").Value(*r.icmp_reachable);
  else
    w.Key("icmp_reachable").Null();
  if (r.divergence_hop)
    w.Key("divergence_hop").Value(*r.divergence_hop);
  else
    w.Key("divergence_hop").Null();
  if (r.icmp_destination_ttl) w.Key("icmp_destination_ttl").Value(*r.icmp_destination_ttl);
  if (r.icmp_code) {
    w.Key("icmp").BeginObject();
    w.Key("type").Value(*r.icmp_type);
    w.Key("code").Value(*r.icmp_code);
    w.Key("marker").Value(r.marker);
    w.EndObject();
  }
  w.Key("hops").BeginArray();
  for (const probe::Hop& hop : r.hops) {
    w.BeginObject();
    w.Key("ttl").Value(hop.ttl);
    if (hop.address)
      w.Key("address").Value(hop.address->ToString());
    else
      w.Key("address").Null();
    if (!hop.name.empty()) w.Key("name").Value(hop.name);
    w.Key("rtt_ms").BeginArray();
    for (const probe::ProbeSample& s : hop.probes) {
      if (s.rtt_ms)
        w.Value(*s.rtt_ms, 3);
      else
        w.Null();
    }
    w.EndArray();
    w.Key("reply").Value(probe::ToString(hop.reply));
    if (!hop.marker.empty()) w.Key("marker").Value(hop.marker);
    WriteAs(w, hop.asn, hop.as_org);
    if (!hop.mpls.empty()) {
      w.Key("mpls").BeginArray();
      for (const packet::MplsLabel& l : hop.mpls) {
        w.BeginObject();
        w.Key("label").Value(static_cast<std::int64_t>(l.label));
        w.Key("tc").Value(static_cast<int>(l.tc));
        w.Key("s").Value(l.bottom_of_stack);
        w.Key("ttl").Value(static_cast<int>(l.ttl));
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("path_id").Value(probe::PathIdOf(r));
  if (!r.paths.empty()) {
    w.Key("paths").BeginArray();
    for (const probe::PathSummary& p : r.paths) {
      w.BeginObject();
      w.Key("path_id").Value(p.path_id);
      w.Key("flows").BeginArray();
      for (std::uint16_t port : p.source_ports) w.Value(static_cast<int>(port));
      w.EndArray();
      w.Key("outcome").Value(probe::ToString(p.outcome));
      w.Key("blocked_hop");
      WriteHopRef(w, p.blocked_hop, true);
      w.Key("hops").BeginArray();
      for (const probe::Hop& hop : p.hops) {
        w.BeginObject();
        w.Key("ttl").Value(hop.ttl);
        if (hop.address)
          w.Key("address").Value(hop.address->ToString());
        else
          w.Key("address").Null();
        w.Key("reply").Value(probe::ToString(hop.reply));
        WriteAs(w, hop.asn, hop.as_org);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("duration_ms").Value(static_cast<std::int64_t>(r.duration.count()));
  w.Key("probes_sent").Value(r.probes_sent);
  w.Key("confirm_rounds").Value(r.retry_rounds);
  if (r.outcome == probe::Outcome::kError) w.Key("error").Value(r.error);
  w.Key("verdict").Value(probe::Verdict(r));
  w.EndObject();
  return w.str();
}

std::string ResultToText(const TraceResult& r, const probe::TraceSettings& s) {
  std::string out = "portpath to " + r.target;
  if (r.address) out += " (" + r.address->ToString() + ")";
  out += ", port " + std::to_string(r.port) + "/tcp, " + std::to_string(s.max_hops) +
         " hops max, " + std::to_string(s.probes_per_hop) + " probes per hop\n";
  for (const probe::Hop& hop : r.hops) {
    char ttl[8];
    std::snprintf(ttl, sizeof ttl, "%2d", hop.ttl);
    out += ttl;
    std::optional<packet::IpAddress> shown;
    for (const probe::ProbeSample& sample : hop.probes) {
      out += "  ";
      if (!sample.rtt_ms) {
        out += "*";
        continue;
      }
      // Like traceroute: name the address again only when it changes.
      if (!shown || *shown != *sample.from) {
        // traceroute's "name (address)" when the name is known.
        if (!hop.name.empty() && sample.from == hop.address)
          out += hop.name + " (" + sample.from->ToString() + ")";
        else
          out += sample.from->ToString();
        if (hop.asn && sample.from == hop.address) out += " [AS" + std::to_string(*hop.asn) + "]";
        out += "  ";
        shown = sample.from;
      }
      out += Ms(*sample.rtt_ms);
      if (!hop.marker.empty() && sample.from == hop.address) out += " " + hop.marker;
    }
    // Like `traceroute -e`: the label stack the hop says our probe carried.
    for (std::size_t i = 0; i < hop.mpls.size(); ++i) {
      const packet::MplsLabel& l = hop.mpls[i];
      out += (i == 0 ? "  <MPLS:" : "/");
      out += "L=" + std::to_string(l.label) + ",E=" + std::to_string(l.tc) +
             ",S=" + std::to_string(l.bottom_of_stack ? 1 : 0) + ",T=" + std::to_string(l.ttl);
      if (i + 1 == hop.mpls.size()) out += ">";
    }
    if (hop.reply == probe::HopReply::kSynAck) out += "  [open]";
    if (hop.reply == probe::HopReply::kRst) out += "  [closed]";
    out += '\n';
  }
  switch (r.outcome) {
    case probe::Outcome::kOpen:
    case probe::Outcome::kClosed:
      out += "destination reached" +
             (r.last_responding_hop ? " at hop " + std::to_string(r.last_responding_hop->ttl)
                                    : std::string()) +
             ", port " + std::to_string(r.port) + " " + std::string(probe::ToString(r.outcome)) +
             "\n";
      break;
    default:
      out += "destination not reached: " + std::string(probe::ToString(r.outcome)) + "\n";
  }
  if (r.icmp_reachable) {
    out += *r.icmp_reachable
               ? "ping: the host answers ICMP echo" +
                     (r.icmp_destination_ttl ? " at hop " + std::to_string(*r.icmp_destination_ttl)
                                             : std::string()) +
                     "\n"
               : std::string("ping: no ICMP echo reply\n");
  }
  if (r.probe_mode == probe::ProbeMode::kConnect)
    out +=
        "probe mode: connect (no raw sockets: one TCP connect() per probe, its TTL set, answers "
        "from the kernel's error queue)\n";
  out += "verdict: " + probe::Verdict(r) + "\n";
  return out;
}

}  // namespace portpath::app
