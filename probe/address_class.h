#pragma once
/// Classifies an address per the IANA IPv4 and IPv6 special-purpose address
/// registries (RFC 6890 and successors). Pure and thread-safe.

#include <string_view>

#include "probe/packet/ip_address.h"

namespace portpath::probe {

enum class AddressClass {
  kPrivate,  // RFC 1918, and IPv4-mapped private
  kShared,   // 100.64.0.0/10, carrier-grade NAT (RFC 6598)
  kLoopback,
  kLinkLocal,
  kUniqueLocal,    // fc00::/7 (RFC 4193)
  kDocumentation,  // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20
  kBenchmarking,   // 198.18.0.0/15, 2001:2::/48
  kMulticast,
  kReserved,  // other special-purpose space (0/8, 240/4, 192.0.0/24, ...)
  kPublic,
};

AddressClass ClassifyAddress(const packet::IpAddress& address);
std::string_view ToString(AddressClass c);
/// True where the address belongs to someone's own network rather than a
/// carrier's: private, shared (CGNAT), unique-local, link-local, loopback.
bool IsIntranet(AddressClass c);

}  // namespace portpath::probe
