// portpath-lab-listen PORT...
//
// Tiny helper for the network lab (tests/lab/lab.sh): gives the lab server its
// "open" TCP ports without depending on nc, socat or python.
//
// For every PORT it opens one dual-stack listening socket bound to [::]
// (IPV6_V6ONLY=0, so IPv4 clients arrive as v4-mapped addresses), accepts
// every connection and closes it at once. It runs until it is killed.
// Probing tools only need the kernel's SYN-ACK; accepting and closing keeps
// the accept queue from filling up during long runs.
//
// If the host has no IPv6 at all, it falls back to an IPv4 socket on 0.0.0.0.
// It prints "listening PORT..." on stdout once every socket is listening.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "portpath-lab-listen: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

int parse_port(const char* text) {
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 1 || value > 65535) {
    std::fprintf(stderr, "portpath-lab-listen: invalid port '%s'\n", text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

int listen_on(int port) {
  const int one = 1;
  const int zero = 0;
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("SO_REUSEADDR");
    // Dual stack: one socket serves IPv4 (as ::ffff:a.b.c.d) and IPv6.
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) die("IPV6_V6ONLY");
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_any;
    sa.sin6_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      die("bind [::]:" + std::to_string(port));
    }
  } else if (errno == EAFNOSUPPORT) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) die("SO_REUSEADDR");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      die("bind 0.0.0.0:" + std::to_string(port));
    }
  } else {
    die("socket");
  }
  if (::listen(fd, SOMAXCONN) != 0) die("listen " + std::to_string(port));
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: portpath-lab-listen PORT...\n");
    return 2;
  }
  std::vector<pollfd> fds;
  std::string ports;
  for (int i = 1; i < argc; ++i) {
    int port = parse_port(argv[i]);
    fds.push_back(pollfd{listen_on(port), POLLIN, 0});
    ports += " " + std::to_string(port);
  }
  std::printf("listening%s\n", ports.c_str());
  std::fflush(stdout);

  for (;;) {
    int ready = ::poll(fds.data(), fds.size(), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (auto& p : fds) {
      if ((p.revents & POLLIN) == 0) continue;
      // Drain the accept queue; the socket is non-blocking.
      for (;;) {
        int conn = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0) {
          // EAGAIN: queue empty. ECONNABORTED and friends: the peer gave up
          // (a half-open probe that was reset); nothing to do either way.
          break;
        }
        ::close(conn);
      }
    }
  }
}
