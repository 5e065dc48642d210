#include "exporter/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace portpath::exporter {
namespace {

constexpr unsigned kCivetIpv6Feature = 8;  // MG_FEATURES_IPV6 in civetweb.h's bit list

bool CivetHasIpv6() { return (mg_check_feature(kCivetIpv6Feature) & kCivetIpv6Feature) != 0; }

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

constexpr const char* kIndexHtml = R"(<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>portpath</title></head>
<body>
<h1>portpath</h1>
<p>TCP traceroute exporter for Prometheus.</p>
<ul>
<li><a href="/metrics">/metrics</a>: every configured target's latest trace</li>
<li><a href="/probe?target=example.com:443">/probe?target=HOST:PORT</a>: trace one target now</li>
<li><a href="/-/healthy">/-/healthy</a></li>
<li><a href="/-/ready">/-/ready</a></li>
<li>POST /-/reload: reload the configuration file</li>
</ul>
</body>
</html>
)";

void Send(mg_connection* conn, int status, std::string_view content_type, std::string_view body,
          std::string_view extra_headers = {}) {
  const mg_request_info* info = mg_get_request_info(conn);
  const bool head = info && info->request_method && std::strcmp(info->request_method, "HEAD") == 0;
  std::string header =
      "HTTP/1.1 " + std::to_string(status) + " " + mg_get_response_code_text(conn, status) +
      "\r\nContent-Type: " + std::string(content_type) +
      "\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nCache-Control: no-store\r\nConnection: close\r\n" + std::string(extra_headers) + "\r\n";
  mg_write(conn, header.data(), header.size());
  if (!head && !body.empty()) mg_write(conn, body.data(), body.size());
}

void SendText(mg_connection* conn, int status, std::string_view body,
              std::string_view extra_headers = {}) {
  Send(conn, status, "text/plain; charset=utf-8", body, extra_headers);
}

std::once_flag civet_init;

/// Owns a socket descriptor (-1 = none).
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

/// The socket address of `address` (loopback when it means all addresses).
socklen_t ToSockaddr(const ListenAddress& address, bool all_means_loopback, sockaddr_storage& out) {
  out = {};
  if (address.ipv6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(address.port);
    inet_pton(AF_INET6, address.host.c_str(), &a6->sin6_addr);
    return sizeof(sockaddr_in6);
  }
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out);
  a4->sin_family = AF_INET;
  a4->sin_port = htons(address.port);
  if (!address.host.empty()) {
    inet_pton(AF_INET, address.host.c_str(), &a4->sin_addr);
  } else {
    a4->sin_addr.s_addr = htonl(all_means_loopback ? INADDR_LOOPBACK : INADDR_ANY);
  }
  return sizeof(sockaddr_in);
}

/// CivetWeb reports every bind failure as "Failed to setup server ports"; bind
/// a socket the same way to learn the errno and say what it means.
std::string DiagnoseBindFailure(const ListenAddress& address) {
  sockaddr_storage sa;
  socklen_t len = ToSockaddr(address, false, sa);
  Socket s(socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return std::strerror(errno);
  int one = 1;
  setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // as CivetWeb does
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) return {};
  const int err = errno;
  std::string text = std::strerror(err);
  switch (err) {
    case EADDRINUSE:
      return text + " (is another process, perhaps another portpath, already listening there?)";
    case EADDRNOTAVAIL:
      return text + " (the address is not one of this host's)";
    case EACCES:
      return text + " (ports below 1024 need CAP_NET_BIND_SERVICE)";
    default:
      return text;
  }
}

}  // namespace

