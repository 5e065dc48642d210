#pragma once
/// One measurement of one target port, the unit both `portpath trace` and
/// `portpath serve` run: the main TCP trace (with its ICMP echo probes: the
/// ping comparison and the controls), the extra ECMP flows, and the verdict
/// steps that combine them. Front ends start rounds and feed finished traces
/// back; what comes out is the result they print or export.
/// Not thread-safe: lives on the probe loop with its engine.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "probe/engine.h"

namespace portpath::probe {

/// Flows per target at most (the CLI's --flows and the config's flows:).
inline constexpr int kMaxFlows = 16;
/// Traces one Engine runs at once (Engine::Start refuses more).
inline constexpr std::size_t kEngineTraceSlots = 65536;

struct CompletedRound {
  std::uint64_t round_id = 0;
  TraceResult result;
};

class MeasurementRounds {
 public:
  /// max_traces: traces of this object's rounds running in the engine at once at
  /// most (1 to kEngineTraceSlots; tests use a small number).
  explicit MeasurementRounds(std::size_t max_traces = kEngineTraceSlots);

  /// Starts the `flows` traces of one round for `job` (its tag is ignored), all
  /// of them or none: returns false when the engine has no room for every flow
  /// now. round_id must be below 2^58 and not in use.
  bool Start(Engine& engine, const TraceJob& job, std::uint64_t round_id, int flows);
  /// Queues a round to start, in queue order, once the engine has room for all
  /// its flows (StartQueued, RunUntilDone). Same round_id rules as Start.
  void Queue(const TraceJob& job, std::uint64_t round_id, int flows);
  /// Starts queued rounds, oldest first, while the engine has room for them.
  void StartQueued(Engine& engine);
  /// Runs the engine until every started and queued round is done, handing each
  /// completed round to on_done (a round too large for the engine even when it
  /// is idle comes back as an error result naming its target).
  void RunUntilDone(Engine& engine, const std::function<void(CompletedRound)>& on_done);

  /// Feeds a finished trace of the engine; returns the round once all its
  /// flows are in, merged (ECMP paths) and compared with the ping.
  std::optional<CompletedRound> Add(FinishedTrace finished);
  /// Forgets a round (started or queued) whose result nobody wants any more
  /// (e.g. target removed).
  void Drop(std::uint64_t round_id);
  bool running(std::uint64_t round_id) const { return rounds_.count(round_id) > 0; }
  std::size_t queued() const { return queue_.size(); }

 private:
  struct Round {
    int outstanding = 0;
    std::optional<TraceResult> main;
    std::optional<TraceResult> ping;
    std::vector<TraceResult> extra_flows;
  };
  struct QueuedRound {
    TraceJob job;
    std::uint64_t round_id = 0;
    int flows = 1;
  };
  static int FlowsOf(int flows);
  bool HasRoom(const Engine& engine, int flows) const;

  static constexpr std::uint64_t kTagsPerRound = 32;
  std::size_t max_traces_;
  std::map<std::uint64_t, Round> rounds_;
  std::deque<QueuedRound> queue_;
};

}  // namespace portpath::probe
