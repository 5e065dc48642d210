#pragma once
/// Labels a trace result's hops, and above all its blocked hop, with their AS
/// number and organisation. Pure over an immutable database; thread-safe.

#include "probe/asn/asn_database.h"
#include "probe/trace_result.h"

namespace portpath::asn {

void AnnotateWithAsn(probe::TraceResult& result, const AsnDatabase& database);
/// The same for a whole measurement: also each ECMP path's hops and blocked hop.
void AnnotateRound(probe::TraceResult& result, const AsnDatabase& database);

}  // namespace portpath::asn
