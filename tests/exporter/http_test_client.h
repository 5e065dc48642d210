#pragma once
// A minimal HTTP/1.1 client for the exporter's HTTP tests: one request per
// connection to 127.0.0.1, read until the server closes. No curl dependency.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "probe/io/fd.h"

namespace portpath::exporter::http_test {

struct Response {
  int status = 0;
  std::string headers;  // the raw header block, status line included
  std::string body;
  std::string Header(const std::string& name) const {
    auto at = headers.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    at += name.size() + 4;
    return headers.substr(at, headers.find("\r\n", at) - at);
  }
};

/// Sends one request (with `extra_headers`, each "Name: value\r\n") and reads
/// the whole response. Throws std::runtime_error when there is none.
inline Response Request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& extra_headers = {}) {
  io::Fd sock(socket(AF_INET, SOCK_STREAM, 0));
  if (sock.get() < 0) throw std::runtime_error("socket failed");
  // Bound every read so a server bug fails the test instead of hanging it.
  timeval tv{5, 0};
  setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect failed");
  }
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n" +
                        extra_headers + "\r\n";
  if (send(sock.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    throw std::runtime_error("send failed");
  }
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = recv(sock.get(), buf, sizeof buf, 0)) > 0;) raw.append(buf, n);

  Response r;
  auto split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || split == std::string::npos) {
    throw std::runtime_error("malformed response: " + raw);
  }
  r.status = std::stoi(raw.substr(9, 3));
  r.headers = raw.substr(0, split + 2);
  r.body = raw.substr(split + 4);
  return r;
}

}  // namespace portpath::exporter::http_test
