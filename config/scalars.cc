#include "config/scalars.h"

// inet_pton is the one libc routine used here. It only parses text, it opens nothing, and
// hand-writing an IPv6 parser that agrees with the kernel's on every corner (embedded IPv4, "::"
// placement) would be a worse trade than a socket-family header.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace portpath::config {
namespace {

using std::chrono::milliseconds;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// More than 30 years: far outside every range the config accepts, yet small enough that a few of
// them can be added without overflowing int64_t.
constexpr int64_t kHugeMs = 1'000'000'000'000'000;

// Digits beyond these make a number too large (integer part) or too precise (fraction) for the
// arithmetic below to stay inside int64_t; 10^12 h is already clamped anyway.
constexpr size_t kMaxIntegerDigits = 12;
constexpr size_t kMaxFractionDigits = 9;

int64_t ParseDigits(std::string_view digits) {
  int64_t v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

int64_t Pow10(size_t n) {
  int64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Largest first: a duration must list its parts in this order, each at most once, which rules
// out ambiguous spellings such as "30s1m" and matches Prometheus' duration syntax.
constexpr std::array<Unit, 4> kUnits{{{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

bool IsPrintableAscii(char c) { return c >= 0x20 && c < 0x7f; }

// Values quoted in problem texts come from files and command lines: a host holding ESC [ 2 J
// must not clear the screen of whoever reads the error.
std::string Quote(std::string_view s) { return "'" + EscapeForDisplay(s) + "'"; }

std::string DescribeChar(char c) {
  if (c == ' ') return "a space";
  if ((static_cast<unsigned char>(c) & 0x80) != 0) {
    return "a non-ASCII character (write internationalized names in their xn-- form)";
  }
  if (!IsPrintableAscii(c)) return "a control character " + Quote(std::string_view(&c, 1));
  return Quote(std::string_view(&c, 1));
}

}  // namespace

std::optional<std::array<uint8_t, 4>> ParseIpv4(std::string_view text) {
  std::array<uint8_t, 4> out{};
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<std::array<uint8_t, 16>> ParseIpv6(std::string_view text) {
  std::array<uint8_t, 16> out{};
  std::string s(text);
  if (inet_pton(AF_INET6, s.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (AllDigits(text)) {
    // A bare integer is seconds, the unit every interval in the schema is usually written in.
    if (text.size() > kMaxIntegerDigits) return milliseconds(kHugeMs);
    return milliseconds(std::min(ParseDigits(text) * 1000, kHugeMs));
  }

  int64_t total = 0;
  size_t next_unit = 0;  // index into kUnits of the smallest unit still allowed
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    std::string_view integer = text.substr(start, i - start);
    std::string_view fraction;
    if (i < text.size() && text[i] == '.') {
      size_t frac_start = ++i;
      while (i < text.size() && IsDigit(text[i])) ++i;
      fraction = text.substr(frac_start, i - frac_start);
      if (fraction.empty()) return std::nullopt;  // "1.s"
    }
    if (integer.empty() && fraction.empty()) return std::nullopt;
    if (fraction.size() > kMaxFractionDigits) return std::nullopt;

    size_t unit_start = i;
    while (i < text.size() && IsAlpha(text[i])) ++i;
    std::string_view unit_name = text.substr(unit_start, i - unit_start);
    auto unit = std::find_if(kUnits.begin() + static_cast<std::ptrdiff_t>(next_unit), kUnits.end(),
                             [&](const Unit& u) { return u.name == unit_name; });
    if (unit == kUnits.end()) return std::nullopt;  // unknown, repeated or out of order
    next_unit = static_cast<size_t>(unit - kUnits.begin()) + 1;

    if (integer.size() > kMaxIntegerDigits) {
      total = kHugeMs;
      continue;
    }
    int64_t part = ParseDigits(integer) * unit->ms;
    if (!fraction.empty()) {
      int64_t scaled = ParseDigits(fraction) * unit->ms;
      int64_t denominator = Pow10(fraction.size());
      // Probes are scheduled in whole milliseconds; "0.5ms" would silently become 0.
      if (scaled % denominator != 0) return std::nullopt;
      part += scaled / denominator;
    }
    total = std::min(total + std::min(part, kHugeMs), kHugeMs);
  }
  return milliseconds(total);
}

std::string FormatDuration(milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms < 0) return "-" + FormatDuration(milliseconds(-ms));
  // "1500ms" reads better than "1s500ms" for the short values jitter and timeouts take.
  if (ms < 60'000 && ms % 1000 != 0) return std::to_string(ms) + "ms";
  std::string out;
  for (const Unit& unit : kUnits) {
    if (ms >= unit.ms) {
      out += std::to_string(ms / unit.ms);
      out += unit.name;
      ms %= unit.ms;
    }
  }
  return out;
}

std::optional<int64_t> ParsePercentHundredths(std::string_view text) {
  if (text.size() < 2 || text.back() != '%') return std::nullopt;
  text.remove_suffix(1);
  size_t dot = text.find('.');
  std::string_view integer = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (!AllDigits(integer) || integer.size() > kMaxIntegerDigits) return std::nullopt;
  if (dot != std::string_view::npos && (!AllDigits(fraction) || fraction.size() > 2)) {
    return std::nullopt;
  }
  int64_t value = ParseDigits(integer) * 100;
  if (!fraction.empty()) value += ParseDigits(fraction) * (fraction.size() == 1 ? 10 : 1);
  return value;
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<uint16_t> ParsePort(std::string_view text) {
  std::optional<int64_t> value = ParseInteger(text);
  if (!value || *value < 1 || *value > 65535) return std::nullopt;
  return static_cast<uint16_t>(*value);
}

std::string EscapeForDisplay(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (IsPrintableAscii(c)) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool IsIpLiteral(std::string_view text) {
  return ParseIpv4(text).has_value() || ParseIpv6(text).has_value();
}

HostCheck CheckHost(std::string_view host) {
  auto invalid = [&](std::string_view why) {
    return HostCheck{std::nullopt,
                     Quote(host) + " is not a valid host name or IP address: " + std::string(why)};
  };
  if (host.empty()) return {std::nullopt, "the host is empty"};
  if (ParseIpv4(host)) return {HostKind::kIpv4, ""};
  if (ParseIpv6(host)) return {HostKind::kIpv6, ""};

  if (host.front() == '[') {
    size_t close = host.find(']');
    std::string_view inner =
        host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
    std::string hint = ParseIpv6(inner) ? ", as " + std::string(inner) : "";
    return {std::nullopt, Quote(host) + " has brackets: write IPv6 addresses without them" + hint +
                              (close != std::string_view::npos && close + 1 < host.size()
                                   ? ", and list ports under 'ports'"
                                   : "")};
  }
  if (host.find("://") != std::string_view::npos) {
    return {std::nullopt, Quote(host) + " is a URL: give only the host name or IP address"};
  }
  if (size_t percent = host.find('%'); percent != std::string_view::npos) {
    if (ParseIpv6(host.substr(0, percent))) {
      return {std::nullopt, Quote(host) +
                                " has an IPv6 zone index, which is not supported; "
                                "use a global address and set 'interface' if needed"};
    }
  }
  if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    // One colon followed by digits is "host:port"; more colons is a malformed IPv6 address.
    if (host.find(':') == colon && AllDigits(host.substr(colon + 1))) {
      return {std::nullopt, Quote(host) + " contains a port: list ports under 'ports'"};
    }
    return {std::nullopt, Quote(host) + " is not a valid IPv6 address"};
  }

  std::string_view name = host;
  if (name.back() == '.') name.remove_suffix(1);  // a fully qualified name may end in a dot
  if (name.empty()) return invalid("it has no labels");
  // RFC 1035 limits a name to 255 octets on the wire, which is 253 characters of text.
  if (name.size() > 253) return invalid("it is longer than 253 characters");

  std::vector<std::string_view> labels;
  for (size_t start = 0;;) {
    size_t dot = name.find('.', start);
    labels.push_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  for (std::string_view label : labels) {
    if (label.empty()) return invalid("it has an empty label (two dots in a row?)");
    if (label.size() > 63) {
      return invalid("label " + Quote(label) + " is longer than 63 characters");
    }
    for (char c : label) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-') {
        return invalid("label " + Quote(label) + " contains " + DescribeChar(c));
      }
    }
    if (label.front() == '-') return invalid("label " + Quote(label) + " starts with a hyphen");
    if (label.back() == '-') return invalid("label " + Quote(label) + " ends with a hyphen");
  }
  if (std::all_of(labels.begin(), labels.end(), AllDigits)) {
    return {std::nullopt, Quote(host) + " is not a valid IPv4 address"};
  }
  // RFC 1123 section 2.1: a top-level label is never all digits, so that names and dotted
  // decimal addresses can always be told apart.
  if (AllDigits(labels.back())) {
    return invalid("its last label " + Quote(labels.back()) + " is all digits");
  }
  return {HostKind::kHostName, ""};
}

std::string HostIdentity(std::string_view host) {
  if (auto v4 = ParseIpv4(host)) return "4:" + std::string(v4->begin(), v4->end());
  if (auto v6 = ParseIpv6(host)) return "6:" + std::string(v6->begin(), v6->end());
  std::string name = "n:";
  for (char c : host) name += Lower(c);
  if (name.size() > 2 && name.back() == '.') name.pop_back();
  return name;
}

int EditDistance(std::string_view a, std::string_view b) {
  // Three rolling rows are enough for the optimal-string-alignment recurrence. They stay on the
  // stack for the short words the config's "did you mean" compares (every unknown key against
  // each known one; a broken file can have thousands).
  constexpr size_t kOnStack = 32;
  const size_t width = b.size() + 1;
  std::array<int, 3 * (kOnStack + 1)> stack_rows{};
  std::vector<int> heap_rows;
  int* rows = stack_rows.data();
  if (b.size() > kOnStack) {
    heap_rows.resize(3 * width);
    rows = heap_rows.data();
  }
  int* two_back = rows;
  int* prev = rows + width;
  int* cur = rows + 2 * width;
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1])) {
        cur[j] = std::min(cur[j], two_back[j - 2] + 1);
      }
    }
    std::swap(two_back, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace portpath::config
