#pragma once
/// Captures replies with libpcap: immediate mode, inbound only, with a BPF
/// filter narrowed to ICMP errors and TCP to our source-port range. Not
/// thread-safe.

#include <pcap/pcap.h>

#include <memory>
#include <optional>
#include <string>

#include "probe/packet/reply.h"
#include "probe/seams.h"

namespace portpath::io {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

class PcapSource : public probe::PacketSource {
 public:
  /// Opens the interface ("any" when none is given). Throws MissingCapability
  /// without CAP_NET_RAW, IoError otherwise.
  PcapSource(const std::optional<std::string>& interface, std::uint16_t port_low,
             std::uint16_t port_high);
  void Poll(probe::Duration max_wait, const Handler& handler) override;
  std::uint64_t link_drops() const override { return link_drops_; }
  std::uint64_t capture_drops() const override { return capture_drops_; }

  /// The BPF filter used, for logs and tests.
  static std::string FilterFor(std::uint16_t port_low, std::uint16_t port_high);

 private:
  std::unique_ptr<pcap_t, PcapCloser> pcap_;
  packet::LinkType link_ = packet::LinkType::kEthernet;
  int fd_ = -1;
  std::uint64_t link_drops_ = 0;
  std::uint64_t capture_drops_ = 0;
  /// libpcap's running (32-bit) drop count when last read.
  unsigned int last_ps_drop_ = 0;
  void ReadDrops();
};

}  // namespace portpath::io
