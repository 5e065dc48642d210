#pragma once
/// The exporter's HTTP endpoints on a small embedded CivetWeb server:
///   GET  /            an HTML index linking to the endpoints below
///   GET  /metrics     the text exposition format 0.0.4
///   GET  /probe?target=HOST:PORT   an on-demand trace (multi-target pattern)
///   GET  /-/healthy   200 once the server runs
///   GET  /-/ready     200 after the first round, 503 before
///   POST|PUT /-/reload  reloads the configuration (200, or 500 with the reason)
/// HEAD is accepted wherever GET is. Anything else is 404; a known path with the
/// wrong method is 405 with an Allow header.

#include <prometheus/collectable.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct mg_context;
struct mg_connection;

namespace portpath::exporter {

/// Content type of the Prometheus text exposition format 0.0.4.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Runs Collect() on each collectable and serializes every family with
/// prometheus::TextSerializer. Thread-safe if every Collect() is.
std::string RenderMetrics(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables);

/// What the endpoints do. Each function is called on CivetWeb's worker threads,
/// possibly several at once, so each must be thread-safe (typically: read the
/// latest immutable Snapshot). An exception thrown by a handler becomes a 500
/// carrying its message. An empty function means: /metrics empty body, /probe
/// 404, /-/ready always ready, /-/reload 500 "reload not supported".
struct HttpHandlers {
  /// The body of /metrics (usually RenderMetrics over the registered collectors).
  std::function<std::string()> metrics_text;
  /// /probe?target=...: the status code and body (exposition text on 200, a
  /// plain-text message otherwise). `target` is URL-decoded and non-empty.
  std::function<std::pair<int, std::string>(const std::string& target)> probe;
  /// True once the first probe round has completed.
  std::function<bool()> ready;
  /// Reloads the configuration: {true, message} or {false, reason}.
  std::function<std::pair<bool, std::string>()> reload;
};

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
  /// CivetWeb worker threads: each serves one connection at a time, so this also
  /// bounds concurrent scrapes and probes.
  int num_threads = 4;
  /// Socket read/write timeout, so a stalled client cannot hold a worker forever.
  int request_timeout_ms = 10000;
  /// Receives CivetWeb's own log lines (bind errors, bad requests); when empty
  /// they go to stderr.
  std::function<void(const std::string&)> log;
};

/// The embedded HTTP server. Listening starts in the constructor and stops in
/// the destructor, which waits for requests in progress to finish.
///
/// Thread-safety: construct and destroy on one thread; port() and
/// listen_address() may be called from any thread. Handlers run on up to
/// num_threads worker threads concurrently.
class HttpServer {
 public:
  /// Starts listening. Throws std::invalid_argument for a malformed address and
  /// std::runtime_error when the address cannot be bound (in use, not local...).
  HttpServer(std::string_view listen_address, HttpHandlers handlers,
             HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// The port actually bound (differs from the requested one when that was 0).
  std::uint16_t port() const { return port_; }
  /// The address as given to the constructor.
  const std::string& listen_address() const { return listen_address_; }

 private:
  struct ContextStopper {
    void operator()(mg_context* ctx) const;
  };
  static int OnBeginRequest(mg_connection* conn);
  static int OnLogMessage(const mg_connection* conn, const char* message);
  void Handle(mg_connection* conn);

  std::string listen_address_;
  HttpHandlers handlers_;
  HttpServerOptions options_;
  std::uint16_t port_ = 0;
  ListenAddress wake_address_;  // where the destructor knocks to stop CivetWeb quickly
  // Last member: destroyed first, so mg_stop() joins the workers while the
  // handlers they call are still alive.
  std::unique_ptr<mg_context, ContextStopper> context_;
};

}  // namespace portpath::exporter
