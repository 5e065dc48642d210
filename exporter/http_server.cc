#include "exporter/http_server.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "exporter/http_auth.h"
#include "exporter/http_encoding.h"
#include "exporter/http_tls.h"
#include "probe/io/fd.h"

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

bool IsHead(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  return info && info->request_method && std::strcmp(info->request_method, "HEAD") == 0;
}

void Send(mg_connection* conn, HttpResponse response) {
  if (response.compressible && !response.body.empty()) {
    const char* accept = mg_get_header(conn, "Accept-Encoding");
    if (accept && AcceptsGzip(accept)) {
      response.body = Gzip(response.body);
      response.headers += "Content-Encoding: gzip\r\n";
    }
    response.headers += "Vary: Accept-Encoding\r\n";
  }
  std::string header = "HTTP/1.1 " + std::to_string(response.status) + " " +
                       mg_get_response_code_text(conn, response.status) +
                       "\r\nContent-Type: " + response.content_type +
                       "\r\nContent-Length: " + std::to_string(response.body.size()) +
                       "\r\nCache-Control: no-store\r\nConnection: close\r\n" + response.headers +
                       "\r\n";
  mg_write(conn, header.data(), header.size());
  if (!IsHead(conn) && !response.body.empty()) {
    mg_write(conn, response.body.data(), response.body.size());
  }
}

