#include "exporter/collector.h"

#include "probe/diagnosis.h"

#include <chrono>
#include <initializer_list>
#include <string>
#include <utility>

#include "probe/address_class.h"
#include "probe/packet/reply.h"

namespace portpath::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void Add(MetricFamily& family, Labels labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  family.metric.push_back(std::move(m));
}

Labels With(Labels base, std::initializer_list<ClientMetric::Label> extra) {
  base.insert(base.end(), extra);
  return base;
}

// Our labels first, then the user's: a reader scanning a long series finds the
// target in the same place on every line.
Labels TargetLabels(const TargetSnapshot& t) {
  Labels labels{{"target", t.target}, {"host", t.host}, {"port", std::to_string(t.port)}};
  for (const auto& [name, value] : t.labels) labels.push_back({name, value});
  return labels;
}

Labels HopLabels(const Labels& target, int ttl, const std::optional<packet::IpAddress>& address,
                 probe::AddressClass address_class) {
  // A hop that never answered for itself has no address to name.
  return With(target, {{"ttl", std::to_string(ttl)},
                       {"hop_address", address ? address->ToString() : ""},
                       {"address_class", address ? std::string(probe::ToString(address_class))
                                                 : std::string("unknown")}});
}

bool HasBlockedHop(const probe::TraceResult& r) {
  // A blocked hop is only meaningful for the outcomes that name a place on the
  // path where the probe stopped; open/closed/error never carry one, but guard
  // anyway so an alert on portpath_blocked_hop_ttl cannot fire for an open port.
  switch (r.outcome) {
    case probe::Outcome::kFiltered:
    case probe::Outcome::kProhibited:
    case probe::Outcome::kUnreachable:
    case probe::Outcome::kResetByMiddlebox:
    case probe::Outcome::kAnsweredByMiddlebox:
      return r.blocked_hop.has_value();
    default:
      return false;
  }
}

// ReplyType has no ToString in the probe module; the label values are ours.
constexpr const char* kReplyTypeNames[] = {"time_exceeded", "unreachable", "syn_ack", "rst",
                                           "echo_reply"};
static_assert(static_cast<int>(packet::ReplyType::kTimeExceeded) == 0 &&
                  static_cast<int>(packet::ReplyType::kUnreachable) == 1 &&
                  static_cast<int>(packet::ReplyType::kSynAck) == 2 &&
                  static_cast<int>(packet::ReplyType::kRst) == 3 &&
                  static_cast<int>(packet::ReplyType::kEchoReply) == 4,
              "kReplyTypeNames follows packet::ReplyType");

