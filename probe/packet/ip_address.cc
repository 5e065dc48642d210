#include "probe/packet/ip_address.h"

#include <arpa/inet.h>  // inet_pton/inet_ntop: pure text conversions, no I/O

#include <cstring>

namespace portpath::packet {

IpAddress IpAddress::V4(std::uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::kIpv4;
  a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::V4(const std::uint8_t (&b)[4]) { return FromBytes(Family::kIpv4, b); }

IpAddress IpAddress::V6(const std::array<std::uint8_t, 16>& b) {
  return FromBytes(Family::kIpv6, b.data());
}

IpAddress IpAddress::FromBytes(Family family, const std::uint8_t* data) {
  IpAddress a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), data, family == Family::kIpv4 ? 4 : 16);
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  // inet_pton stops at a NUL: "::\0junk" would read as "::" and the rest of the text (a
  // targets file line, a YAML "\0" escape) would vanish unseen. Found by tests/fuzz/fuzz_target.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string s(text);
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return FromBytes(Family::kIpv4, buf);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return FromBytes(Family::kIpv6, buf);
  return std::nullopt;
}

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes_[0]} << 24) | (std::uint32_t{bytes_[1]} << 16) |
         (std::uint32_t{bytes_[2]} << 8) | bytes_[3];
}

std::string IpAddress::ToString() const {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), out, sizeof out);
  return out;
}

}  // namespace portpath::packet
