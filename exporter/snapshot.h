#pragma once
/// What the probe loop publishes for the HTTP threads: an immutable snapshot of
/// every configured target's latest result plus the loop's counters. The loop
/// builds a new one and swaps a shared_ptr; scrapes only read. Thread-safe once
/// published (never mutated).
///
/// Publishing is cheap at 10,000 targets: a target's entry and its result are
/// shared between the loop and every snapshot that shows them (TargetList,
/// SharedResult), so a snapshot copies a pointer per target and rebuilds only
/// the targets that changed, never the hops.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/engine.h"
#include "probe/trace_result.h"

namespace portpath::exporter {

/// A finished trace, shared and immutable once published, with the interface
/// of std::optional<probe::TraceResult> (has_value, *, ->, assignment from a
/// TraceResult, reset). Copying it copies a pointer.
///
/// Packed results: serve keeps one result per target port for as long as it
/// runs, and the hops are most of one (about 300 bytes each as probe::Hop);
/// SharedResult::Packed keeps them packed in a byte string instead (about 40
/// bytes a hop). The result a packed SharedResult shows through * and -> then
/// has NO hops: read them with hops() or full(), which work either way.
///
/// Mutating access (non-const * and ->) first copies the result if anyone else
/// holds it (copy on write) and unpacks its hops, so a snapshot already
/// published never changes: read through a const SharedResult (or
/// std::as_const), or a read costs a copy. Thread-safety: const access is safe from any
/// thread; mutate only a SharedResult no other thread is copying at the same
/// time (builders, tests, the loop's own state).
class SharedResult {
 public:
  SharedResult() = default;
  SharedResult(std::nullopt_t) {}          // NOLINT(google-explicit-constructor): as std::optional
  SharedResult(probe::TraceResult result)  // NOLINT(google-explicit-constructor)
      : stored_(std::make_shared<Stored>(Stored{std::move(result), {}, false})) {}
  SharedResult& operator=(probe::TraceResult result) {
    stored_ = std::make_shared<Stored>(Stored{std::move(result), {}, false});
    return *this;
  }
  SharedResult& operator=(std::nullopt_t) {
    stored_.reset();
    return *this;
  }
  /// `result` with its hops packed (see above).
  static SharedResult Packed(probe::TraceResult result);

