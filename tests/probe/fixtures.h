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

}  // namespace portpath::testing
