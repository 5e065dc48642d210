#pragma once
/// Reads a TCP trace together with an ICMP echo (ping) trace of the same
/// destination, the way a person compares `ping`, `traceroute -I` and
/// `traceroute -T`: is the host up, where do the two paths part ways, and did
/// the TCP answer really come from the destination? Pure and thread-safe.

#include <string>

#include "probe/trace_result.h"

namespace portpath::probe {

/// The usual initial TTLs (Linux/macOS 64, Windows 128, network gear 255): the
/// hops a reply travelled are initial - received + 1 for its sender's distance.
int SenderDistanceFromReplyTtl(int received_ttl);

/// Fills icmp_reachable, icmp_destination_ttl and divergence_hop, and turns an
/// open/closed outcome into answered_by_middlebox/reset_by_middlebox when the
/// TCP reply demonstrably came from closer than the destination: it was drawn
/// by probes too short-lived to reach it (by the ping trace's distance), or it
/// travelled fewer hops back than the destination's own echo reply.
void CompareWithPing(TraceResult& tcp, const TraceResult& icmp);

/// A stable identifier of the path a trace saw: a hash of the answering hop
/// addresses by TTL and of how the trace ended, as 16 hex digits. A hop
/// policed in one round changes it; callers that remember rounds keep the
/// earlier id while PathChanged says the path is the same (see PathIdOf).
std::string PathId(const TraceResult& result);
/// result.path_id where the caller kept an earlier round's identity for the
/// same path (serve), else PathId(result).
std::string PathIdOf(const TraceResult& result);

/// True when `after` shows a different path from `before`: some TTL answered in
/// both from different addresses, or the path ends at a different TTL. A hop
/// that answered in one round only (policing) is not a change.
bool PathChanged(const TraceResult& before, const TraceResult& after);

/// Folds the traces of several flows to one target (ECMP) into `main` (the
/// first flow's result): main.paths lists each distinct path once, with the
/// flows that took it and its own outcome and blocked hop. Flows whose paths
/// differ only by policed (silent) hops count as the same path.
void MergeFlows(TraceResult& main, const std::vector<TraceResult>& other_flows);

}  // namespace portpath::probe
