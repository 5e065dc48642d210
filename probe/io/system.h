#pragma once
/// Small system helpers: the wall clock and the kernel's choice of source
/// address toward a destination.

#include <optional>
#include <string>

#include "probe/packet/ip_address.h"
#include "probe/seams.h"

namespace portpath::io {

class SystemClock : public probe::TimeSource {
 public:
  probe::TimePoint Now() override {
    return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
  }
};

/// The source address the kernel would use toward destination (a connected UDP
/// socket sends nothing), or an error message such as "Network is unreachable".
struct SourceLookup {
  std::optional<packet::IpAddress> address;
  std::string error;
};
SourceLookup SourceAddressFor(const packet::IpAddress& destination,
                              const std::optional<std::string>& interface);

/// Which address family a host name may resolve to.
enum class FamilyFilter { kAny, kIpv4, kIpv6 };

/// Resolves a host name (or takes an IP literal as it is) to the first address
/// of an allowed family, with getaddrinfo. nullopt with `error` set on failure
/// ("cannot resolve HOST: <resolver's reason>").
std::optional<packet::IpAddress> ResolveHost(const std::string& host, FamilyFilter family,
                                             std::string& error);

}  // namespace portpath::io
