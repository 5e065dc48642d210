#include "exporter/scheduler.h"

namespace portpath::exporter {

probe::Duration Scheduler::RandomJitter(probe::Duration jitter) {
  if (jitter <= probe::Duration::zero()) return probe::Duration::zero();
  std::uniform_int_distribution<std::int64_t> d(0, jitter.count());
  return probe::Duration(d(rng_));
}

probe::Duration Scheduler::Phase(const std::string& key, probe::Duration interval) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: the same phase in every run
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  if (interval <= probe::Duration::zero()) return probe::Duration::zero();
  return probe::Duration(
      static_cast<probe::Duration::rep>(h % static_cast<std::uint64_t>(interval.count())));
}

void Scheduler::SetTargets(const std::map<std::string, ScheduleSettings>& targets,
                           probe::TimePoint now) {
  std::map<std::string, Entry> next;
  for (const auto& [key, settings] : targets) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      Entry e = it->second;
      if (e.settings.interval != settings.interval) {
        // A new interval applies from now on, not after the old, maybe long, one.
        e.slot = std::min(e.slot, now);
        e.next_due = std::min(e.next_due, now + settings.interval);
      }
      e.settings = settings;
      next.emplace(key, e);
    } else {
      Entry e;
      e.settings = settings;
      // Each target's rounds keep a phase of their own across the interval
      // (stable: a hash of the key), so a thousand targets do not fire in one
      // burst and drain the routers' ICMP budgets at once.
      probe::Duration phase = Phase(key, settings.interval);
      e.slot = now + phase - settings.interval;
      e.next_due = now + phase + RandomJitter(settings.jitter);
      next.emplace(key, e);
    }
  }
  entries_ = std::move(next);
  queue_.clear();
  for (const auto& [key, e] : entries_) queue_.emplace(e.next_due, &key);
}

std::vector<std::string> Scheduler::TakeDue(probe::TimePoint now,
                                            std::vector<std::string>* skipped) {
  std::vector<std::string> due;
  std::vector<const std::string*> taken;
  while (!queue_.empty() && queue_.begin()->first <= now) {
    taken.push_back(queue_.begin()->second);
    queue_.erase(queue_.begin());
  }
  for (const std::string* key : taken) {
    Entry& e = entries_.at(*key);
    // Rounds are counted from unjittered slots, not from now, so neither a
    // late loop nor the jitter makes the schedule drift.
    do {
      e.slot += e.settings.interval;
    } while (e.slot <= now);
    e.next_due = e.slot + RandomJitter(e.settings.jitter);
    queue_.emplace(e.next_due, key);
    if (e.running) {
      ++e.skipped;
      if (skipped) skipped->push_back(*key);
      continue;
    }
    e.running = true;
    due.push_back(*key);
  }
  return due;
}

void Scheduler::MarkFinished(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.running = false;
}

std::optional<probe::TimePoint> Scheduler::NextDue() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first;
}

std::uint64_t Scheduler::skipped(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.skipped;
}

bool Scheduler::running(const std::string& key) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.running;
}

}  // namespace portpath::exporter
