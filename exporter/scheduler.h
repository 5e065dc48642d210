#pragma once
/// Decides when each target port is traced: every `interval`, at a phase of its
/// own spread over the whole interval (a hash of the key), each start delayed
/// by a random share of `jitter`, and never while the previous trace of the same target is still
/// running (that round is skipped and counted). Pure: time is a parameter.
/// Not thread-safe (owned by the probe loop).
///
/// The loop asks TakeDue and NextDue at every turn (thousands of times a
/// second at 10,000 targets), so both look only at the due end of a queue
/// ordered by due time: O(due keys x log n), not a walk over every key.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "probe/trace.h"

namespace portpath::exporter {

struct ScheduleSettings {
  probe::Duration interval = std::chrono::seconds(30);
  probe::Duration jitter = std::chrono::seconds(3);
  bool operator==(const ScheduleSettings&) const = default;
};

class Scheduler {
 public:
  explicit Scheduler(std::uint64_t seed = 1) : rng_(seed) {}

  /// Replaces the set of targets. A key that stays keeps its schedule, running
  /// state and skip count (a reload must not reset what is unchanged); a new
  /// key's first round comes at its phase (within one interval) plus jitter.
  void SetTargets(const std::map<std::string, ScheduleSettings>& targets, probe::TimePoint now);

  /// Keys whose round has come and that are idle; they are marked running.
  /// A due key that is still running has that round skipped (and is added to
  /// `skipped` when given).
  std::vector<std::string> TakeDue(probe::TimePoint now,
                                   std::vector<std::string>* skipped = nullptr);
  void MarkFinished(const std::string& key);

  std::optional<probe::TimePoint> NextDue() const;
  std::uint64_t skipped(const std::string& key) const;
  bool running(const std::string& key) const;

 private:
  struct Entry {
    ScheduleSettings settings;
    probe::TimePoint slot{};      // the unjittered start of the current round
    probe::TimePoint next_due{};  // slot plus this round's jitter
    bool running = false;
    std::uint64_t skipped = 0;
  };
  probe::Duration RandomJitter(probe::Duration jitter);
  /// Where in the interval a key's rounds fall: stable per key, uniform.
  static probe::Duration Phase(const std::string& key, probe::Duration interval);

  /// Entries by due time (ties by key): points at entries_' keys, which stay put.
  struct DueOrder {
    bool operator()(const std::pair<probe::TimePoint, const std::string*>& a,
                    const std::pair<probe::TimePoint, const std::string*>& b) const {
      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
    }
  };
  using Queue = std::set<std::pair<probe::TimePoint, const std::string*>, DueOrder>;

  std::map<std::string, Entry> entries_;
  Queue queue_;  // one element per entry: (next_due, key)
  std::mt19937_64 rng_;
};

}  // namespace portpath::exporter
