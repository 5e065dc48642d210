#pragma once
/// `portpath serve`: the exporter process. Loads and validates the config,
/// opens the probe sockets, runs the probe loop, serves HTTP, and reloads the
/// config on SIGHUP, on POST /-/reload and when the file changes on disk.

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "config/shard.h"

namespace portpath::exporter {

struct ServeOptions {
  std::string config_file;
  std::string listen_address = ":9750";
  std::string log_level = "info";
  std::chrono::milliseconds ready_after{120'000};
  /// How often the config file is checked for changes (stat, following symlinks).
  std::chrono::milliseconds watch_interval{1'000};
  std::string version;
  /// Prometheus exporter-toolkit web config (TLS, basic auth); empty = plain HTTP, no auth.
  std::string web_config_file;
  /// Switch to this user (name or uid) once sockets and capture are open; empty = stay.
  std::string run_as_user;
  /// Trace only this shard's target ports (--shard I/N); nullopt = all of them.
  std::optional<config::Shard> shard;
  /// Labels added to every target's series (--labels), e.g. node and pod names.
  std::map<std::string, std::string> extra_labels;
};

/// Runs until SIGTERM/SIGINT. Returns the process exit code (2: bad config at
/// start-up, 3: cannot probe or cannot listen).
int RunServe(const ServeOptions& options);

}  // namespace portpath::exporter