/// Every per-target family, in exposition order.
struct TargetFamilies {
  MetricFamily target_info =
      Family("portpath_target_info",
             "A target in the current configuration (1), whether or not it has been traced yet.",
             MetricType::Gauge);
  MetricFamily skipped_rounds =
      Family("portpath_skipped_rounds_total",
             "Probe rounds skipped for this target because its previous trace was still running.",
             MetricType::Counter);
  MetricFamily destination_reached =
      Family("portpath_destination_reached",
             "1 if the last trace got an answer from the target address itself (SYN-ACK, RST or an "
             "ICMP error sent by the target), else 0.",
             MetricType::Gauge);
  MetricFamily port_open =
      Family("portpath_port_open", "1 if the last trace found the TCP port open (SYN-ACK), else 0.",
             MetricType::Gauge);
  MetricFamily outcome = Family(
      "portpath_outcome",
      "Outcome of the last trace: 1 for the current outcome, 0 for the others (open: SYN-ACK; "
      "closed: RST; filtered: silence; prohibited: ICMP administratively prohibited; "
      "unreachable: other ICMP unreachable; error: the trace could not run).",
      MetricType::Gauge);
  MetricFamily last_responding_hop_ttl =
      Family("portpath_last_responding_hop_ttl",
             "TTL of the farthest hop that answered in the last trace; absent when none answered.",
             MetricType::Gauge);
  MetricFamily blocked_hop_info =
      Family("portpath_blocked_hop_info",
             "The hop where the last trace stopped (filtered, prohibited or unreachable), with its "
             "address and address class; absent while the path is not blocked.",
             MetricType::Gauge);
  MetricFamily blocked_hop_ttl =
      Family("portpath_blocked_hop_ttl",
             "TTL of the hop where the last trace stopped; absent while the path is not blocked.",
             MetricType::Gauge);
  MetricFamily path_info = Family(
      "portpath_path_info",
      "1, naming the path of the last trace: a hash of the answering hops and where the path ends.",
      MetricType::Gauge);
  MetricFamily path_changes = Family(
      "portpath_path_changes_total",
      "Path changes seen between consecutive traces (a hop answering from another address, or "
      "the path ending at another TTL).",
      MetricType::Counter);
  MetricFamily last_path_change = Family(
      "portpath_path_last_change_timestamp_seconds",
      "When the last path change was seen (Unix time); absent before the first.",
      MetricType::Gauge);
  MetricFamily paths = Family(
      "portpath_paths",
      "Distinct paths found by the flows of the last round (per-flow load balancing); 1 with "
      "one flow.",
      MetricType::Gauge);
  MetricFamily paths_blocked = Family(
      "portpath_paths_blocked",
      "How many of those paths stop the port (filtered, prohibited, unreachable, middlebox).",
      MetricType::Gauge);
  MetricFamily icmp_reachable =
      Family("portpath_icmp_reachable",
             "1 if the destination answered ICMP echo (ping) in the same round, else 0; absent "
             "when no ping trace ran.",
             MetricType::Gauge);
  MetricFamily divergence_hop_ttl =
      Family("portpath_divergence_hop_ttl",
             "The last hop the TCP and ICMP (ping) paths share before they part ways; absent "
             "when they do not.",
             MetricType::Gauge);
  MetricFamily hops_to_destination = Family(
      "portpath_hops_to_destination",
      "Number of hops to the target in the last trace; absent when the target was not reached.",
      MetricType::Gauge);
  MetricFamily duration =
      Family("portpath_trace_duration_seconds", "Wall-clock duration of the last trace in seconds.",
             MetricType::Gauge);
  MetricFamily timestamp = Family(
      "portpath_last_trace_timestamp_seconds",
      "Unix time in seconds at which the last trace of this target finished.", MetricType::Gauge);
  MetricFamily address_info = Family(
      "portpath_target_address_info",
      "The address the target's host name resolved to for the last trace.", MetricType::Gauge);
  MetricFamily hop_responded =
      Family("portpath_hop_responded", "1 if at least one probe at this TTL was answered, else 0.",
             MetricType::Gauge);
  MetricFamily hop_rtt =
      Family("portpath_hop_rtt_seconds",
             "Mean round-trip time in seconds of the answered probes at this TTL; absent when none "
             "was answered.",
             MetricType::Gauge);
  MetricFamily hop_loss = Family(
      "portpath_hop_loss_ratio",
      "Fraction of the probes sent at this TTL that got no answer (0 to 1).", MetricType::Gauge);
  MetricFamily blocked_hop_confirmed = Family(
      "portpath_blocked_hop_confirmed",
      "0 when the port gets no answer but the silence after the last responding hop could not be "
      "told apart from ICMP rate limiting (no blocked hop is named), else 1.",
      MetricType::Gauge);
  MetricFamily verdict_stale = Family(
      "portpath_verdict_stale",
      "1 when the last round could not confirm the verdict and the shown outcome and blocked hop "
      "are the last confirmed ones, else 0.",
      MetricType::Gauge);
  MetricFamily verdict_confirmed = Family(
      "portpath_verdict_confirmed_timestamp_seconds",
      "When the shown outcome and blocked hop were last confirmed by a round's own evidence.",
      MetricType::Gauge);
  MetricFamily hop_info =
      Family("portpath_hop_info",
             "The address that answered at this TTL and its address class; absent for silent hops.",
             MetricType::Gauge);

  void AppendTo(std::vector<MetricFamily>& out) && {
    for (MetricFamily* f :
         {&target_info, &skipped_rounds, &destination_reached, &port_open, &outcome,
          &last_responding_hop_ttl, &blocked_hop_info, &blocked_hop_ttl, &path_info,
          &path_changes, &last_path_change, &paths, &paths_blocked, &icmp_reachable,
          &divergence_hop_ttl, &hops_to_destination, &blocked_hop_confirmed, &verdict_stale,
          &verdict_confirmed,
          &duration, &timestamp, &address_info, &hop_responded, &hop_rtt, &hop_loss, &hop_info}) {
      // An empty family would still print HELP and TYPE lines: noise for readers,
      // and nothing a query could use.
      if (!f->metric.empty()) out.push_back(std::move(*f));
    }
  }
};

