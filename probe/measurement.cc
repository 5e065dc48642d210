#include "probe/measurement.h"

#include "probe/diagnosis.h"

namespace portpath::probe {

bool MeasurementRounds::Start(Engine& engine, const TraceJob& job, std::uint64_t round_id,
                              int flows) {
  TraceJob main = job;
  main.tag = round_id * kTagsPerRound;
  if (!engine.Start(std::move(main))) return false;
  Round& round = rounds_[round_id];
  round = Round{};
  round.outstanding = 1;
  // Each further flow is its own trace, so it gets its own slot and source
  // port; only the main flow pings the destination.
  for (int k = 1; k < std::min(flows, kMaxFlows); ++k) {
    TraceJob flow = job;
    flow.settings.ping = false;
    flow.tag = round_id * kTagsPerRound + static_cast<std::uint64_t>(k);
    if (engine.Start(std::move(flow))) ++round.outstanding;
  }
  return true;
}

std::optional<CompletedRound> MeasurementRounds::Add(FinishedTrace finished) {
  std::uint64_t round_id = finished.tag / kTagsPerRound;
  auto it = rounds_.find(round_id);
  if (it == rounds_.end()) return std::nullopt;
  Round& round = it->second;
  if (finished.tag % kTagsPerRound == 0) {
    round.main = std::move(finished.result);
    round.ping = std::move(finished.ping);
  } else {
    round.extra_flows.push_back(std::move(finished.result));
  }
  if (--round.outstanding > 0) return std::nullopt;
  Round done = std::move(round);
  rounds_.erase(it);
  if (!done.main) return std::nullopt;
  CompletedRound out;
  out.round_id = round_id;
  out.result = std::move(*done.main);
  if (!done.extra_flows.empty() && out.result.outcome != Outcome::kError)
    MergeFlows(out.result, done.extra_flows);
  if (done.ping) CompareWithPing(out.result, *done.ping);
  return out;
}

}  // namespace portpath::probe
