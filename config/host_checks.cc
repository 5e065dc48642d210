#include "config/host_checks.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "config/scalars.h"

namespace portpath::config {

std::string CheckLocalSource(std::string_view address) {
  const auto v4 = ParseIpv4(address);
  const auto v6 = v4 ? std::nullopt : ParseIpv6(address);
  if (!v4 && !v6) return "'" + EscapeForDisplay(address) + "' is not an IPv4 or IPv6 address";
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0)
    return "cannot list the addresses of this host: " + std::string(std::strerror(errno));
  bool found = false;
  for (const ifaddrs* a = list; a && !found; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    if (v4 && a->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
      found = std::memcmp(&sin->sin_addr, v4->data(), v4->size()) == 0;
    } else if (v6 && a->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
      found = std::memcmp(&sin6->sin6_addr, v6->data(), v6->size()) == 0;
    }
  }
  ::freeifaddrs(list);
  if (found) return "";
  return std::string(address) +
         " is not an address of this host: probes from it would be spoofed and their answers "
         "would never come back here (see 'ip address')";
}

std::string CheckInterface(std::string_view name) {
  const std::string text(name);
  if (!text.empty() && text.size() < IF_NAMESIZE && text.find('\0') == std::string::npos &&
      ::if_nametoindex(text.c_str()) != 0)
    return "";
  return "no interface '" + EscapeForDisplay(name) + "' on this host (see 'ip link')";
}

std::vector<ConfigError> CheckAgainstHost(const Config& config) {
  std::vector<ConfigError> errors;
  if (config.source) {
    if (std::string problem = CheckLocalSource(*config.source); !problem.empty())
      errors.emplace_back(config.file, config.source_position.line, config.source_position.column,
                          "source: " + problem);
  }
  if (config.interface) {
    if (std::string problem = CheckInterface(*config.interface); !problem.empty())
      errors.emplace_back(config.file, config.interface_position.line,
                          config.interface_position.column, "interface: " + problem);
  }
  return errors;
}

}  // namespace portpath::config
