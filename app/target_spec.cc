#include "app/target_spec.h"

#include "probe/io/system.h"

#include <algorithm>
#include <charconv>
#include <fstream>

namespace portpath::app {
namespace {

std::optional<std::uint16_t> ParsePort(const std::string& s) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 1 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string Trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::optional<TargetSpec> ParseTarget(const std::string& text, std::optional<std::uint16_t> default_port,
                                      std::string& error) {
  TargetSpec spec;
  spec.text = text;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) {
      error = "'" + text + "': missing ']' after an IPv6 address";
      return std::nullopt;
    }
    spec.host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        error = "'" + text + "': expected ':PORT' after ']'";
        return std::nullopt;
      }
      port_text = text.substr(close + 2);
    }
    if (!packet::IpAddress::Parse(spec.host) || !packet::IpAddress::Parse(spec.host)->is_v6()) {
      error = "'" + text + "': '" + spec.host + "' is not an IPv6 address";
      return std::nullopt;
    }
  } else {
    auto colons = std::count(text.begin(), text.end(), ':');
    if (colons > 1) {
      // A bare IPv6 literal: only valid with a default port, else ambiguous.
      if (default_port && packet::IpAddress::Parse(text)) {
        spec.host = text;
      } else {
        error = "'" + text + "': write IPv6 targets in brackets, e.g. [2001:db8::1]:443";
        return std::nullopt;
      }
    } else if (colons == 1) {
      auto colon = text.find(':');
      spec.host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    } else {
      spec.host = text;
    }
  }
  if (spec.host.empty()) {
    error = "'" + text + "': empty host";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    auto port = ParsePort(port_text);
    if (!port) {
      error = "'" + text + "': port must be a number from 1 to 65535";
      return std::nullopt;
    }
    spec.port = *port;
  } else if (default_port) {
    spec.port = *default_port;
  } else {
    error = "'" + text + "': missing port; write HOST:PORT (or give --port)";
    return std::nullopt;
  }
  return spec;
}

std::vector<TargetSpec> ReadTargetsFile(const std::string& path,
                                        std::optional<std::uint16_t> default_port,
                                        std::vector<std::string>& errors) {
  std::vector<TargetSpec> out;
  std::ifstream in(path);
  if (!in) {
    errors.push_back(path + ": cannot read the targets file");
    return out;
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    line = Trim(line);
    if (line.empty()) continue;
    std::string error;
    if (auto spec = ParseTarget(line, default_port, error)) out.push_back(*spec);
    else errors.push_back(path + ":" + std::to_string(number) + ": " + error);
  }
  return out;
}

std::optional<packet::IpAddress> Resolve(const std::string& host, FamilyPreference family,
                                         std::string& error) {
  return io::ResolveHost(host,
                         family == FamilyPreference::kIpv4   ? io::FamilyFilter::kIpv4
                         : family == FamilyPreference::kIpv6 ? io::FamilyFilter::kIpv6
                                                             : io::FamilyFilter::kAny,
                         error);
}

std::optional<double> ParseSeconds(const std::string& text) {
  std::string number = text;
  double scale = 1;
  auto ends_with = [&](const std::string& suffix) {
    return number.size() > suffix.size() &&
           number.compare(number.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("ms")) { number.resize(number.size() - 2); scale = 0.001; }
  else if (ends_with("s")) { number.resize(number.size() - 1); }
  else if (ends_with("m")) { number.resize(number.size() - 1); scale = 60; }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || value < 0) return std::nullopt;
  return value * scale;
}

}  // namespace portpath::app
