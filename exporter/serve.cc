#include "exporter/serve.h"

#include <netdb.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "config/config.h"
#include "config/extra_labels.h"
#include "config/host_checks.h"
#include "config/shard.h"
#include "exporter/collector.h"
#include "exporter/http_probe.h"
#include "exporter/http_server.h"
#include "exporter/prober_service.h"
#include "exporter/process_metrics.h"
#include "exporter/status_page.h"
#include "exporter/web_config.h"
#include "probe/asn/asn_database.h"
#include "probe/io/errors.h"
#include "probe/io/privileges.h"
#include "probe/io/system.h"
#include "probe/io/transport.h"

namespace portpath::exporter {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string JoinErrors(const std::vector<config::ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += std::string(out.empty() ? "" : "\n") + e.what();
  return out;
}

/// Names from the config are resolved with getaddrinfo at every round; the
/// source address is the config's, or the kernel's choice toward the target.
class SystemResolver : public Resolver {
 public:
  SystemResolver(std::optional<packet::IpAddress> source, std::optional<std::string> interface)
      : source_(source), interface_(std::move(interface)) {}

  std::optional<packet::IpAddress> Resolve(const std::string& host, config::Family family,
                                           std::string& error) override {
    // `family` is for host names only: an IP literal is traced as written.
    if (auto literal = packet::IpAddress::Parse(host)) return literal;
    return io::ResolveHost(host,
                           family == config::Family::kIpv4   ? io::FamilyFilter::kIpv4
                           : family == config::Family::kIpv6 ? io::FamilyFilter::kIpv6
                                                             : io::FamilyFilter::kAny,
                           error);
  }

  std::optional<packet::IpAddress> SourceFor(const packet::IpAddress& destination,
                                             std::string& error) override {
    if (source_) {
      if (source_->family() == destination.family()) return source_;
      error = "the configured source " + source_->ToString() + " is of another address family";
      return std::nullopt;
    }
    auto lookup = io::SourceAddressFor(destination, interface_);
    if (!lookup.address) error = lookup.error;
    return lookup.address;
  }

 private:
  std::optional<packet::IpAddress> source_;
  std::optional<std::string> interface_;
};

/// What identifies the file's current content on disk. stat() follows symlinks
/// and realpath() names the final file, so a Kubernetes ConfigMap update (which
/// swaps the ..data symlink to a new directory) changes it even when the size
/// and modification time happen to match.
struct FileFingerprint {
  std::string real_path;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool exists = false;
  bool operator==(const FileFingerprint&) const = default;
};

FileFingerprint Fingerprint(const std::string& path) {
  FileFingerprint f;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return f;
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf)) f.real_path = buf;
  f.exists = true;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.size = st.st_size;
  f.mtime_ns = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return f;
}

/// Loads the config file and hands a valid one to the service; a bad one is
/// logged and counted and the last good configuration keeps running.
/// Thread-safe (reloads are serialized).
class Reloader {
 public:
  Reloader(std::string path, ProberService& service, const config::Config& started_with,
           std::function<void(config::Config&)> adjust)
      : path_(std::move(path)),
        service_(service),
        adjust_(std::move(adjust)),
        asn_path_(started_with.asn_db),
        reverse_dns_(started_with.reverse_dns),
        interface_(started_with.interface),
        source_(started_with.source) {}

  std::pair<bool, std::string> Reload(const std::string& why) {
    std::lock_guard lock(mutex_);
    fingerprint_ = Fingerprint(path_);
    config::ParseResult result = config::TryLoadConfigFile(path_);
    if (!result.ok()) {
      std::string errors = JoinErrors(result.errors);
      spdlog::error("config reload ({}) failed; keeping the last good configuration:\n{}", why,
                    errors);
      service_.ApplyReload(std::nullopt, false, NowSeconds());
      return {false, errors};
    }
    adjust_(*result.config);
    // The capture and the raw sockets are bound to the interface, and the source
    // address is checked against this host's addresses, at start-up (before
    // privileges are dropped): a reload cannot move them, so it says so.
    for (auto [key, now, then] : {std::tuple{"interface", &result.config->interface, &interface_},
                                  std::tuple{"source", &result.config->source, &source_}}) {
      if (*now == *then) continue;
      std::string error = std::string(key) + ": changing '" + key + "' (from " +
                          then->value_or("auto") + " to " + now->value_or("auto") +
                          ") needs a restart of portpath serve";
      spdlog::error("config reload ({}) failed; keeping the last good configuration: {}", why,
                    error);
      service_.ApplyReload(std::nullopt, false, NowSeconds());
      return {false, error};
    }
    if (result.config->asn_db != asn_path_) {
      // A new ASN database must open before anything of the new file is used.
      try {
        std::shared_ptr<const asn::AsnDatabase> db;
        if (result.config->asn_db) db = asn::OpenAsnDatabase(*result.config->asn_db);
        service_.SetAsnDatabase(db);
        asn_path_ = result.config->asn_db;
      } catch (const std::exception& e) {
        spdlog::error("config reload ({}) failed; keeping the last good configuration: asn_db: {}",
                      why, e.what());
        service_.ApplyReload(std::nullopt, false, NowSeconds());
        return {false, std::string("asn_db: ") + e.what()};
      }
    }
    if (result.config->reverse_dns != reverse_dns_) {
      reverse_dns_ = result.config->reverse_dns;
      service_.SetReverseDns(reverse_dns_ ? std::make_shared<io::ReverseDns>() : nullptr);
    }
    service_.ApplyReload(std::move(result.config), true, NowSeconds());
    spdlog::info("config reloaded ({}) from {}", why, path_);
    return {true, "config reloaded"};
  }

