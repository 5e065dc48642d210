#include "app/terminal_text.h"

namespace portpath::app {
namespace {

void AppendEscaped(std::string& out, unsigned char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xf];
}

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0.
std::size_t Utf8Length(std::string_view text, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = at(i);
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xbf;  // range of the first continuation byte
  // One branch per alternative of RFC 3629's UTF8-2/3/4 rules (section 4), in its order: equal
  // bodies stay apart so each row can be read against the RFC.
  // NOLINTBEGIN(bugprone-branch-clone)
  if (lead >= 0xc2 && lead <= 0xdf)
    n = 2;
  else if (lead == 0xe0)
    n = 3, low = 0xa0;
  else if (lead >= 0xe1 && lead <= 0xec)
    n = 3;
  else if (lead == 0xed)
    n = 3, high = 0x9f;
  else if (lead >= 0xee && lead <= 0xef)
    n = 3;
  else if (lead == 0xf0)
    n = 4, low = 0x90;
  else if (lead >= 0xf1 && lead <= 0xf3)
    n = 4;
  else if (lead == 0xf4)
    n = 4, high = 0x8f;
  else
    return 0;
  // NOLINTEND(bugprone-branch-clone)
  if (i + n > text.size()) return 0;
  if (at(i + 1) < low || at(i + 1) > high) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
  return n;
}

}  // namespace

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t n = c >= 0x80 ? Utf8Length(text, i) : 0;
    // U+0080-U+009F, the C1 controls, are C2 80 - C2 9F in UTF-8.
    bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if (n == 0 || c1) {
      std::size_t bytes = c1 ? 2 : 1;
      for (std::size_t k = 0; k < bytes; ++k)
        AppendEscaped(out, static_cast<unsigned char>(text[i + k]));
      i += bytes;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace portpath::app