std::string RenderMetrics(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& c : collectables) {
    if (!c) continue;
    auto f = c->Collect();
    families.insert(families.end(), std::make_move_iterator(f.begin()),
                    std::make_move_iterator(f.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

ListenAddress ParseListenAddress(std::string_view text) {
  const std::string shown = Quote(text);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument("listen address " + shown +
                                ": expected HOST:PORT, [IPV6]:PORT or :PORT, like 127.0.0.1:9750");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);

  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    throw std::invalid_argument("listen address " + shown + ": port " + Quote(port_text) +
                                " is not a number from 0 to 65535");
  }

  ListenAddress out;
  out.port = static_cast<std::uint16_t>(port);
  if (host.empty()) return out;

  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      throw std::invalid_argument("listen address " + shown +
                                  ": an IPv6 address must be written in brackets, like [::1]:9750");
    }
    std::string literal(host.substr(1, host.size() - 2));
    in6_addr a6{};
    if (inet_pton(AF_INET6, literal.c_str(), &a6) != 1) {
      throw std::invalid_argument("listen address " + shown + ": " + Quote(literal) +
                                  " is not an IPv6 address");
    }
    out.host = literal;
    out.ipv6 = true;
    return out;
  }
  if (host.find(':') != std::string_view::npos) {
    throw std::invalid_argument("listen address " + shown +
                                ": an IPv6 address must be written in brackets, like [::1]:9750");
  }
  std::string name(host);
  in_addr a4{};
  if (inet_pton(AF_INET, name.c_str(), &a4) == 1) {
    out.host = name;
    return out;
  }
  // A host name ("localhost"): CivetWeb binds only literals, so resolve it once
  // here, preferring IPv4 when this CivetWeb cannot listen on IPv6.
  addrinfo hints{};
  hints.ai_family = CivetHasIpv6() ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw std::invalid_argument("listen address " + shown + ": cannot resolve " + Quote(name) +
                                ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, &freeaddrinfo);
  char buf[INET6_ADDRSTRLEN] = {};
  if (found->ai_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr, buf,
              sizeof buf);
    out.ipv6 = true;
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr, buf, sizeof buf);
  }
  out.host = buf;
  return out;
}

void HttpServer::ContextStopper::operator()(mg_context* ctx) const {
  if (ctx) mg_stop(ctx);
}

HttpServer::HttpServer(std::string_view listen_address, HttpHandlers handlers,
                       HttpServerOptions options)
    : listen_address_(listen_address),
      handlers_(std::move(handlers)),
      options_(std::move(options)) {
  const ListenAddress address = ParseListenAddress(listen_address);
  const bool ipv6_ok = CivetHasIpv6();
  if (address.ipv6 && !ipv6_ok) {
    throw std::invalid_argument("listen address " + Quote(listen_address) +
                                ": this build's CivetWeb library has no IPv6 support (built "
                                "without USE_IPV6); listen on an IPv4 address instead");
  }
  // CivetWeb's spelling: "PORT" is every IPv4 address, "+PORT" every IPv4 and
  // IPv6 address, "[::1]:PORT" and "1.2.3.4:PORT" one address.
  std::string ports;
  if (address.host.empty()) {
    ports = (ipv6_ok ? "+" : "") + std::to_string(address.port);
  } else if (address.ipv6) {
    ports = "[" + address.host + "]:" + std::to_string(address.port);
  } else {
    ports = address.host + ":" + std::to_string(address.port);
  }
  const std::string threads = std::to_string(options_.num_threads);
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  const char* config[] = {
      "listening_ports", ports.c_str(),       "num_threads", threads.c_str(), "request_timeout_ms",
      timeout.c_str(),   "enable_keep_alive", "no",          nullptr};

  // mg_start2 would initialise the library itself, but not thread-safely.
  std::call_once(civet_init, [] { mg_init_library(0); });

  mg_callbacks callbacks{};
  callbacks.begin_request = &HttpServer::OnBeginRequest;
  callbacks.log_message = &HttpServer::OnLogMessage;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = config;
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof error_text;

  context_.reset(mg_start2(&init, &error));
  if (!context_) {
    std::string reason = DiagnoseBindFailure(address);
    if (reason.empty()) reason = error_text[0] ? error_text : "CivetWeb failed to start";
    throw std::runtime_error("cannot listen on " + Quote(listen_address) + ": " + reason);
  }

  mg_server_port bound[4] = {};
  int n = mg_get_server_ports(context_.get(), 4, bound);
  if (n < 1)
    throw std::runtime_error("cannot listen on " + Quote(listen_address) +
                             ": CivetWeb reports no listening port");
  port_ = static_cast<std::uint16_t>(bound[0].port);
  wake_address_ = address;
  wake_address_.port = port_;
}