HttpResponse Text(int status, std::string body, std::string headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

HttpResponse Exposition(std::string body) {
  HttpResponse r;
  r.content_type = std::string(kMetricsContentType);
  r.body = std::move(body);
  r.compressible = true;
  return r;
}

std::once_flag civet_init;

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
  io::Fd s(socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
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

std::string HttpRequest::method() const {
  const char* m = mg_get_request_info(conn_)->request_method;
  std::string method = m ? m : "";
  return method == "HEAD" ? "GET" : method;
}

std::string HttpRequest::path() const {
  const char* p = mg_get_request_info(conn_)->local_uri;
  return p ? p : "";
}

std::optional<std::string> HttpRequest::Param(const char* name, std::size_t max_length) const {
  const char* query = mg_get_request_info(conn_)->query_string;
  if (!query) return std::nullopt;
  std::string value(max_length + 1, '\0');
  int len = mg_get_var(query, std::strlen(query), name, value.data(), value.size());
  if (len == -2) {
    throw std::invalid_argument(std::string("the ") + name + " parameter is longer than " +
                                std::to_string(max_length) + " bytes");
  }
  if (len <= 0) return std::nullopt;
  value.resize(static_cast<std::size_t>(len));
  return value;
}

const char* HttpRequest::Header(const char* name) const { return mg_get_header(conn_, name); }

/// A CivetHandler for one exact path: checks the path (CivetWeb also routes
/// "/metrics/x" to the handler of "/metrics") and the method, runs the route
/// and turns its exceptions into a 500. An empty path answers every request
/// with 404: the catch-all for paths nobody serves.
class HttpServer::Route : public CivetHandler {
 public:
  Route(std::string path, std::vector<std::string> methods, HttpRoute route)
      : path_(std::move(path)), methods_(std::move(methods)), route_(std::move(route)) {}

  using CivetHandler::handleDelete;
  using CivetHandler::handleGet;
  using CivetHandler::handleHead;
  using CivetHandler::handleOptions;
  using CivetHandler::handlePatch;
  using CivetHandler::handlePost;
  using CivetHandler::handlePut;
  bool handleGet(CivetServer*, mg_connection* c, int* status) override { return Run(c, status); }
  bool handleHead(CivetServer*, mg_connection* c, int* status) override { return Run(c, status); }
  bool handlePost(CivetServer*, mg_connection* c, int* status) override { return Run(c, status); }
  bool handlePut(CivetServer*, mg_connection* c, int* status) override { return Run(c, status); }
  bool handleDelete(CivetServer*, mg_connection* c, int* status) override { return Run(c, status); }
  bool handleOptions(CivetServer*, mg_connection* c, int* status) override {
    return Run(c, status);
  }
  bool handlePatch(CivetServer*, mg_connection* c, int* status) override { return Run(c, status); }

 private:
  bool Run(mg_connection* conn, int* status) {
    HttpResponse response;
    // Exceptions must not unwind through CivetWeb's C frames.
    try {
      response = Answer(HttpRequest(conn));
    } catch (const std::exception& e) {
      response = Text(500, std::string("internal error: ") + e.what() + "\n");
    } catch (...) {
      response = Text(500, "internal error\n");
    }
    try {
      Send(conn, response);
    } catch (...) {
      response = Text(500, "internal error: cannot encode the response\n");
      try {
        Send(conn, response);
      } catch (...) {  // out of memory: nothing more to say
      }
    }
    *status = response.status;  // for CivetWeb's access log
    return true;
  }

  HttpResponse Answer(const HttpRequest& request) const {
    const std::string path = request.path();
    if (path_.empty() || path != path_) return Text(404, "Not found: " + path + "\n");
    const std::string method = request.method();
    if (std::find(methods_.begin(), methods_.end(), method) == methods_.end()) {
      std::vector<std::string> allowed;
      for (const auto& m : methods_) {
        allowed.push_back(m);
        if (m == "GET") allowed.push_back("HEAD");
      }
      std::string allow, choice;
      for (std::size_t i = 0; i < allowed.size(); ++i) {
        allow += (i ? ", " : "") + allowed[i];
        choice += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
      }
      return Text(405, "Method not allowed: use " + choice + " for " + path + "\n",
                  "Allow: " + allow + "\r\n");
    }
    return route_(request);
  }

  std::string path_;
  std::vector<std::string> methods_;
  HttpRoute route_;
};

/// Basic auth in front of every route: CivetWeb asks it before any handler.
class HttpServer::Guard : public CivetAuthHandler {
 public:
  explicit Guard(const WebConfig& web) : auth_(web.basic_auth_users) {}
  bool authorize(CivetServer*, mg_connection* conn) override {
    try {  // nothing may unwind through CivetWeb's C frames
      if (auth_.Check(mg_get_header(conn, "Authorization"))) return true;
      Send(conn, Text(401, "Unauthorized: this exporter needs a user name and password\n",
                      "WWW-Authenticate: Basic realm=\"portpath\", charset=\"UTF-8\"\r\n"));
    } catch (...) {  // out of memory: refuse without an answer
    }
    return false;
  }

 private:
  BasicAuth auth_;
};

HttpServer::HttpServer(std::string_view listen_address, HttpHandlers handlers,
                       HttpServerOptions options)
    : listen_address_(listen_address), options_(std::move(options)) {
  const ListenAddress address = ParseListenAddress(listen_address);
  const bool ipv6_ok = CivetHasIpv6();
  if (address.ipv6 && !ipv6_ok) {
    throw std::invalid_argument("listen address " + Quote(listen_address) +
                                ": this build's CivetWeb library has no IPv6 support (built "
                                "without USE_IPV6); listen on an IPv4 address instead");
  }
  // CivetWeb's spelling: "PORT" is every IPv4 address, "+PORT" every IPv4 and
  // IPv6 address, "[::1]:PORT" and "1.2.3.4:PORT" one address; a trailing "s"
  // makes the port TLS only.
  std::string ports;
  if (address.host.empty()) {
    ports = (ipv6_ok ? "+" : "") + std::to_string(address.port);
  } else if (address.ipv6) {
    ports = "[" + address.host + "]:" + std::to_string(address.port);
  } else {
    ports = address.host + ":" + std::to_string(address.port);
  }
  if (tls()) ports += "s";
  const std::vector<std::string> config = {
      "listening_ports", ports, "num_threads", std::to_string(options_.num_threads),
      "request_timeout_ms", std::to_string(options_.request_timeout_ms),
      // One request per connection: a kept-alive connection would hold a
      // worker while idle.
      "enable_keep_alive", "no",
      // CivetWeb answers CORS preflights itself, before any authorization
      // check; nothing here is for browsers of other origins.
      "access_control_allow_origin", "", "access_control_allow_methods", "",
      "access_control_allow_headers", ""};

  // mg_start would initialise the library itself, but not thread-safely.
  std::call_once(civet_init, [] { mg_init_library(0); });

  CivetCallbacks callbacks;
  callbacks.log_message = &HttpServer::OnLogMessage;
  if (tls()) {
    if (std::string error = PrepareCivetWebTls(); !error.empty()) {
      throw std::runtime_error("cannot listen on " + Quote(listen_address) + ": TLS: " + error);
    }
    callbacks.init_ssl = &HttpServer::OnInitTls;
  }
  try {
    civet_ = std::make_unique<CivetServer>(config, &callbacks, this);
  } catch (const std::exception&) {
    std::string reason = DiagnoseBindFailure(address);
    if (reason.empty()) {
      std::lock_guard lock(startup_mutex_);
      for (const auto& line : startup_log_) reason += (reason.empty() ? "" : "; ") + line;
      if (reason.find("libssl") != std::string::npos) {
        reason +=
            " (CivetWeb loads the unversioned libssl.so and libcrypto.so at run time; on "
            "Debian they come with libssl-dev)";
      }
      if (reason.empty()) reason = "CivetWeb failed to start";
    }
    throw std::runtime_error("cannot listen on " + Quote(listen_address) + ": " + reason);
  }
  {
    std::lock_guard lock(startup_mutex_);
    starting_ = false;
  }
  // The key now lives in CivetWeb's TLS context only.
  if (tls()) {
    std::string& key = options_.web.tls->key_pem;
    OPENSSL_cleanse(key.data(), key.size());
    key.clear();
  }

  // Registered once CivetWeb runs (CivetServer offers no earlier moment). A
  // request in between finds no handler and, there being no document root,
  // gets CivetWeb's own 404: nothing is served unauthenticated.
  if (!options_.web.basic_auth_users.empty()) {
    guard_ = std::make_unique<Guard>(options_.web);
    civet_->addAuthHandler("**", guard_.get());
  }
  AddBuiltInRoutes(std::move(handlers));
  not_found_ = std::make_unique<Route>("", std::vector<std::string>{}, HttpRoute());
  civet_->addHandler("**", not_found_.get());

  std::vector<mg_server_port> bound(4);
  int n = mg_get_server_ports(civet_->getContext(), static_cast<int>(bound.size()), bound.data());
  if (n < 1)
    throw std::runtime_error("cannot listen on " + Quote(listen_address) +
                             ": CivetWeb reports no listening port");
  port_ = static_cast<std::uint16_t>(bound[0].port);
  wake_address_ = address;
  wake_address_.port = port_;
}

void HttpServer::AddRoute(const std::string& path, std::vector<std::string> methods,
                          HttpRoute route) {
  auto handler = std::make_unique<Route>(path, std::move(methods), std::move(route));
  civet_->addHandler(path, handler.get());
  std::lock_guard lock(routes_mutex_);
  routes_.push_back(std::move(handler));
}

void HttpServer::AddBuiltInRoutes(HttpHandlers handlers) {
  const std::vector<std::string> get = {"GET"};
  AddRoute("/", get, [](const HttpRequest&) {
    HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = kIndexHtml;
    return r;
  });
  AddRoute("/metrics", get, [metrics = std::move(handlers.metrics)](const HttpRequest& request) {
    return metrics ? metrics(request) : Exposition(std::string());
  });
  AddRoute("/probe", get, [probe = std::move(handlers.probe)](const HttpRequest& request) {
    if (!probe) return Text(404, "Not found: /probe is not enabled\n");
    std::optional<std::string> target;
    try {
      target = request.Param("target");
    } catch (const std::invalid_argument&) {
      return Text(400, "Bad request: the target parameter is too long\n");
    }
    if (!target) {
      return Text(400,
                  "Bad request: missing target parameter; use /probe?target=HOST:PORT, "
                  "like /probe?target=db.example.com:5432\n");
    }
    auto [status, body] = probe(*target);
    return status == 200 ? Exposition(std::move(body)) : Text(status, std::move(body));
  });
  AddRoute("/-/healthy", get, [](const HttpRequest&) { return Text(200, "Healthy\n"); });
  AddRoute("/-/ready", get, [ready = std::move(handlers.ready)](const HttpRequest&) {
    if (!ready || ready()) return Text(200, "Ready\n");
    return Text(503, "Not ready: first round not completed\n");
  });
  AddRoute("/-/reload", {"POST", "PUT"}, [reload = std::move(handlers.reload)](const HttpRequest&) {
    if (!reload) return Text(500, "reload not supported\n");
    auto [ok, message] = reload();
    if (!message.empty() && message.back() != '\n') message += '\n';
    return Text(ok ? 200 : 500, std::move(message));
  });
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
      io::Fd s(socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (s.get() >= 0) (void)connect(s.get(), reinterpret_cast<sockaddr*>(&sa), len);
      lock.lock();
      cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return stopped; });
    }
  });
  civet_->close();
  {
    std::lock_guard lock(mu);
    stopped = true;
  }
  cv.notify_one();
  waker.join();
}

