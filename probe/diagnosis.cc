#include "probe/diagnosis.h"

#include <algorithm>
#include <cstdio>

namespace portpath::probe {

int SenderDistanceFromReplyTtl(int received_ttl) {
  int initial = received_ttl <= 64 ? 64 : received_ttl <= 128 ? 128 : 255;
  return initial - received_ttl + 1;
}

namespace {

const Hop* HopAt(const TraceResult& r, int ttl) {
  for (const Hop& h : r.hops)
    if (h.ttl == ttl) return &h;
  return nullptr;
}

}  // namespace

void CompareWithPing(TraceResult& tcp, const TraceResult& icmp) {
  if (tcp.outcome == Outcome::kError || icmp.outcome == Outcome::kError) return;
  bool pingable = icmp.outcome == Outcome::kOpen && icmp.destination_reached;
  tcp.icmp_reachable = pingable;
  if (pingable && icmp.last_responding_hop)
    tcp.icmp_destination_ttl = icmp.last_responding_hop->ttl;

  // A "destination" answer drawn by a probe whose TTL could not reach the
  // destination, or one that travelled fewer hops back than the destination's
  // echo reply, was sent by something in between.
  if ((tcp.outcome == Outcome::kOpen || tcp.outcome == Outcome::kClosed) && pingable &&
      tcp.last_responding_hop && tcp.icmp_destination_ttl) {
    int drawn_at = tcp.last_responding_hop->ttl;
    bool too_short = drawn_at < *tcp.icmp_destination_ttl;
    std::optional<int> sender_distance;
    if (tcp.reply_ttl) sender_distance = SenderDistanceFromReplyTtl(*tcp.reply_ttl);
    bool came_from_closer = sender_distance && icmp.reply_ttl &&
                            *sender_distance < SenderDistanceFromReplyTtl(*icmp.reply_ttl);
    if (too_short || came_from_closer) {
      // The forging node sits where the reply TTL says, if that is consistent
      // with the probes that drew it; else just before the first such probe (a
      // router rejects a probe one hop after the one that expires on it).
      int distance = drawn_at - 1;
      if (sender_distance && *sender_distance >= 1 && *sender_distance <= drawn_at)
        distance = *sender_distance;
      distance = std::max(distance, 1);
      HopRef ref;
      ref.ttl = distance;
      if (const Hop* h = HopAt(tcp, distance); h && h->address && *h->address != *tcp.address) {
        ref.address = h->address;
        ref.address_class = ClassifyAddress(*h->address);
      }
      tcp.outcome = tcp.outcome == Outcome::kClosed ? Outcome::kResetByMiddlebox
                                                    : Outcome::kAnsweredByMiddlebox;
      tcp.destination_reached = false;
      tcp.blocked_hop = ref;
    }
  }

  // Where the paths part ways: the first TTL at which both answered from
  // different addresses; otherwise, when ping gets further than TCP, the last
  // hop the TCP probes reached.
  for (const Hop& t : tcp.hops) {
    const Hop* i = HopAt(icmp, t.ttl);
    if (i && t.address && i->address && *t.address != *i->address &&
        t.reply == HopReply::kTimeExceeded && i->reply == HopReply::kTimeExceeded) {
      tcp.divergence_hop = t.ttl - 1;
      return;
    }
  }
  // Without a confirmed end of the TCP path there is no place to say they part.
  if (!tcp.blocked_hop_confirmed) return;
  int tcp_reach = tcp.last_responding_hop ? tcp.last_responding_hop->ttl : 0;
  if (tcp.outcome == Outcome::kProhibited || tcp.outcome == Outcome::kUnreachable ||
      tcp.outcome == Outcome::kResetByMiddlebox || tcp.outcome == Outcome::kAnsweredByMiddlebox)
    tcp_reach = tcp.blocked_hop ? tcp.blocked_hop->ttl : tcp_reach;
  int icmp_reach = icmp.last_responding_hop ? icmp.last_responding_hop->ttl : 0;
  if (icmp_reach > tcp_reach && tcp.outcome != Outcome::kOpen && tcp.outcome != Outcome::kClosed)
    tcp.divergence_hop = tcp_reach;
}

namespace {

// Where the path ends: the destination's distance, or the blocked hop.
int EndTtl(const TraceResult& r) {
  if (r.blocked_hop) return r.blocked_hop->ttl;
  if (r.last_responding_hop) return r.last_responding_hop->ttl;
  return 0;
}

}  // namespace

std::string PathId(const TraceResult& result) {
  // FNV-1a: stable across runs and builds, unlike std::hash.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  for (const Hop& hop : result.hops)
    if (hop.address) mix(std::to_string(hop.ttl) + "=" + hop.address->ToString() + ";");
  mix("end=" + std::to_string(EndTtl(result)));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string PathIdOf(const TraceResult& result) {
  return result.path_id.empty() ? PathId(result) : result.path_id;
}

bool PathChanged(const TraceResult& before, const TraceResult& after) {
  if (before.outcome == Outcome::kError || after.outcome == Outcome::kError) return false;
  // Where an unconfirmed round ends says nothing: its last hop may be policed.
  if (before.blocked_hop_confirmed && after.blocked_hop_confirmed &&
      EndTtl(before) != EndTtl(after))
    return true;
  for (const Hop& a : after.hops) {
    if (!a.address) continue;
    const Hop* b = HopAt(before, a.ttl);
    if (b && b->address && *b->address != *a.address) return true;
  }
  return false;
}

void MergeFlows(TraceResult& main, const std::vector<TraceResult>& other_flows) {
  std::vector<const TraceResult*> all{&main};
  for (const TraceResult& r : other_flows) all.push_back(&r);
  std::vector<std::pair<const TraceResult*, PathSummary>> groups;
  for (const TraceResult* r : all) {
    if (r->outcome == Outcome::kError) continue;
    auto same = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
      return g.first->outcome == r->outcome && !PathChanged(*g.first, *r);
    });
    if (same != groups.end()) {
      same->second.source_ports.push_back(r->source_port);
      continue;
    }
    PathSummary p;
    p.path_id = PathId(*r);
    p.source_ports.push_back(r->source_port);
    p.outcome = r->outcome;
    p.blocked_hop = r->blocked_hop;
    p.hops = r->hops;
    groups.emplace_back(r, std::move(p));
  }
  main.paths.clear();
  for (auto& g : groups) main.paths.push_back(std::move(g.second));
}

}  // namespace portpath::probe