void RenderResult(const Labels& target, const probe::TraceResult& r, TargetFamilies& f) {
  Add(f.destination_reached, target, r.destination_reached ? 1 : 0);
  Add(f.port_open, target, r.outcome == probe::Outcome::kOpen ? 1 : 0);
  // One series per value, not just the current one: a state set lets
  // `portpath_outcome{outcome="filtered"} == 1` work and keeps each series
  // continuous when the outcome changes.
  for (probe::Outcome o : probe::kAllOutcomes) {
    Add(f.outcome, With(target, {{"outcome", std::string(probe::ToString(o))}}),
        r.outcome == o ? 1 : 0);
  }
  if (r.last_responding_hop) Add(f.last_responding_hop_ttl, target, r.last_responding_hop->ttl);
  if (r.icmp_reachable) Add(f.icmp_reachable, target, *r.icmp_reachable ? 1 : 0);
  Add(f.path_info, With(target, {{"path", probe::PathIdOf(r)}}), 1);
  if (r.outcome != probe::Outcome::kError) {
    auto passes = [](probe::Outcome o) {
      return o == probe::Outcome::kOpen || o == probe::Outcome::kClosed;
    };
    std::size_t count = r.paths.empty() ? 1 : r.paths.size();
    std::size_t blocked = r.paths.empty() ? (passes(r.outcome) ? 0 : 1) : 0;
    for (const probe::PathSummary& p : r.paths) blocked += passes(p.outcome) ? 0 : 1;
    Add(f.paths, target, static_cast<double>(count));
    Add(f.paths_blocked, target, static_cast<double>(blocked));
  }
  if (r.divergence_hop) Add(f.divergence_hop_ttl, target, *r.divergence_hop);
  if (r.outcome != probe::Outcome::kError) {
    Add(f.blocked_hop_confirmed, target, r.blocked_hop_confirmed ? 1 : 0);
    Add(f.verdict_stale, target, r.stale ? 1 : 0);
    if (r.confirmed_at > 0) Add(f.verdict_confirmed, target, r.confirmed_at);
  }
  if (HasBlockedHop(r)) {
    const probe::HopRef& b = *r.blocked_hop;
    Add(f.blocked_hop_info,
        With(HopLabels(target, b.ttl, b.address, b.address_class),
             {{"asn", b.asn ? std::to_string(*b.asn) : ""}, {"as_org", b.asn ? b.as_org : ""}}),
        1);
    Add(f.blocked_hop_ttl, target, b.ttl);
  }
  // When the destination answered, it is the terminal hop the trace recorded as
  // the last responder.
  if (r.destination_reached && r.last_responding_hop) {
    Add(f.hops_to_destination, target, r.last_responding_hop->ttl);
  }
  Add(f.duration, target, std::chrono::duration<double>(r.duration).count());
  Add(f.timestamp, target, r.finished_at);
  if (r.address) Add(f.address_info, With(target, {{"address", r.address->ToString()}}), 1);

  for (const probe::Hop& hop : r.hops) {
    Labels labels = With(target, {{"ttl", std::to_string(hop.ttl)}});
    int answered = 0;
    double rtt_sum_ms = 0;
    for (const probe::ProbeSample& s : hop.probes) {
      if (!s.rtt_ms) continue;
      ++answered;
      rtt_sum_ms += *s.rtt_ms;
    }
    Add(f.hop_responded, labels, answered > 0 ? 1 : 0);
    if (answered > 0) Add(f.hop_rtt, labels, rtt_sum_ms / answered / 1000.0);
    if (!hop.probes.empty()) {
      Add(f.hop_loss, labels,
          static_cast<double>(hop.probes.size() - static_cast<std::size_t>(answered)) /
              static_cast<double>(hop.probes.size()));
    }
    if (answered > 0 && hop.address) {
      Add(f.hop_info,
          With(HopLabels(target, hop.ttl, *hop.address, probe::ClassifyAddress(*hop.address)),
               {{"asn", hop.asn ? std::to_string(*hop.asn) : ""},
                {"as_org", hop.asn ? hop.as_org : ""},
                {"hop_name", hop.name}}),
          1);
    }
  }
}

