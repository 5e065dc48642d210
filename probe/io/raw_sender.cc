#include "probe/io/raw_sender.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "probe/io/errors.h"

namespace portpath::io {
namespace {

Fd OpenRaw(int family, const std::optional<std::string>& interface) {
  int fd = ::socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
  if (fd < 0) {
    if (errno == EPERM || errno == EACCES)
      throw MissingCapability("CAP_NET_RAW", "open a raw socket for TCP SYN probes");
    if (errno == EAFNOSUPPORT) return Fd();
    throw IoError(std::string("raw socket: ") + std::strerror(errno));
  }
  Fd owned(fd);
  // A bigger send buffer absorbs bursts of thousands of probes.
  int size = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (interface && ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, interface->c_str(),
                                static_cast<socklen_t>(interface->size())) != 0)
    throw IoError("cannot bind to interface " + *interface + ": " + std::strerror(errno));
  return owned;
}

}  // namespace

RawSender::RawSender(const std::optional<std::string>& interface)
    : v4_(OpenRaw(AF_INET, interface)), v6_(OpenRaw(AF_INET6, interface)) {}

int RawSender::Send(const packet::IpAddress& destination, packet::Bytes ip_packet) {
  if (destination.is_v4()) {
    if (!v4_.valid()) return EAFNOSUPPORT;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, destination.bytes().data(), 4);
    if (::sendto(v4_.get(), ip_packet.data(), ip_packet.size(), 0,
                 reinterpret_cast<const sockaddr*>(&sa), sizeof sa) < 0)
      return errno;
    return 0;
  }
  if (!v6_.valid()) return EAFNOSUPPORT;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  std::memcpy(&sa.sin6_addr, destination.bytes().data(), 16);
  if (::sendto(v6_.get(), ip_packet.data(), ip_packet.size(), 0,
               reinterpret_cast<const sockaddr*>(&sa), sizeof sa) < 0)
    return errno;
  return 0;
}

}  // namespace portpath::io
