#pragma once
/// Sends complete IPv4/IPv6 packets through raw sockets with header inclusion
/// (IPPROTO_RAW), so the probe controls TTL, IP ID and flow label. Not
/// thread-safe.

#include <optional>
#include <string>

#include "probe/io/fd.h"
#include "probe/seams.h"

namespace portpath::io {

class RawSender : public probe::PacketSender {
 public:
  /// Opens both sockets. Throws MissingCapability without CAP_NET_RAW. An
  /// address family the kernel lacks is skipped (Send then returns EAFNOSUPPORT).
  explicit RawSender(const std::optional<std::string>& interface);
  int Send(const packet::IpAddress& destination, packet::Bytes ip_packet) override;

 private:
  Fd v4_;
  Fd v6_;
};

}  // namespace portpath::io