void RenderSelf(const Snapshot& s, std::vector<MetricFamily>& out) {
  {
    // The load the routers cannot answer shows here first: rounds that ended
    // unsure, or that only repeated an earlier confirmed verdict.
    MetricFamily exceeded = Family(
        "portpath_icmp_budget_exceeded_targets",
        "Target ports whose last full round could not confirm its verdict because routers rate "
        "limited their ICMP answers (unconfirmed, or stale after a full round). Above 0, the "
        "configured load exceeds what the routers answer: fewer targets or a longer interval.",
        MetricType::Gauge);
    double n = 0;
    for (const TargetSnapshot& t : s.targets)
      if (t.last && (!t.last->blocked_hop_confirmed || (t.last->stale && !t.last->refreshed))) ++n;
    Add(exceeded, {}, n);
    out.push_back(std::move(exceeded));
  }
  const probe::EngineStats& e = s.engine;

  MetricFamily mode = Family("portpath_probe_mode",
                             "1 for the mode probes go out in: raw (raw sockets, CAP_NET_RAW) or "
                             "connect (unprivileged TCP connect() probes), else 0.",
                             MetricType::Gauge);
  for (probe::ProbeMode m : {probe::ProbeMode::kRaw, probe::ProbeMode::kConnect})
    Add(mode, {{"mode", std::string(probe::ToString(m))}}, e.probe_mode == m ? 1 : 0);
  out.push_back(std::move(mode));

  MetricFamily sent =
      Family("portpath_probes_sent_total", "TCP SYN probes sent since start.", MetricType::Counter);
  Add(sent, {}, static_cast<double>(e.probes_sent));
  out.push_back(std::move(sent));

  MetricFamily send_errors = Family(
      "portpath_send_errors_total",
      "Probes that could not be sent (the kernel refused them) since start.", MetricType::Counter);
  Add(send_errors, {}, static_cast<double>(e.send_errors));
  out.push_back(std::move(send_errors));

  MetricFamily replies =
      Family("portpath_replies_total", "Captured replies matched to one of our probes, by type.",
             MetricType::Counter);
  for (std::size_t i = 0; i < e.replies_by_type.size(); ++i) {
    Add(replies, {{"type", kReplyTypeNames[i]}}, static_cast<double>(e.replies_by_type[i]));
  }
  out.push_back(std::move(replies));

  // Every reason, zeros included, so rate() works from the first scrape on and
  // a dashboard shows every row.
  MetricFamily ignored = Family(
      "portpath_replies_ignored_total",
      "Captured packets not credited to any probe, by reason (malformed, unrelated, duplicate...).",
      MetricType::Counter);
  for (std::size_t i = 0; i < e.dropped.size(); ++i) {
    Add(ignored, {{"reason", std::string(packet::ToString(static_cast<packet::DropReason>(i)))}},
        static_cast<double>(e.dropped[i]));
  }
  out.push_back(std::move(ignored));

  MetricFamily traces = Family("portpath_traces_total", "Traces completed since start, by outcome.",
                               MetricType::Counter);
  for (probe::Outcome o : probe::kAllOutcomes) {
    Add(traces, {{"outcome", std::string(probe::ToString(o))}},
        static_cast<double>(s.traces_by_outcome[static_cast<std::size_t>(o)]));
  }
  out.push_back(std::move(traces));

  MetricFamily reload_ok =
      Family("portpath_config_last_reload_successful",
             "1 if the last configuration reload succeeded, else 0.", MetricType::Gauge);
  Add(reload_ok, {}, s.last_reload_successful ? 1 : 0);
  out.push_back(std::move(reload_ok));

  MetricFamily reload_ts =
      Family("portpath_config_last_reload_success_timestamp_seconds",
             "Unix time in seconds of the last successful configuration load.", MetricType::Gauge);
  Add(reload_ts, {}, s.last_reload_success_timestamp);
  out.push_back(std::move(reload_ts));

  MetricFamily reloads =
      Family("portpath_config_reloads_total", "Configuration reloads attempted since start.",
             MetricType::Counter);
  Add(reloads, {}, static_cast<double>(s.reloads_total));
  out.push_back(std::move(reloads));

  MetricFamily failures =
      Family("portpath_config_reload_failures_total",
             "Configuration reloads that failed since start.", MetricType::Counter);
  Add(failures, {}, static_cast<double>(s.reload_failures_total));
  out.push_back(std::move(failures));
}

}  // namespace

std::vector<MetricFamily> RenderTargets(const std::vector<TargetSnapshot>& targets) {
  TargetFamilies f;
  for (const TargetSnapshot& t : targets) {
    Labels labels = TargetLabels(t);
    Add(f.target_info, labels, 1);
    Add(f.skipped_rounds, labels, static_cast<double>(t.skipped_rounds));
    Add(f.path_changes, labels, static_cast<double>(t.path_changes));
    if (t.last_path_change > 0) Add(f.last_path_change, labels, t.last_path_change);
    if (t.last) RenderResult(labels, *t.last, f);
  }
  std::vector<MetricFamily> out;
  std::move(f).AppendTo(out);
  return out;
}

std::vector<MetricFamily> RenderSnapshot(const Snapshot& snapshot) {
  std::vector<MetricFamily> out = RenderTargets(snapshot.targets);
  RenderSelf(snapshot, out);
  return out;
}

TraceCollector::TraceCollector(std::function<SnapshotPtr()> snapshot)
    : snapshot_(std::move(snapshot)) {}

std::vector<MetricFamily> TraceCollector::Collect() const {
  SnapshotPtr s = snapshot_ ? snapshot_() : nullptr;
  if (!s) return {};
  return RenderSnapshot(*s);
}

}  // namespace portpath::exporter
