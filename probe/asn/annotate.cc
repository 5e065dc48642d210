#include "probe/asn/annotate.h"

namespace portpath::asn {

void AnnotateWithAsn(probe::TraceResult& result, const AsnDatabase& database) {
  for (probe::Hop& hop : result.hops) {
    if (!hop.address) continue;
    if (auto info = database.Lookup(*hop.address)) {
      hop.asn = info->asn;
      hop.as_org = info->org;
    }
  }
  for (auto* ref : {&result.blocked_hop, &result.last_responding_hop}) {
    if (!*ref || !(*ref)->address) continue;
    if (auto info = database.Lookup(*(*ref)->address)) {
      (*ref)->asn = info->asn;
      (*ref)->as_org = info->org;
    }
  }
}

void AnnotateRound(probe::TraceResult& result, const AsnDatabase& database) {
  AnnotateWithAsn(result, database);
  for (probe::PathSummary& p : result.paths) {
    probe::TraceResult view;  // a path's hops get the same annotation
    view.hops = std::move(p.hops);
    view.blocked_hop = std::move(p.blocked_hop);
    AnnotateWithAsn(view, database);
    p.hops = std::move(view.hops);
    p.blocked_hop = std::move(view.blocked_hop);
  }
}

}  // namespace portpath::asn
