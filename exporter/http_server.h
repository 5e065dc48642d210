#pragma once
/// The exporter's HTTP endpoints, served by CivetWeb's C++ API (CivetServer),
/// one CivetHandler per route:
///   GET  /            an HTML index linking to the endpoints below
///   GET  /metrics     the text exposition format 0.0.4 (gzip on Accept-Encoding)
///   GET  /probe?target=HOST:PORT   an on-demand trace (multi-target pattern)
///   GET  /-/healthy   200 once the server runs
///   GET  /-/ready     200 after the first round, 503 before
///   POST|PUT /-/reload  reloads the configuration (200, or 500 with the reason)
/// HEAD is accepted wherever GET is. Anything else is 404; a known path with the
/// wrong method is 405 with an Allow header. Further pages plug in with
/// HttpServer::AddRoute. With a web config (--web.config.file), every request,
/// unknown paths included, needs basic auth, and the port speaks only TLS.

#include <prometheus/collectable.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exporter/web_config.h"

struct mg_connection;
class CivetServer;
class CivetHandler;

namespace portpath::exporter {

/// Content type of the Prometheus text exposition format 0.0.4.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Runs Collect() on each collectable and serializes every family with
/// prometheus::TextSerializer. Thread-safe if every Collect() is.
std::string RenderMetrics(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables);

/// A listen address as Prometheus exporters spell it (--web.listen-address).
struct ListenAddress {
  std::string host;  // an IP literal without brackets; empty = all addresses
  std::uint16_t port = 0;
  bool ipv6 = false;
};

/// Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses). HOST may be an
/// IPv4 literal, a bracketed IPv6 literal or a host name (resolved once, here).
/// Port 0 asks the kernel for a free port. Throws std::invalid_argument with a
/// message that names the bad part. Thread-safe.
ListenAddress ParseListenAddress(std::string_view text);

struct HttpServerOptions {
  /// CivetWeb worker threads. A worker holds one connection from accept to
  /// close, idle or not, so this is how many idle or slow clients may be open
  /// before new requests queue behind them; an idle worker costs about 17 KB,
  /// and keeps about 26 KB more from the first request it serves (stack pages,
  /// glibc's per-thread cache: ~6.5 MB once all have served).
  int num_threads = 256;
  /// The TLS handshake, request line and headers must arrive within this; it
  /// is also the longest a body read or a response write may make no progress.
  /// Bounds how long an idle or trickling client holds a worker.
  int request_timeout_ms = 5000;
  /// TLS and basic auth; the default is plain HTTP without authentication.
  WebConfig web;
  /// Receives CivetWeb's own log lines (bind errors, bad requests); when empty
  /// they go to stderr.
  std::function<void(const std::string&)> log;
};

/// One request as a route sees it.
class HttpRequest {
 public:
  explicit HttpRequest(mg_connection* conn) : conn_(conn) {}
  /// "GET" for HEAD requests too: the server drops the body of the answer.
  std::string method() const;
  /// The URL-decoded path, dot segments removed.
  std::string path() const;
  /// The URL-decoded query parameter `name`: nullopt when absent or empty,
  /// std::invalid_argument when longer than max_length bytes.
  std::optional<std::string> Param(const char* name, std::size_t max_length = 1024) const;
  /// A request header's value, or nullptr.
  const char* Header(const char* name) const;

 private:
  mg_connection* conn_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  /// Extra header lines, each "Name: value\r\n".
  std::string headers;
  /// gzip the body when the request's Accept-Encoding allows it.
  bool compressible = false;
};

/// Answers one request. Runs on CivetWeb's worker threads, several at once:
/// must be thread-safe. An exception becomes a 500 carrying its message.
using HttpRoute = std::function<HttpResponse(const HttpRequest&)>;

/// What the endpoints do. Each function is called on CivetWeb's worker threads,
/// possibly several at once, so each must be thread-safe (typically: read the
/// latest immutable Snapshot). An exception thrown by a handler becomes a 500
/// carrying its message. An empty function means: /metrics empty body, /probe
/// 404, /-/ready always ready, /-/reload 500 "reload not supported".
struct HttpHandlers {
  /// The answer to /metrics: usually a MetricsEndpoint, which compresses the
  /// text as it writes it when the request accepts gzip, so a scrape never
  /// holds the whole text (10 MB at 10,000 target ports). A response marked
  /// compressible is gzipped by the server instead.
  HttpRoute metrics;
  /// /probe?target=...: the status code and body (exposition text on 200, a
  /// plain-text message otherwise). `target` is URL-decoded and non-empty.
  std::function<std::pair<int, std::string>(const std::string& target)> probe;
  /// True once the first probe round has completed.
  std::function<bool()> ready;
  /// Reloads the configuration: {true, message} or {false, reason}.
  std::function<std::pair<bool, std::string>()> reload;
};

/// The embedded HTTP server. Listening starts in the constructor and stops in
/// the destructor, which waits for requests in progress to finish.
///
/// Thread-safety: construct and destroy on one thread; AddRoute, port() and
/// listen_address() may be called from any thread. Routes run on up to
/// num_threads worker threads concurrently.
class HttpServer {
 public:
  /// Starts listening. Throws std::invalid_argument for a malformed address and
  /// std::runtime_error when the server cannot start (address in use or not
  /// local, a certificate CivetWeb refuses, no TLS library...).
  HttpServer(std::string_view listen_address, HttpHandlers handlers,
             HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Serves `path` (exactly; a longer path is 404) for the given methods ("GET"
  /// also answers HEAD); any other method is 405 with an Allow header. The
  /// web config's authentication applies as to every route.
  void AddRoute(const std::string& path, std::vector<std::string> methods, HttpRoute route);

  /// The port actually bound (differs from the requested one when that was 0).
  std::uint16_t port() const { return port_; }
  /// The address as given to the constructor.
  const std::string& listen_address() const { return listen_address_; }
  /// True when the port speaks TLS.
  bool tls() const { return options_.web.tls.has_value(); }

 private:
  class Route;
  class Guard;
  static int OnLogMessage(const mg_connection* conn, const char* message);
  static int OnInitTls(void* ssl_ctx, void* user_data);
  void AddBuiltInRoutes(HttpHandlers handlers);

  std::string listen_address_;
  HttpServerOptions options_;
  std::uint16_t port_ = 0;
  ListenAddress wake_address_;  // where the destructor knocks to stop CivetWeb quickly
  std::mutex startup_mutex_;
  bool starting_ = true;                  // guarded by startup_mutex_
  std::vector<std::string> startup_log_;  // CivetWeb's messages while starting
  std::mutex routes_mutex_;
  std::vector<std::unique_ptr<CivetHandler>> routes_;  // guarded by routes_mutex_
  std::unique_ptr<CivetHandler> not_found_;
  std::unique_ptr<Guard> guard_;
  // Stopped explicitly in the destructor, before the routes it calls go away.
  std::unique_ptr<CivetServer> civet_;
};

}  // namespace portpath::exporter
