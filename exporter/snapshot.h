#pragma once
/// What the probe loop publishes for the HTTP threads: an immutable snapshot of
/// every configured target's latest result plus the loop's counters. The loop
/// builds a new one and swaps a shared_ptr; scrapes only read. Thread-safe once
/// published (never mutated).

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probe/engine.h"
#include "probe/trace_result.h"

namespace portpath::exporter {

/// One configured (host, port) pair.
struct TargetSnapshot {
  std::string target;  // "host:port" as the config names it ("[v6]:port" for IPv6 literals)
  std::string host;
  std::uint16_t port = 0;
  /// Per-target labels from the config; names never collide with ours.
  std::map<std::string, std::string> labels;
  /// The latest completed trace; nullopt until the first one finishes.
  std::optional<probe::TraceResult> last;
  /// Rounds skipped because the previous trace of this target was still running.
  std::uint64_t skipped_rounds = 0;
  /// Path changes seen between consecutive rounds, and when the last one was
  /// seen (Unix seconds; 0 = never).
  std::uint64_t path_changes = 0;
  double last_path_change = 0;
};

struct Snapshot {
  std::vector<TargetSnapshot> targets;
  probe::EngineStats engine;
  /// Completed traces by outcome since start (index = probe::Outcome).
  std::array<std::uint64_t, probe::kOutcomeCount> traces_by_outcome{};
  bool last_reload_successful = true;
  double last_reload_success_timestamp = 0;  // Unix seconds
  std::uint64_t reloads_total = 0;
  std::uint64_t reload_failures_total = 0;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace portpath::exporter
