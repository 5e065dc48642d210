#include "probe/matcher.h"

namespace portpath::probe {

MatchResult MatchReply(const FlowTable& table, const packet::ProbeIdCodec& codec,
                       const packet::Reply& reply) {
  const packet::ProbeFlow& p = reply.probe;
  std::uint16_t slot = codec.SlotOf(p.sequence);
  const Flow* flow = table.Find(slot);
  if (!flow) return packet::DropReason::kNoSuchTrace;
  bool echo_of_tcp_trace =
      flow->protocol == packet::kProtoTcp && flow->sends_echo && p.protocol != packet::kProtoTcp;
  if (echo_of_tcp_trace) {
    if (p.destination != flow->destination || p.source_port != flow->echo_identifier ||
        p.destination_port != 0)
      return packet::DropReason::kFlowMismatch;
  } else if (p.protocol != flow->protocol || p.destination != flow->destination ||
             p.destination_port != flow->destination_port || p.source_port != flow->source_port) {
    return packet::DropReason::kFlowMismatch;
  }
  // A SYN-ACK, RST or echo reply names the destination as its sender; anything
  // else claiming our flow is someone else's packet.
  bool from_destination = reply.type == packet::ReplyType::kSynAck ||
                          reply.type == packet::ReplyType::kRst ||
                          reply.type == packet::ReplyType::kEchoReply;
  if (from_destination && reply.from != flow->destination) return packet::DropReason::kFlowMismatch;
  packet::ProbeId id = codec.Decode(p.sequence, flow->nonce);
  if (id.ttl == 0) return packet::DropReason::kUnknownProbe;
  return id;
}

}  // namespace portpath::probe
