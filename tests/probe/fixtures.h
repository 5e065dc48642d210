#pragma once
/// Loads the hex packet fixtures under tests/fixtures/packets/: hex digits with any
/// whitespace, and `#` comments to the end of a line. One packet per file, starting at
/// the IP header unless the file says otherwise. The same files seed the fuzzers.

#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "probe/packet/bytes.h"

namespace portpath::testing {

/// Hex text to bytes; throws std::invalid_argument on a stray character or an odd
/// number of digits, so a damaged fixture fails loudly instead of decoding as garbage.
inline std::vector<std::uint8_t> ParseHex(std::string_view text) {
  std::vector<std::uint8_t> out;
  int high = -1;
  bool comment = false;
  for (char c : text) {
    if (comment) {
      comment = c != '\n';
      continue;
    }
    if (c == '#') {
      comment = true;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      throw std::invalid_argument(std::string("not a hex digit: '") + c + "'");
    int v = std::isdigit(static_cast<unsigned char>(c))
                ? c - '0'
                : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

/// Reads tests/fixtures/packets/<name>.
inline std::vector<std::uint8_t> LoadPacket(const std::string& name) {
  std::string path = std::string(PORTPATH_FIXTURES) + "/packets/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  std::stringstream text;
  text << in.rdbuf();
  return ParseHex(text.str());
}

/// Every reply fixture (IP header first), for loops over all of them.
inline const std::vector<std::string>& ReplyFixtures() {
  static const std::vector<std::string> names = {
      "v4_time_exceeded.hex",
      "v6_time_exceeded.hex",
      "v4_syn_ack.hex",
      "v6_syn_ack.hex",
      "v4_rst.hex",
      "v6_rst.hex",
      "v4_admin_prohibited.hex",
      "v6_admin_prohibited.hex",
      "v4_host_unreachable.hex",
      "v6_address_unreachable.hex",
      "v4_net_unreachable.hex",
      "v6_no_route.hex",
  };
  return names;
}

/// Recomputes the ICMP/ICMPv6 checksum of an IP packet (no IPv4 options, no IPv6
/// extension headers) after a test built or edited it: the decoder drops
/// messages whose checksum does not verify.
inline void FixIcmpChecksum(std::vector<std::uint8_t>& ip) {
  if (ip.size() < 20) return;
  bool v6 = (ip[0] >> 4) == 6;
  std::size_t at = v6 ? 40 : static_cast<std::size_t>(ip.at(0) & 0x0f) * 4;
  if (ip.size() < at + 4 || ip.at(v6 ? 6 : 9) != (v6 ? 58 : 1)) return;
  ip[at + 2] = ip[at + 3] = 0;
  packet::InternetChecksum sum;
  if (v6) {
    sum.add(packet::Bytes(ip.data() + 8, 32));  // source and destination
    sum.add_u32(static_cast<std::uint32_t>(ip.size() - at));
    sum.add_u32(58);
  }
  sum.add(packet::Bytes(ip.data() + at, ip.size() - at));
  std::uint16_t c = sum.finish();
  ip[at + 2] = static_cast<std::uint8_t>(c >> 8);
  ip[at + 3] = static_cast<std::uint8_t>(c);
}

}  // namespace portpath::testing
