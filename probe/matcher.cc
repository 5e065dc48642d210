#include "probe/matcher.h"

namespace portpath::probe {

MatchResult MatchReply(const FlowTable& table, const packet::ProbeIdCodec& codec,
                       const packet::Reply& reply) {
  const packet::ProbeFlow& p = reply.probe;
  std::uint16_t slot = codec.SlotOf(p.sequence);
  const Flow* flow = table.Find(slot);
  if (!flow) return packet::DropReason::kNoSuchTrace;
  if (p.destination != flow->destination || p.destination_port != flow->destination_port ||
      p.source_port != flow->source_port)
    return packet::DropReason::kFlowMismatch;
  // A TCP answer names the destination as its sender; anything else claiming
  // our flow is someone else's packet.
  bool tcp = reply.type == packet::ReplyType::kSynAck || reply.type == packet::ReplyType::kRst;
  if (tcp && reply.from != flow->destination) return packet::DropReason::kFlowMismatch;
  packet::ProbeId id = codec.Decode(p.sequence, flow->nonce);
  if (id.ttl == 0) return packet::DropReason::kUnknownProbe;
  return id;
}

}  // namespace portpath::probe
