#pragma once
/// Parsing of HOST:PORT target arguments and targets files, and name resolution.

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
/// host (or a bare IPv6 literal) is accepted too. Returns an error message on failure.
std::optional<TargetSpec> ParseTarget(const std::string& text, std::optional<std::uint16_t> default_port,
                                      std::string& error);

/// Reads one target per line ('#' comments and blank lines skipped). Errors name
/// the file and line.
std::vector<TargetSpec> ReadTargetsFile(const std::string& path,
                                        std::optional<std::uint16_t> default_port,
                                        std::vector<std::string>& errors);

enum class FamilyPreference { kAny, kIpv4, kIpv6 };

/// Resolves a host name or literal; the error names the resolver's reason.
std::optional<packet::IpAddress> Resolve(const std::string& host, FamilyPreference family,
                                         std::string& error);

/// Parses "1s", "500ms", "2m", "1.5" (seconds). nullopt on bad syntax.
std::optional<double> ParseSeconds(const std::string& text);

}  // namespace portpath::app
