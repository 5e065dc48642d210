#pragma once
/// An IPv4 or IPv6 address as a plain value (no socket headers), with parsing and
/// formatting. Thread-safe as a value type.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portpath::packet {

enum class Family : std::uint8_t { kIpv4 = 4, kIpv6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress V4(std::uint32_t host_order);
  static IpAddress V4(const std::uint8_t (&b)[4]);
  static IpAddress V6(const std::array<std::uint8_t, 16>& b);
  static IpAddress FromBytes(Family family, const std::uint8_t* data);
  /// Parses a literal ("192.0.2.1", "2001:db8::1"); brackets are not accepted here.
  static std::optional<IpAddress> Parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kIpv4; }
  bool is_v6() const { return family_ == Family::kIpv6; }
  /// 4 or 16 significant bytes; the rest are zero.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  std::uint32_t v4_host_order() const;
  std::string ToString() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  Family family_ = Family::kIpv4;
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace portpath::packet
