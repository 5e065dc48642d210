#include "probe/measurement.h"

#include <algorithm>
#include <chrono>

#include "probe/diagnosis.h"

namespace portpath::probe {

MeasurementRounds::MeasurementRounds(std::size_t max_traces)
    : max_traces_(std::clamp<std::size_t>(max_traces, 1, kEngineTraceSlots)) {}

int MeasurementRounds::FlowsOf(int flows) { return std::clamp(flows, 1, kMaxFlows); }

bool MeasurementRounds::HasRoom(const Engine& engine, int flows) const {
  return engine.active() + static_cast<std::size_t>(FlowsOf(flows)) <= max_traces_;
}

bool MeasurementRounds::Start(Engine& engine, const TraceJob& job, std::uint64_t round_id,
                              int flows) {
  // All flows or none: a round that silently lost flows would report fewer
  // ECMP paths than it was asked to look for.
  if (!HasRoom(engine, flows)) return false;
  TraceJob main = job;
  main.tag = round_id * kTagsPerRound;
  if (!engine.Start(std::move(main))) return false;
  Round& round = rounds_[round_id];
  round = Round{};
  round.outstanding = 1;
  // Each further flow is its own trace, so it gets its own slot and source
  // port; only the main flow pings the destination.
  for (int k = 1; k < FlowsOf(flows); ++k) {
    TraceJob flow = job;
    flow.settings.ping = false;
    flow.tag = round_id * kTagsPerRound + static_cast<std::uint64_t>(k);
    if (engine.Start(std::move(flow))) ++round.outstanding;
  }
  return true;
}

void MeasurementRounds::Queue(const TraceJob& job, std::uint64_t round_id, int flows) {
  queue_.push_back(QueuedRound{job, round_id, flows});
}

void MeasurementRounds::StartQueued(Engine& engine) {
  // In order: a round of 16 flows is not overtaken for ever by rounds of 1.
  while (!queue_.empty() &&
         Start(engine, queue_.front().job, queue_.front().round_id, queue_.front().flows))
    queue_.pop_front();
}

void MeasurementRounds::RunUntilDone(Engine& engine,
                                     const std::function<void(CompletedRound)>& on_done) {
  for (;;) {
    StartQueued(engine);
    if (engine.active() == 0) {
      if (queue_.empty()) return;
      // Nothing runs and the next round still does not fit: it never will.
      QueuedRound& q = queue_.front();
      CompletedRound failed;
      failed.round_id = q.round_id;
      failed.result = MakeErrorResult(
          q.job.target, q.job.host, q.job.port,
          "a round of " + std::to_string(FlowsOf(q.flows)) + " flows does not fit in the engine");
      failed.result.address = q.job.destination;
      queue_.pop_front();
      on_done(std::move(failed));
      continue;
    }
    engine.RunOnce(std::chrono::seconds(1));
    for (FinishedTrace& f : engine.TakeFinished())
      if (auto done = Add(std::move(f))) on_done(std::move(*done));
  }
}

void MeasurementRounds::Drop(std::uint64_t round_id) {
  rounds_.erase(round_id);
  std::erase_if(queue_, [&](const QueuedRound& q) { return q.round_id == round_id; });
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
