#include "probe/packet_transport.h"

#include <cerrno>
#include <vector>

#include "probe/packet/echo_probe.h"
#include "probe/packet/tcp_probe.h"

namespace portpath::probe {

PacketTransport::PacketTransport(PacketSender& sender, PacketSource& source, std::uint32_t key)
    : sender_(sender), source_(source), codec_(key) {}

void PacketTransport::BeginTrace(std::uint16_t slot, const Flow& flow) {
  Flow stored = flow;
  // The echo identifier is the high half of the encoded probe id: constant for
  // the trace (slot XOR key), like a Paris source port, and the matcher reads
  // the slot back from it.
  if (stored.sends_echo)
    stored.echo_identifier =
        static_cast<std::uint16_t>(codec_.Encode(packet::ProbeId{slot, 0, 0}, 0) >> 16);
  flows_.Insert(slot, stored);
}

int PacketTransport::Send(const ProbeSpec& spec) {
  const Flow* flow = flows_.Find(spec.id.slot);
  if (!flow) return EINVAL;
  std::uint32_t sequence = codec_.Encode(spec.id, flow->nonce);
  std::vector<std::uint8_t> bytes;
  if (spec.kind == ProbeKind::kTcpSyn) {
    packet::SynProbe probe;
    probe.source = flow->source;
    probe.destination = flow->destination;
    probe.source_port = flow->source_port;
    probe.destination_port = flow->destination_port;
    probe.sequence = sequence;
    probe.ttl = spec.id.ttl;
    probe.ip_id = flow->ip_id;
    probe.flow_label = flow->flow_label;
    bytes = packet::BuildSynProbe(probe);
  } else {
    packet::EchoProbe probe;
    probe.source = flow->source;
    probe.destination = flow->destination;
    probe.identifier = static_cast<std::uint16_t>(sequence >> 16);
    probe.sequence = static_cast<std::uint16_t>(sequence);
    probe.ttl = spec.id.ttl;
    probe.ip_id = flow->ip_id;
    probe.flow_label = flow->flow_label;
    probe.checksum = flow->echo_checksum;
    bytes = packet::BuildEchoProbe(probe);
  }
  return sender_.Send(flow->destination, bytes);
}

void PacketTransport::Poll(Duration max_wait, const Handler& handler) {
  source_.Poll(max_wait, [&](packet::Bytes ip_packet, TimePoint received) {
    ProbeEvent event;
    event.received = received;
    packet::DecodeResult decoded = packet::DecodeReply(ip_packet);
    if (auto* reason = std::get_if<packet::DropReason>(&decoded)) {
      event.probe = *reason;
      handler(event);
      return;
    }
    event.reply = std::move(std::get<packet::Reply>(decoded));
    MatchResult match = MatchReply(flows_, codec_, event.reply);
    if (auto* reason = std::get_if<packet::DropReason>(&match))
      event.probe = *reason;
    else
      event.probe = std::get<packet::ProbeId>(match);
    handler(event);
  });
}

}  // namespace portpath::probe
