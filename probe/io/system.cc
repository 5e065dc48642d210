#include "probe/io/system.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "probe/io/fd.h"

namespace portpath::io {

SourceLookup SourceAddressFor(const packet::IpAddress& destination,
                              const std::optional<std::string>& interface) {
  SourceLookup out;
  int family = destination.is_v4() ? AF_INET : AF_INET6;
  Fd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    out.error = std::strerror(errno);
    return out;
  }
  if (interface)
    ::setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, interface->c_str(),
                 static_cast<socklen_t>(interface->size()));
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (destination.is_v4()) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(9);
    std::memcpy(&sa->sin_addr, destination.bytes().data(), 4);
    len = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(9);
    std::memcpy(&sa->sin6_addr, destination.bytes().data(), 16);
    len = sizeof(sockaddr_in6);
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  if (local.ss_family == AF_INET)
    out.address = packet::IpAddress::FromBytes(
        packet::Family::kIpv4,
        reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr));
  else
    out.address = packet::IpAddress::FromBytes(
        packet::Family::kIpv6,
        reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr));
  return out;
}

std::optional<packet::IpAddress> ResolveHost(const std::string& host, FamilyFilter family,
                                             std::string& error) {
  if (auto literal = packet::IpAddress::Parse(host)) {
    if ((family == FamilyFilter::kIpv4 && !literal->is_v4()) ||
        (family == FamilyFilter::kIpv6 && !literal->is_v6())) {
      error = "address " + host + " is not of the requested family";
      return std::nullopt;
    }
    return literal;
  }
  addrinfo hints{};
  hints.ai_family = family == FamilyFilter::kIpv4   ? AF_INET
                    : family == FamilyFilter::kIpv6 ? AF_INET6
                                                    : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return std::nullopt;
  }
  std::optional<packet::IpAddress> out;
  for (addrinfo* ai = res; ai && !out; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      out = packet::IpAddress::FromBytes(
          packet::Family::kIpv4, reinterpret_cast<const std::uint8_t*>(
                                     &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr));
    else if (ai->ai_family == AF_INET6)
      out = packet::IpAddress::FromBytes(
          packet::Family::kIpv6, reinterpret_cast<const std::uint8_t*>(
                                     &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr));
  }
  ::freeaddrinfo(res);
  if (!out) error = "cannot resolve " + host + ": no IPv4 or IPv6 address";
  return out;
}

}  // namespace portpath::io