  /// Reloads when the file on disk changed since the last load.
  void CheckForChange() {
    {
      std::lock_guard lock(mutex_);
      if (Fingerprint(path_) == fingerprint_) return;
    }
    Reload("file changed");
  }

  void Remember() {
    std::lock_guard lock(mutex_);
    fingerprint_ = Fingerprint(path_);
  }

 private:
  std::string path_;
  ProberService& service_;
  const std::function<void(config::Config&)> adjust_;  // --shard, --labels
  std::mutex mutex_;
  FileFingerprint fingerprint_;
  std::optional<std::string> asn_path_;
  bool reverse_dns_ = false;
  const std::optional<std::string> interface_;
  const std::optional<std::string> source_;
};

void LogConfigSummary(const config::Config& c, const std::string& listen) {
  const config::ProbeSettings& d = c.defaults;
  spdlog::info(
      "portpath serve: {} targets from {}; defaults: interval {}ms, timeout {}ms, max_hops {}, "
      "first_hop {}, probes_per_hop {}, gap_limit {}, jitter {}ms, family {}; rate {} pps; "
      "source {}; interface {}; listening on {}",
      c.targets.size(), c.file, d.interval.count(), d.timeout.count(), d.max_hops, d.first_hop,
      d.probes_per_hop, d.gap_limit, d.jitter.count(), config::ToString(d.family), c.rate,
      c.source.value_or("auto"), c.interface.value_or("any"), listen);
}

}  // namespace

