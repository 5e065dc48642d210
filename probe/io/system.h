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

}  // namespace portpath::io
