#pragma once
// Hand-built snapshots shared by the collector and promtool tests: one target
// per outcome a user alerts on, with realistic hops.

#include <optional>
#include <string>
#include <vector>

#include "exporter/snapshot.h"
#include "probe/address_class.h"

namespace portpath::exporter::test_data {

inline packet::IpAddress Ip(const char* text) { return *packet::IpAddress::Parse(text); }

inline probe::HopRef Ref(int ttl, const char* address) {
  probe::HopRef ref;
  ref.ttl = ttl;
  ref.address = Ip(address);
  ref.address_class = probe::ClassifyAddress(Ip(address));
  return ref;
}

/// A hop whose probes got the given RTTs (nullopt = no answer).
inline probe::Hop MakeHop(int ttl, std::optional<const char*> address,
                          const std::vector<std::optional<double>>& rtts_ms,
                          probe::HopReply reply = probe::HopReply::kTimeExceeded) {
  probe::Hop hop;
  hop.ttl = ttl;
  if (address) hop.address = Ip(*address);
  for (const auto& rtt : rtts_ms) {
    probe::ProbeSample s;
    s.rtt_ms = rtt;
    if (rtt && address) s.from = Ip(*address);
    hop.probes.push_back(s);
  }
  hop.reply = hop.address ? reply : probe::HopReply::kNone;
  return hop;
}

inline TargetSnapshot MakeTarget(const std::string& host, std::uint16_t port,
                                 std::map<std::string, std::string> labels = {}) {
  TargetSnapshot t;
  t.host = host;
  t.port = port;
  t.target = host + ":" + std::to_string(port);
  t.labels = std::move(labels);
  return t;
}

inline probe::TraceResult BaseResult(const TargetSnapshot& t, const char* address) {
  probe::TraceResult r;
  r.target = t.target;
  r.host = t.host;
  r.port = t.port;
  if (address) r.address = Ip(address);
  r.duration = std::chrono::milliseconds(1500);
  r.finished_at = 1700000000.5;
  return r;
}

/// db.example.com:5432 open at hop 3, hop 2 silent.
inline TargetSnapshot OpenTarget() {
  TargetSnapshot t = MakeTarget("db.example.com", 5432, {{"team", "storage"}, {"env", "prod"}});
  probe::TraceResult r = BaseResult(t, "192.0.2.10");
  r.outcome = probe::Outcome::kOpen;
  r.destination_reached = true;
  r.hops = {MakeHop(1, "10.0.0.1", {1.0, std::nullopt, 3.0}),
            MakeHop(2, std::nullopt, {std::nullopt, std::nullopt, std::nullopt}),
            MakeHop(3, "192.0.2.10", {12.0}, probe::HopReply::kSynAck)};
  r.last_responding_hop = Ref(3, "192.0.2.10");
  r.probes_sent = 7;
  t.last = r;
  t.skipped_rounds = 1;
  return t;
}

/// web.example.com:443 silently dropped after the carrier-grade NAT at hop 2.
inline TargetSnapshot FilteredTarget() {
  TargetSnapshot t = MakeTarget("web.example.com", 443, {{"team", "web"}});
  probe::TraceResult r = BaseResult(t, "203.0.113.5");
  r.outcome = probe::Outcome::kFiltered;
  r.hops = {MakeHop(1, "192.168.1.1", {0.5, 0.7}), MakeHop(2, "100.64.0.1", {4.0, 6.0}),
            MakeHop(3, std::nullopt, {std::nullopt, std::nullopt}),
            MakeHop(4, std::nullopt, {std::nullopt, std::nullopt})};
  r.last_responding_hop = Ref(2, "100.64.0.1");
  r.blocked_hop = Ref(2, "100.64.0.1");
  t.last = r;
  return t;
}

/// mail.example.com:25 refused by a carrier's router at hop 2 (!X).
inline TargetSnapshot ProhibitedTarget() {
  TargetSnapshot t = MakeTarget("mail.example.com", 25);
  probe::TraceResult r = BaseResult(t, "198.51.100.25");
  r.outcome = probe::Outcome::kProhibited;
  r.hops = {MakeHop(1, "10.0.0.1", {1.0}),
            MakeHop(2, "93.184.216.34", {9.0}, probe::HopReply::kUnreachable)};
  r.hops[1].marker = "!X";
  r.icmp_type = 3;
  r.icmp_code = 13;
  r.marker = "!X";
  r.last_responding_hop = Ref(2, "93.184.216.34");
  r.blocked_hop = Ref(2, "93.184.216.34");
  t.last = r;
  return t;
}

/// nope.invalid:80 could not be traced at all.
inline TargetSnapshot ErrorTarget() {
  TargetSnapshot t = MakeTarget("nope.invalid", 80);
  probe::TraceResult r = BaseResult(t, nullptr);
  r.outcome = probe::Outcome::kError;
  r.error = "cannot resolve nope.invalid: Name or service not known";
  r.duration = std::chrono::milliseconds(0);
  t.last = r;
  return t;
}

/// new.example.com:22, configured but not traced yet.
inline TargetSnapshot PendingTarget() {
  TargetSnapshot t = MakeTarget("new.example.com", 22, {{"team", "ops"}});
  t.skipped_rounds = 3;
  return t;
}

inline Snapshot RichSnapshot() {
  Snapshot s;
  s.targets = {OpenTarget(), FilteredTarget(), ProhibitedTarget(), ErrorTarget(), PendingTarget()};
  s.engine.probes_sent = 1234;
  s.engine.send_errors = 2;
  s.engine.replies_by_type = {100, 3, 40, 5};
  s.engine.dropped[static_cast<std::size_t>(packet::DropReason::kUnrelatedIcmp)] = 17;
  s.engine.dropped[static_cast<std::size_t>(packet::DropReason::kDuplicate)] = 1;
  s.traces_by_outcome = {10, 0, 4, 2, 0, 1};
  s.last_reload_successful = false;
  s.last_reload_success_timestamp = 1699999000;
  s.reloads_total = 3;
  s.reload_failures_total = 1;
  return s;
}

}  // namespace portpath::exporter::test_data
