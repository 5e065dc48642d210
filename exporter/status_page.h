#pragma once
/// The exporter's status page at `/`: every target with its outcome, the blocked
/// ones first and expanded with their path drawn hop by hop (inline SVG, no
/// external assets), the blocked hop highlighted with its address, class and
/// AS, the recent rounds as a timeline, and a ticket-ready summary to copy.
/// Other targets expand on demand (`/?target=HOST:PORT` returns one target's
/// detail). The page refreshes itself, keeps its filter, and stays light with
/// thousands of targets: one line each, a text filter and "blocked only".
///
/// Thread-safety: Observe() and the renderers may run concurrently (a mutex
/// guards the round history); the snapshots they read are immutable.

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "exporter/http_server.h"
#include "exporter/snapshot.h"

namespace portpath::exporter {

struct StatusPageOptions {
  /// portpath's version, shown in the page and in tickets.
  std::string version;
  /// Where this exporter runs (the host name), for "from where" in tickets.
  std::string hostname;
  /// Rounds kept per target for the timeline.
  std::size_t history = 24;
  /// Seconds between two refreshes of the page in the browser.
  int refresh_seconds = 30;
  /// At most this many blocked targets are expanded in the page itself; the
  /// rest expand on demand.
  std::size_t expanded_max = 100;
};

/// One round as the timeline shows it.
struct RoundMark {
  double finished_at = 0;  // Unix seconds
  probe::Outcome outcome = probe::Outcome::kError;
  int blocked_ttl = 0;  // 0 = no blocked hop
};

/// What the page remembers of a target beyond its latest result.
struct TargetHistory {
  std::vector<RoundMark> rounds;  // oldest first, at most options.history
  /// When the current outcome and blocked hop were first seen (Unix seconds).
  double since = 0;
  std::string state;  // outcome + blocked hop, to tell when it changes
};

class StatusPage {
 public:
  explicit StatusPage(StatusPageOptions options);

  /// Records the rounds finished since the last call, and forgets targets no
  /// longer configured. Call it about once a second.
  void Observe(const SnapshotPtr& snapshot);

  /// GET / (the page) or GET /?target=HOST:PORT (that target's detail, a
  /// fragment the page inserts; 404 for a target not configured).
  HttpResponse Handle(const Snapshot& snapshot, const std::optional<std::string>& target,
                      double now) const;

  /// The whole page at time `now` (Unix seconds).
  std::string RenderPage(const Snapshot& snapshot, double now) const;
  /// One target's detail: path drawing, hop table, timeline, ticket summary.
  std::string RenderDetail(const TargetSnapshot& target, double now) const;
  /// The plain-text summary for a ticket to the network that blocks the port.
  std::string TicketText(const TargetSnapshot& target) const;

 private:
  TargetHistory HistoryOf(const std::string& key) const;

  StatusPageOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, TargetHistory> history_;  // guarded by mutex_
  // The snapshot of the last Observe, kept alive so that the address of a
  // target it shows cannot be reused by another: a target the loop did not
  // touch since is the very same object in the next snapshot (snapshot.h),
  // and is skipped. Guarded by mutex_.
  SnapshotPtr observed_;
};

}  // namespace portpath::exporter