  bool has_value() const { return stored_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  void reset() { stored_.reset(); }

  /// The result; without its hops when packed().
  const probe::TraceResult& operator*() const { return stored_->result; }
  const probe::TraceResult* operator->() const { return &stored_->result; }
  probe::TraceResult& operator*() { return *Own(); }
  probe::TraceResult* operator->() { return Own(); }

  /// True when the hops are packed: (*this)->hops is then empty.
  bool packed() const { return stored_ && stored_->packed; }
  /// The hops, packed or not (a copy). Requires has_value().
  std::vector<probe::Hop> hops() const;
  /// The whole result with its hops (a copy). Requires has_value().
  probe::TraceResult full() const;
  /// Bytes of the packed hops (0 when not packed), for tests and benchmarks.
  std::size_t packed_size() const { return packed() ? stored_->hops.size() : 0; }
  /// How many SharedResults hold this result (tests).
  long use_count() const { return stored_.use_count(); }

 private:
  struct Stored {
    probe::TraceResult result;  // hops empty when packed
    std::string hops;           // PackHops(result.hops) when packed
    bool packed = false;
  };
  probe::TraceResult* Own();
  // Never const: every Stored is made by make_shared<Stored> here.
  std::shared_ptr<Stored> stored_;
};

/// The hops in a compact byte string (TTL, reply, address, AS, names, MPLS
/// labels, every probe's round-trip time and sender), and back: UnpackHops(
/// PackHops(h)) == h. Pure.
std::string PackHops(const std::vector<probe::Hop>& hops);
std::vector<probe::Hop> UnpackHops(std::string_view packed);

/// True for the outcomes that stop the port somewhere on the path (filtered,
/// prohibited, unreachable, middleboxes): what hop_metrics: blocked and the
/// status page call blocked.
bool IsBlocked(probe::Outcome outcome);

/// True when `result`'s round could not confirm its verdict because routers
/// rate limited their answers: unconfirmed, or stale after a full round.
/// What portpath_icmp_budget_exceeded_targets counts and serve's budget-short
/// mode watches.
bool BudgetExceeded(const probe::TraceResult& result);

/// How much of a target /metrics shows.
enum class Detail {
  /// The series alerts and dashboards use: about 10 per target port.
  kDefault,
  /// Everything, per-hop series included, while the port is blocked (the
  /// outcome stops it on the path); the default set otherwise.
  kBlocked,
  /// Everything, always (what /probe?target= returns).
  kFull,
};

/// One configured (host, port) pair.
struct TargetSnapshot {
  std::string target;  // "host:port" as the config names it ("[v6]:port" for IPv6 literals)
  std::string host;
  std::uint16_t port = 0;
  /// Per-target labels from the config; names never collide with ours.
  std::map<std::string, std::string> labels;
  /// The latest completed trace; empty until the first one finishes.
  SharedResult last;
  /// Rounds skipped because the previous trace of this target was still running.
  std::uint64_t skipped_rounds = 0;
  /// Path changes seen between consecutive rounds, and when the last one was
  /// seen (Unix seconds; 0 = never).
  std::uint64_t path_changes = 0;
  double last_path_change = 0;
  /// The config's hop_metrics for this target.
  Detail detail = Detail::kDefault;
  /// The target's labels as the exposition writes them (`target="...",host=
  /// "...",port="...",` then the config's labels, escaped), made once when the
  /// configuration is applied and shared by every snapshot; null = made at
  /// scrape time (hand-built snapshots).
  std::shared_ptr<const std::string> label_text;
};

/// The targets of a snapshot: a list of TargetSnapshot (range-for, size,
/// operator[], push_back, assignment from a braced list) whose elements are
/// shared, immutable, between the snapshots that show them, so the loop
/// publishes a new snapshot by copying a pointer per target and rebuilding
/// only the targets that changed. Mutating access (non-const operator[])
/// copies an element first if another list holds it.
/// Thread-safety: as SharedResult.
class TargetList {
 public:
  using Ptr = std::shared_ptr<const TargetSnapshot>;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = TargetSnapshot;
    using difference_type = std::ptrdiff_t;
    using pointer = const TargetSnapshot*;
    using reference = const TargetSnapshot&;
    const_iterator() = default;
    explicit const_iterator(std::vector<Ptr>::const_iterator it) : it_(it) {}
    reference operator*() const { return **it_; }
    pointer operator->() const { return it_->get(); }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++it_;
      return old;
    }
    bool operator==(const const_iterator& other) const = default;

   private:
    std::vector<Ptr>::const_iterator it_;
  };

  TargetList() = default;
  TargetList(std::initializer_list<TargetSnapshot> targets) {
    for (const TargetSnapshot& t : targets) push_back(t);
  }
  TargetList& operator=(std::initializer_list<TargetSnapshot> targets) {
    items_.clear();
    for (const TargetSnapshot& t : targets) push_back(t);
    return *this;
  }

  const_iterator begin() const { return const_iterator(items_.begin()); }
  const_iterator end() const { return const_iterator(items_.end()); }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void reserve(std::size_t n) { items_.reserve(n); }
  void clear() { items_.clear(); }

  const TargetSnapshot& operator[](std::size_t i) const { return *items_[i]; }
  TargetSnapshot& operator[](std::size_t i) {
    if (items_[i].use_count() > 1) items_[i] = std::make_shared<TargetSnapshot>(*items_[i]);
    // Never const: every element is made by make_shared<TargetSnapshot>.
    return const_cast<TargetSnapshot&>(*items_[i]);
  }
  void push_back(TargetSnapshot t) {
    items_.push_back(std::make_shared<TargetSnapshot>(std::move(t)));
  }
  /// Adds an element shared with other lists (it must come from make_shared<TargetSnapshot>).
  void push_back_shared(Ptr t) { items_.push_back(std::move(t)); }
  /// Removes the elements `remove` accepts; returns how many.
  template <typename Pred>
  std::size_t erase_if(Pred remove) {
    return std::erase_if(items_, [&](const Ptr& t) { return remove(*t); });
  }

 private:
  std::vector<Ptr> items_;
};

struct Snapshot {
  TargetList targets;
  probe::EngineStats engine;
  /// The global probe rate limit in force (packets per second).
  double rate_limit = 0;
  /// Completed traces by outcome since start (index = probe::Outcome).
  std::array<std::uint64_t, probe::kOutcomeCount> traces_by_outcome{};
  bool last_reload_successful = true;
  double last_reload_success_timestamp = 0;  // Unix seconds
  std::uint64_t reloads_total = 0;
  std::uint64_t reload_failures_total = 0;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace portpath::exporter