int RunServe(const ServeOptions& options) {
  TuneAllocatorForServe();  // before any thread exists
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  // Least privilege (probe/io/privileges.h): from here on nothing but
  // CAP_NET_RAW (and what a --user switch needs), and nothing at all once the
  // probe transport is open. Before any thread exists: capabilities are per thread.
  if (std::string error = io::NarrowPrivileges(!options.run_as_user.empty()); !error.empty()) {
    spdlog::error("portpath serve: {}", error);
    return 3;
  }
  config::ParseResult loaded = config::TryLoadConfigFile(options.config_file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) spdlog::error("{}", e.what());
    spdlog::error("portpath serve: the configuration is invalid; nothing was started");
    return 2;
  }
  // The command line's share of every loaded file: this replica's shard, and
  // labels such as the node and pod names a DaemonSet passes.
  auto adjust = [&options](config::Config& c) {
    if (!options.extra_labels.empty()) config::AddExtraLabels(c, options.extra_labels);
    if (!options.shard) return;
    std::size_t total = 0;
    for (const auto& t : c.targets) total += t.ports.size();
    std::size_t kept = config::ApplyShard(c, *options.shard);
    spdlog::info("portpath serve: shard {}: {} of {} target ports",
                 config::ToString(*options.shard), kept, total);
  };
  adjust(*loaded.config);
  const config::Config& config = *loaded.config;
  // The loader checked the form of `source` and `interface`; whether this host owns them is
  // checked here, as `portpath trace -s/-i` does: a source it does not own would spoof every
  // probe, and every answer would go elsewhere. A reload cannot change them (Reloader).
  if (auto errors = config::CheckAgainstHost(config); !errors.empty()) {
    for (const auto& e : errors) spdlog::error("{}", e.what());
    spdlog::error("portpath serve: the configuration is invalid; nothing was started");
    return 2;
  }
  HttpServerOptions http_options;
  if (!options.web_config_file.empty()) {
    try {
      http_options.web = LoadWebConfig(options.web_config_file);
    } catch (const WebConfigError& e) {
      spdlog::error("portpath serve: --web.config.file {}", e.what());
      spdlog::error("portpath serve: the web configuration is invalid; nothing was started");
      return 2;
    }
    if (!http_options.web.tls && http_options.web.basic_auth_users.empty()) {
      spdlog::warn("portpath serve: web config {} sets neither TLS nor basic auth",
                   options.web_config_file);
    } else if (!http_options.web.tls) {
      spdlog::warn("portpath serve: basic auth without TLS: passwords cross the network in clear");
    }
  }
  // CivetWeb's own messages at run time (failed TLS handshakes of port scanners...).
  http_options.log = [](const std::string& line) { spdlog::debug("http: {}", line); };

  // Signals are handled by the main thread with sigtimedwait; block them before
  // any other thread exists so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  probe::EngineOptions engine;
  engine.rate = config.rate;
  io::SystemClock clock;
  // Raw sockets, or connect() probes where they are refused (no CAP_NET_RAW).
  io::OpenedTransport transport;
  try {
    transport = io::OpenProbeTransport(io::TransportOptionsFor(engine, config.interface), clock);
    if (!transport.notice.empty()) spdlog::warn("portpath serve: {}", transport.notice);
  } catch (const io::MissingCapability& e) {
    spdlog::error("portpath serve: {}", e.what());
    return 3;
  } catch (const io::IoError& e) {
    spdlog::error("portpath serve: {}", e.what());
    return 3;
  }
  if (std::string error = io::DropPrivileges(options.run_as_user); !error.empty()) {
    spdlog::error("portpath serve: {}", error);
    return 3;
  }
  spdlog::info("portpath serve: probe transport open; running as {}",
               io::ReadPrivilegeState().Describe());
  // The ASN data, the config on reload and HTTP are handled without privilege.
  std::shared_ptr<const asn::AsnDatabase> asn_db;
  if (config.asn_db) {
    try {
      asn_db = asn::OpenAsnDatabase(*config.asn_db);
      spdlog::info("ASN database {}: {} ranges ({})", *config.asn_db, asn_db->size(),
                   asn_db->format());
    } catch (const std::exception& e) {
      spdlog::error("portpath serve: asn_db: {}", e.what());
      return 2;
    }
  }

  std::optional<packet::IpAddress> fixed_source;
  if (config.source) fixed_source = packet::IpAddress::Parse(*config.source);
  SystemResolver resolver(fixed_source, config.interface);
  ServiceOptions service_options;
  service_options.engine = engine;
  service_options.ready_after = options.ready_after;
  ProberService service(service_options, config, *transport.transport, clock, resolver);
  service.SetAsnDatabase(asn_db);
  if (config.reverse_dns) service.SetReverseDns(std::make_shared<io::ReverseDns>());
  Reloader reloader(options.config_file, service, config, adjust);
  reloader.Remember();

  // /metrics is written straight from the latest snapshot, and compressed as it
  // is written when the scraper accepts gzip (exporter/collector.h).
  MetricsEndpoint metrics([&service] { return service.snapshot(); },
                          {std::make_shared<ProcessCollector>(options.version)});
  HttpHandlers handlers;
  handlers.metrics = [&metrics](const HttpRequest& request) { return metrics(request); };
  handlers.ready = [&service] { return service.ready(); };
  handlers.reload = [&reloader] { return reloader.Reload("POST /-/reload"); };
  // At most two /probe traces at once: each holds an HTTP worker until its
  // trace ends.
  ProbeEndpoint probe_endpoint(service);
  handlers.probe = [&probe_endpoint](const std::string& target) { return probe_endpoint(target); };

  // The status page at / (replacing the plain index): every target, blocked
  // ones expanded with their path; it keeps the recent rounds for its timeline.
  char hostname[256] = "";
  ::gethostname(hostname, sizeof hostname - 1);
  StatusPageOptions page_options;
  page_options.version = options.version;
  page_options.hostname = hostname;
  StatusPage status_page(page_options);
  auto current = [&service] {
    SnapshotPtr s = service.snapshot();
    return s ? s : std::make_shared<const Snapshot>();
  };
  std::optional<HttpServer> http;
  try {
    http.emplace(options.listen_address, handlers, http_options);
  } catch (const std::exception& e) {
    spdlog::error("portpath serve: {}", e.what());
    return 3;
  }
  http->AddRoute("/", {"GET"}, [&status_page, &current](const HttpRequest& request) {
    return status_page.Handle(*current(), request.Param("target"), NowSeconds());
  });
  LogConfigSummary(config, options.listen_address + " (port " + std::to_string(http->port()) + ")" +
                               (http->tls() ? ", TLS" : "") +
                               (http_options.web.basic_auth_users.empty() ? "" : ", basic auth"));

  std::atomic<bool> stop{false};
  std::thread loop([&] { service.Run(stop); });

  timespec wait{};
  wait.tv_sec = options.watch_interval.count() / 1000;
  wait.tv_nsec = (options.watch_interval.count() % 1000) * 1'000'000;
  while (true) {
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) {
      reloader.Reload("SIGHUP");
    } else if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("portpath serve: stopping on signal {}", sig);
      break;
    } else {
      reloader.CheckForChange();
      status_page.Observe(current());
    }
  }
  stop = true;
  loop.join();
  http.reset();
  return 0;
}

}  // namespace portpath::exporter
