#pragma once
/// One measurement of one target port, the unit both `portpath trace` and
/// `portpath serve` run: the main TCP trace (with its ICMP echo probes: the
/// ping comparison and the controls), the extra ECMP flows, and the verdict
/// steps that combine them. Front ends start rounds and feed finished traces
/// back; what comes out is the result they print or export.
/// Not thread-safe: lives on the probe loop with its engine.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "probe/engine.h"

namespace portpath::probe {

/// Flows per target at most (the CLI's --flows and the config's flows:).
inline constexpr int kMaxFlows = 16;

struct CompletedRound {
  std::uint64_t round_id = 0;
  TraceResult result;
};

class MeasurementRounds {
 public:
  /// Starts the `flows` traces of one round for `job` (its tag is ignored).
  /// round_id must be below 2^58 and not in use. Returns false when the engine
  /// had no room for the main trace (nothing of the round then runs).
  bool Start(Engine& engine, const TraceJob& job, std::uint64_t round_id, int flows);
  /// Feeds a finished trace of the engine; returns the round once all its
  /// flows are in, merged (ECMP paths) and compared with the ping.
  std::optional<CompletedRound> Add(FinishedTrace finished);
  /// Forgets a round whose result nobody wants any more (e.g. target removed).
  void Drop(std::uint64_t round_id) { rounds_.erase(round_id); }
  bool running(std::uint64_t round_id) const { return rounds_.count(round_id) > 0; }

 private:
  struct Round {
    int outstanding = 0;
    std::optional<TraceResult> main;
    std::optional<TraceResult> ping;
    std::vector<TraceResult> extra_flows;
  };
  static constexpr std::uint64_t kTagsPerRound = 32;
  std::map<std::uint64_t, Round> rounds_;
};

}  // namespace portpath::probe
