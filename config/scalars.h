// Parsers and checks for the scalar values of a portpath config file.
//
// These know nothing of YAML: they take the text of one scalar and say whether it is well formed.
// config.cc turns their answers into positioned ConfigErrors. They are declared here, rather than
// hidden in config.cc, so that the daemon can print durations the way users write them and so
// that the tests can exercise the edge cases without building YAML documents.
//
// Thread-safety: every function here is pure and safe to call from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portpath::config {

/// The 4 or 16 bytes of an IPv4 or IPv6 literal (inet_pton's syntax), or nothing.
std::optional<std::array<uint8_t, 4>> ParseIpv4(std::string_view text);
std::optional<std::array<uint8_t, 16>> ParseIpv6(std::string_view text);

/// Parses a duration: one or more `<number><unit>` parts with units `h`, `m`, `s`, `ms`, each at
/// most once and largest first (`1h30m`, `1.5s`, `500ms`), or a bare non-negative integer meaning
/// seconds (`30`). Fractions are allowed as long as the result is a whole number of milliseconds.
/// Returns std::nullopt when the text is not a duration. Values too large to represent are
/// clamped to a very large value (more than 30 years) so that range checks report them as out of
/// range rather than as malformed.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

/// Formats a duration the way ParseDuration reads it, using the largest units that divide it
/// exactly: 90000ms -> "1m30s", 1500ms -> "1500ms", 0ms -> "0s". Negative values get a leading '-'.
std::string FormatDuration(std::chrono::milliseconds d);

/// Parses a percentage with at most two decimals, such as "10%" or "12.5%", into hundredths of a
/// percent (1000 and 1250). The '%' sign is required. Returns std::nullopt otherwise.
std::optional<int64_t> ParsePercentHundredths(std::string_view text);

/// Parses a decimal integer, optionally with a leading '-'. Returns std::nullopt for anything
/// else, including surrounding spaces, '+' signs, hexadecimal and values that overflow int64_t.
std::optional<int64_t> ParseInteger(std::string_view text);

/// Parses a TCP port: a decimal integer from 1 to 65535, as ParseInteger reads it. Returns
/// std::nullopt for anything else ("0", "65536", "+80", "0x50", " 80").
std::optional<uint16_t> ParsePort(std::string_view text);

/// Parses a finite decimal number such as "1000", "2.5" or "1e3". Returns std::nullopt for
/// anything else, including "inf" and "nan".
std::optional<double> ParseNumber(std::string_view text);

/// The kind of host a target names.
enum class HostKind {
  kIpv4,      ///< An IPv4 literal in dotted-decimal form.
  kIpv6,      ///< An IPv6 literal, without brackets or zone.
  kHostName,  ///< A syntactically valid RFC 1123 host name, to be resolved later.
};

/// The result of CheckHost: either a kind, or a sentence explaining what is wrong.
struct HostCheck {
  std::optional<HostKind> kind;  ///< Set when the host is acceptable.
  std::string problem;           ///< Non-empty when it is not, e.g. "label 'db_1' contains '_'".
};

/// Classifies a target host: an IPv4 or IPv6 literal, or a host name that follows RFC 1123
/// (dot-separated labels of 1-63 letters, digits and hyphens, not starting or ending with a
/// hyphen, 253 characters at most, one optional trailing dot). A name whose last label is all
/// digits is rejected as a malformed IPv4 address, as RFC 1123 section 2.1 asks. Common mistakes
/// (brackets around IPv6, a ":port" suffix, a URL) get a problem text with a hint.
HostCheck CheckHost(std::string_view host);

/// Makes untrusted text safe to print on a terminal or in a log line: printable ASCII stays as
/// is, a backslash becomes `\\`, and every other byte (control characters such as ESC, DEL,
/// anything non-ASCII) becomes `\xNN`, so no terminal escape sequence ever reaches the screen and
/// the original bytes can still be read back. Every problem text in this file quotes values
/// through it.
std::string EscapeForDisplay(std::string_view text);

/// Returns a key under which two spellings of the same host compare equal: IP literals by their
/// binary value ("2001:DB8::1" == "2001:db8:0::1"), host names case-insensitively and without a
/// trailing dot. Only meaningful for hosts that CheckHost accepted.
std::string HostIdentity(std::string_view host);

/// Returns true when `text` is an IPv4 or IPv6 literal.
bool IsIpLiteral(std::string_view text);

/// The optimal-string-alignment distance between two strings, compared case-insensitively:
/// insertions, deletions, substitutions and transpositions of adjacent characters each cost 1,
/// so "timout" and "tiemout" are both at distance 1 from "timeout".
int EditDistance(std::string_view a, std::string_view b);

}  // namespace portpath::config