int HttpServer::OnLogMessage(const mg_connection* conn, const char* message) {
  // CivetWeb's user data is the CivetServer, whose user context is us; during
  // start-up CivetWeb logs through a stand-in connection that carries both.
  const mg_context* ctx = conn ? mg_get_context(conn) : nullptr;
  const auto* civet = ctx ? static_cast<const CivetServer*>(mg_get_user_data(ctx)) : nullptr;
  auto* self =
      civet ? static_cast<HttpServer*>(const_cast<void*>(civet->getUserContext())) : nullptr;
  if (!self) return 0;  // CivetWeb prints it to stderr
  const std::string text = message ? message : "";
  {
    std::lock_guard lock(self->startup_mutex_);
    if (self->starting_) {
      self->startup_log_.push_back(text);
      return 1;
    }
  }
  if (!self->options_.log) return 0;
  self->options_.log(text);
  return 1;
}

int HttpServer::OnInitTls(void* ssl_ctx, void* user_data) {
  const auto* civet = static_cast<const CivetServer*>(user_data);
  auto* self = static_cast<HttpServer*>(const_cast<void*>(civet->getUserContext()));
  // Our certificate and key (two files, as the exporter-toolkit has them;
  // CivetWeb's own loader wants both in one file), loaded into CivetWeb's
  // context. 1: done, -1: CivetWeb must fail to start.
  std::string error = LoadCertificate(ssl_ctx, *self->options_.web.tls);
  if (error.empty()) return 1;
  std::lock_guard lock(self->startup_mutex_);
  self->startup_log_.push_back("TLS: " + error);
  return -1;
}

}  // namespace portpath::exporter