HttpServer::~HttpServer() {
  // CivetWeb's master thread checks the stop flag only between polls of the
  // listening sockets, 2 s apart in 1.15, so mg_stop() alone takes up to 2 s.
  // A connection wakes the poll; since the flag is set inside mg_stop(), keep
  // knocking until it returns. A knock that lands before the flag is accepted
  // and served by a worker, which reads EOF at once.
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  std::thread waker([&] {
    sockaddr_storage sa;
    socklen_t len = ToSockaddr(wake_address_, true, sa);
    std::unique_lock lock(mu);
    while (!stopped) {
      lock.unlock();
      Socket s(socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (s.get() >= 0) (void)connect(s.get(), reinterpret_cast<sockaddr*>(&sa), len);
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stopped; });
    }
  });
  context_.reset();
  {
    std::lock_guard lock(mu);
    stopped = true;
  }
  cv.notify_one();
  waker.join();
}

int HttpServer::OnLogMessage(const mg_connection* conn, const char* message) {
  // During start-up CivetWeb logs through a stand-in connection whose context
  // already carries our user data, so the server is reachable here too.
  const mg_context* ctx = conn ? mg_get_context(conn) : nullptr;
  auto* self = ctx ? static_cast<HttpServer*>(mg_get_user_data(ctx)) : nullptr;
  if (!self || !self->options_.log) return 0;  // CivetWeb prints it to stderr
  self->options_.log(message ? message : "");
  return 1;
}

int HttpServer::OnBeginRequest(mg_connection* conn) {
  auto* self = static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  // Exceptions must not unwind through CivetWeb's C frames.
  try {
    self->Handle(conn);
  } catch (const std::exception& e) {
    SendText(conn, 500, std::string("internal error: ") + e.what() + "\n");
  } catch (...) {
    SendText(conn, 500, "internal error\n");
  }
  return 1;  // handled: CivetWeb must not look for files
}

void HttpServer::Handle(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string_view method = info->request_method ? info->request_method : "";
  const std::string_view path = info->local_uri ? info->local_uri : "";
  const bool get = method == "GET" || method == "HEAD";
  constexpr std::string_view kAllowGet = "Allow: GET, HEAD\r\n";

  auto read_only = [&](auto&& serve) {
    if (!get) {
      SendText(conn, 405, "Method not allowed: " + std::string(path) + " accepts GET and HEAD\n",
               kAllowGet);
      return;
    }
    serve();
  };

  if (path == "/") {
    read_only([&] { Send(conn, 200, "text/html; charset=utf-8", kIndexHtml); });
  } else if (path == "/metrics") {
    read_only([&] {
      std::string body = handlers_.metrics_text ? handlers_.metrics_text() : std::string();
      Send(conn, 200, kMetricsContentType, body);
    });
  } else if (path == "/probe") {
    read_only([&] {
      if (!handlers_.probe) {
        SendText(conn, 404, "Not found: /probe is not enabled\n");
        return;
      }
      const char* query = info->query_string ? info->query_string : "";
      char target[1024];
      int len = mg_get_var(query, std::strlen(query), "target", target, sizeof target);
      if (len == -2) {
        SendText(conn, 400, "Bad request: the target parameter is too long\n");
        return;
      }
      if (len <= 0) {
        SendText(conn, 400,
                 "Bad request: missing target parameter; use /probe?target=HOST:PORT, "
                 "like /probe?target=db.example.com:5432\n");
        return;
      }
      auto [status, body] = handlers_.probe(std::string(target, static_cast<std::size_t>(len)));
      if (status == 200) {
        Send(conn, status, kMetricsContentType, body);
      } else {
        SendText(conn, status, body);
      }
    });
  } else if (path == "/-/healthy") {
    read_only([&] { SendText(conn, 200, "Healthy\n"); });
  } else if (path == "/-/ready") {
    read_only([&] {
      if (!handlers_.ready || handlers_.ready()) {
        SendText(conn, 200, "Ready\n");
      } else {
        SendText(conn, 503, "Not ready: first round not completed\n");
      }
    });
  } else if (path == "/-/reload") {
    if (method != "POST" && method != "PUT") {
      SendText(conn, 405, "Method not allowed: use POST or PUT to reload the configuration\n",
               "Allow: POST, PUT\r\n");
      return;
    }
    if (!handlers_.reload) {
      SendText(conn, 500, "reload not supported\n");
      return;
    }
    auto [ok, message] = handlers_.reload();
    if (!message.empty() && message.back() != '\n') message += '\n';
    SendText(conn, ok ? 200 : 500, message);
  } else {
    SendText(conn, 404, "Not found: " + std::string(path) + "\n");
  }
}

}  // namespace portpath::exporter
