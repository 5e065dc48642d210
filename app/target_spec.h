#pragma once
/// Parsing of HOST:PORT target arguments and targets files, the checks of -s and
/// -i against this host, and name resolution. Hosts and ports are checked by the
/// config's own validators (config/scalars.h): the command line accepts exactly
/// the targets a config file would.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "probe/packet/ip_address.h"

namespace portpath::app {

struct TargetSpec {
  std::string text;  // as written
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

/// "host:port", "192.0.2.1:443", "[2001:db8::1]:443". With default_port, a bare
/// host (or a bare IPv6 literal) is accepted too. The host must be an IP literal
/// or an RFC 1123 name (config::CheckHost: `2130706433` and names holding control
/// characters are refused). Returns an error message on failure, in which the
/// text is escaped (config::EscapeForDisplay): never a raw control byte.
std::optional<TargetSpec> ParseTarget(const std::string& text,
                                      std::optional<std::uint16_t> default_port,
                                      std::string& error);

/// Targets files larger than this are refused, as config files are (hundreds of
/// thousands of targets; `--targets-file /dev/zero` must not eat the memory).
inline constexpr std::size_t kMaxTargetsFileBytes = 16 << 20;
/// Errors reported per targets file at most; a binary file would give thousands.
inline constexpr std::size_t kMaxErrorsPerTargetsFile = 10;

/// Reads one target per line ('#' comments and blank lines skipped). Errors name
/// the file and line and show the line escaped; a line holding control bytes (a
/// binary file) is reported as such.
std::vector<TargetSpec> ReadTargetsFile(const std::string& path,
                                        std::optional<std::uint16_t> default_port,
                                        std::vector<std::string>& errors);

enum class FamilyPreference { kAny, kIpv4, kIpv6 };

/// Resolves a host name or literal; the error names the resolver's reason.
std::optional<packet::IpAddress> Resolve(const std::string& host, FamilyPreference family,
                                         std::string& error);

/// Parses a duration the way the config does (config::ParseDuration: "1s",
/// "500ms", "2m", "1m30s", or bare seconds "2"), in seconds. nullopt on bad syntax.
std::optional<double> ParseSeconds(const std::string& text);

}  // namespace portpath::app
