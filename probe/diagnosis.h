#pragma once
/// Reads a TCP trace together with an ICMP echo (ping) trace of the same
/// destination, the way a person compares `ping`, `traceroute -I` and
/// `traceroute -T`: is the host up, where do the two paths part ways, and did
/// the TCP answer really come from the destination? Pure and thread-safe.

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

}  // namespace portpath::probe
