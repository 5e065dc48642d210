#pragma once
/// The packet-level transport: probes built byte by byte (the probe id in the
/// TCP sequence number and the echo identifier/sequence), sent through a
/// PacketSender, and every captured packet from a PacketSource decoded and
/// matched to its probe by the matcher. Pure: the sender and source are seams
/// (raw sockets and libpcap in probe/io/, fakes in tests). Not thread-safe.

#include <cstdint>

#include "probe/matcher.h"
#include "probe/packet/probe_id.h"
#include "probe/seams.h"

namespace portpath::probe {

class PacketTransport : public ProbeTransport {
 public:
  /// `key` scrambles every probe id (packet/probe_id.h): a forged reply has to
  /// guess its 32 bits.
  PacketTransport(PacketSender& sender, PacketSource& source, std::uint32_t key);

  ProbeMode mode() const override { return ProbeMode::kRaw; }
  bool SupportsEcho(bool) const override { return true; }
  void BeginTrace(std::uint16_t slot, const Flow& flow) override;
  void EndTrace(std::uint16_t slot) override { flows_.Erase(slot); }
  int Send(const ProbeSpec& probe) override;
  void Poll(Duration max_wait, const Handler& handler) override;
  std::uint64_t link_drops() const override { return source_.link_drops(); }
  std::uint64_t capture_drops() const override { return source_.capture_drops(); }

 private:
  PacketSender& sender_;
  PacketSource& source_;
  packet::ProbeIdCodec codec_;
  FlowTable flows_;
};

}  // namespace portpath::probe
