#pragma once
/// Turns the probe loop's latest Snapshot into Prometheus metric families at
/// scrape time. Nothing is registered or cached: every scrape renders the whole
/// snapshot, so a target removed from the config, or a hop that is no longer on
/// the path, disappears at the next scrape without any bookkeeping.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <string_view>
#include <vector>

#include "exporter/snapshot.h"

namespace portpath::exporter {

/// Renders one snapshot (the pure part of TraceCollector, exposed for tests and
/// for the /probe endpoint, which renders a one-target snapshot). Families that
/// would have no series are left out. Pure and thread-safe.
std::vector<prometheus::MetricFamily> RenderSnapshot(const Snapshot& snapshot);

/// The per-target series of RenderSnapshot only, without the loop's self metrics
/// (probes sent, replies, reloads, traces_total): what /probe?target= returns.
std::vector<prometheus::MetricFamily> RenderTargets(const std::vector<TargetSnapshot>& targets);

/// A prometheus::Collectable over the snapshot the probe loop publishes.
///
/// Thread-safety: Collect() may run on several HTTP threads at once. It only
/// calls the snapshot getter (which must itself be thread-safe, e.g. an atomic
/// load of a shared_ptr) and reads the immutable Snapshot it returns.
class TraceCollector : public prometheus::Collectable {
 public:
  /// `snapshot` returns the latest published snapshot; nullptr means "nothing
  /// published yet" and yields no families.
  explicit TraceCollector(std::function<SnapshotPtr()> snapshot);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<SnapshotPtr()> snapshot_;
};

}  // namespace portpath::exporter
