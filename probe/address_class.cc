#include "probe/address_class.h"

#include <cstdint>

namespace portpath::probe {
namespace {

bool InV4(std::uint32_t a, std::uint32_t net, int bits) {
  std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (a & mask) == net;
}

constexpr std::uint32_t Ip4(int a, int b, int c, int d) {
  return (std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) |
         std::uint32_t(d);
}

AddressClass ClassifyV4(std::uint32_t a) {
  if (InV4(a, Ip4(10, 0, 0, 0), 8) || InV4(a, Ip4(172, 16, 0, 0), 12) ||
      InV4(a, Ip4(192, 168, 0, 0), 16))
    return AddressClass::kPrivate;
  if (InV4(a, Ip4(100, 64, 0, 0), 10)) return AddressClass::kShared;
  if (InV4(a, Ip4(127, 0, 0, 0), 8)) return AddressClass::kLoopback;
  if (InV4(a, Ip4(169, 254, 0, 0), 16)) return AddressClass::kLinkLocal;
  if (InV4(a, Ip4(192, 0, 2, 0), 24) || InV4(a, Ip4(198, 51, 100, 0), 24) ||
      InV4(a, Ip4(203, 0, 113, 0), 24))
    return AddressClass::kDocumentation;
  if (InV4(a, Ip4(198, 18, 0, 0), 15)) return AddressClass::kBenchmarking;
  if (InV4(a, Ip4(224, 0, 0, 0), 4)) return AddressClass::kMulticast;
  if (InV4(a, Ip4(0, 0, 0, 0), 8) || InV4(a, Ip4(240, 0, 0, 0), 4) ||
      InV4(a, Ip4(192, 0, 0, 0), 24) || InV4(a, Ip4(192, 88, 99, 0), 24))
    return AddressClass::kReserved;
  return AddressClass::kPublic;
}

bool Prefix6(const std::array<std::uint8_t, 16>& b, std::initializer_list<std::uint8_t> prefix,
             int bits) {
  int i = 0;
  for (std::uint8_t p : prefix) {
    int take = bits - i * 8;
    if (take <= 0) break;
    std::uint8_t mask = take >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - take));
    if ((b[i] & mask) != (p & mask)) return false;
    ++i;
  }
  return true;
}

AddressClass ClassifyV6(const std::array<std::uint8_t, 16>& b) {
  // IPv4-mapped (::ffff:0:0/96): classify the embedded IPv4 address.
  if (Prefix6(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96))
    return ClassifyV4((std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
                      (std::uint32_t{b[14]} << 8) | b[15]);
  bool all_zero_but_last = true;
  for (int i = 0; i < 15; ++i) all_zero_but_last &= b[i] == 0;
  if (all_zero_but_last && b[15] == 1) return AddressClass::kLoopback;
  if (all_zero_but_last && b[15] == 0) return AddressClass::kReserved;
  if (Prefix6(b, {0xfc}, 7)) return AddressClass::kUniqueLocal;
  if (Prefix6(b, {0xfe, 0x80}, 10)) return AddressClass::kLinkLocal;
  if (Prefix6(b, {0xff}, 8)) return AddressClass::kMulticast;
  if (Prefix6(b, {0x20, 0x01, 0x0d, 0xb8}, 32) || Prefix6(b, {0x3f, 0xff, 0x00}, 20))
    return AddressClass::kDocumentation;
  if (Prefix6(b, {0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48)) return AddressClass::kBenchmarking;
  if (Prefix6(b, {0x01, 0x00, 0, 0, 0, 0, 0, 0}, 64)) return AddressClass::kReserved;  // discard
  if (Prefix6(b, {0x20, 0x01, 0x00}, 23))
    return AddressClass::kReserved;  // IETF protocol assignments
  return AddressClass::kPublic;
}

}  // namespace

AddressClass ClassifyAddress(const packet::IpAddress& address) {
  return address.is_v4() ? ClassifyV4(address.v4_host_order()) : ClassifyV6(address.bytes());
}

std::string_view ToString(AddressClass c) {
  switch (c) {
    case AddressClass::kPrivate:
      return "private";
    case AddressClass::kShared:
      return "shared";
    case AddressClass::kLoopback:
      return "loopback";
    case AddressClass::kLinkLocal:
      return "link-local";
    case AddressClass::kUniqueLocal:
      return "unique-local";
    case AddressClass::kDocumentation:
      return "documentation";
    case AddressClass::kBenchmarking:
      return "benchmarking";
    case AddressClass::kMulticast:
      return "multicast";
    case AddressClass::kReserved:
      return "reserved";
    case AddressClass::kPublic:
      return "public";
  }
  return "unknown";
}

bool IsIntranet(AddressClass c) {
  return c == AddressClass::kPrivate || c == AddressClass::kShared ||
         c == AddressClass::kUniqueLocal || c == AddressClass::kLinkLocal ||
         c == AddressClass::kLoopback;
}

}  // namespace portpath::probe
