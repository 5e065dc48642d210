#pragma once
/// The always-on probe loop behind `portpath serve`: traces every configured
/// target port on its schedule in one engine, keeps each one's latest result, and
/// publishes immutable snapshots for the HTTP threads.
///
/// Thread-safety: Run() is the loop and owns the engine; call it from one thread.
/// snapshot(), ready(), ApplyReload(), IsConfigured() and ProbeNow() are safe
/// from any thread (they hand work to the loop or read a published snapshot).
/// Host names are resolved on the forward DNS worker threads, never on the loop.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include "config/config.h"
#include "exporter/scheduler.h"
#include "exporter/snapshot.h"
#include "probe/asn/asn_database.h"
#include "probe/engine.h"
#include "probe/io/forward_dns.h"
#include "probe/io/reverse_dns.h"
#include "probe/measurement.h"
#include "probe/seams.h"

namespace portpath::exporter {

/// Serve mode remembers: when `result` could not confirm a blocked hop (ICMP
/// policing) and `previous` had a confirmed one that nothing in this round
/// contradicts, the previous verdict stays, marked stale with its confirmation
/// time; a confirmed result gets confirmed_at = its finish time. Pure.
void CarryConfirmedVerdict(const std::optional<probe::TraceResult>& previous,
                           probe::TraceResult& result);
/// The same with the previous result by pointer (null = none).
void CarryConfirmedVerdict(const probe::TraceResult* previous, probe::TraceResult& result);

/// A refresh round that confirmed its verdict (the destination's or the
/// rejecting router's known answer, probe::TraceSettings::Round::kRefreshEnd)
/// asked only the destination: its hop list becomes the last full round's
/// with this round's answer in the row of its TTL, and the divergence hop the
/// last full round's while the ping answers as before. Anything else is left
/// as it is. Pure.
void KeepFullRoundHops(const probe::TraceResult* previous, probe::TraceResult& result);

/// Gives back what a stored result does not use: spare vector capacity of its
/// hops, probes and paths. Serve keeps one result per target port for as long
/// as it runs. Pure.
void CompactResult(probe::TraceResult& result);

/// "host:port", with brackets around IPv6 literals: the `target` label value.
std::string TargetKey(const std::string& host, std::uint16_t port);

/// Resolves a configured host to the address to trace; the kernel's source
/// address toward it. Injected so tests need no DNS and no routes.
///
/// Thread-safety: Resolve may block (it is DNS), so the service calls it only
/// from its forward DNS worker threads, several at once, and a call stuck in
/// DNS at shutdown may still be returning, detached, after the service is gone
/// (see io::ForwardDns): it must be thread-safe and must not rely on anything
/// the service owns. SourceFor is called from the probe loop only and must not
/// block (a route lookup, not DNS).
struct Resolver {
  virtual ~Resolver() = default;
  /// nullopt with `error` set on failure. Never called for IP literals, which
  /// are traced as written.
  virtual std::optional<packet::IpAddress> Resolve(const std::string& host, config::Family family,
                                                   std::string& error) = 0;
  virtual std::optional<packet::IpAddress> SourceFor(const packet::IpAddress& destination,
                                                     std::string& error) = 0;
};

struct ServiceOptions {
  probe::EngineOptions engine;
  /// /-/ready turns true after the first full round, or after this long anyway.
  probe::Duration ready_after = std::chrono::seconds(120);
  /// Snapshots are rebuilt at most this often, or every publish_per_target
  /// times the target ports if longer (5 s at 10,000): a rebuild touches every
  /// target's shared result (a cache miss each), which at 10,000 target ports
  /// once a second was 6% of the exporter's CPU (bench/serve/RESULTS.md).
  probe::Duration publish_interval = std::chrono::seconds(1);
  probe::Duration publish_per_target = std::chrono::microseconds(500);
  /// Trace ICMP echo (ping) alongside each TCP trace, for icmp_reachable, the
  /// divergence hop and middlebox detection.
  bool ping = true;
  /// Refresh rounds (only what a confirmed verdict rests on) between two full
  /// rounds: while the routers' ICMP budgets suffice, each target's
  /// `full_round_every` setting (config.h) decides. The verdict is confirmed
  /// every round, the hop list (and per-hop RTT) every few, and a path change
  /// that moves the destination or the blocking hop turns the refresh full at
  /// once. Once budgets fall short (some target's round could not confirm its
  /// verdict: portpath_icmp_budget_exceeded_targets above 0), and for
  /// budget_short_hold after the last time, every confirmed verdict gets at
  /// least refreshes_per_full_short: the answers routers give go to the
  /// verdicts rather than to hop lists.
  int refreshes_per_full_short = 15;
  probe::Duration budget_short_hold = std::chrono::minutes(10);
  /// Traces in the engine at once at most (its slots; tests use a small
  /// number). A round that finds no room for all its flows waits, in order,
  /// until rounds before it finish: it is late, never an error.
  std::size_t max_traces = probe::kEngineTraceSlots;
  /// Forward DNS for host names. Its timeout is how long a round waits for a
  /// name that has no usable answer yet before it is an error ("resolving HOST
  /// timed out").
  io::ForwardDnsOptions dns;
  /// A name's answer younger than this is used without a new lookup; an older
  /// one is still used, and refreshed for the next round. Short, so that every
  /// round of a target (rounds are about an interval apart, and intervals are
  /// at least 1 s) asks again, as the synchronous resolver did, and an address
  /// change reaches the round after the one that noticed it; the ports of one
  /// host and a /probe started within this share one lookup.
  probe::Duration dns_fresh_for = std::chrono::seconds(1);
};

/// Serve mode remembers: which round a scheduled trace gets after `last`.
/// While the verdict of `last` stands confirmed and fewer than
/// `refreshes_allowed` refresh rounds came since the last full one, `settings`
/// becomes the refresh round that verdict allows (trace.h: kRefreshBlocked for
/// a drop after a known hop, kRefreshEnd for the destination's answer or a
/// router's unreachable); otherwise it stays full. Several flows and middlebox
/// verdicts always get full rounds, and so do reached ports in connect mode
/// (`raw_mode` false: no reply TTL to place the destination). Pure.
void ChooseRefreshRound(const probe::TraceResult* last, int refreshes_in_a_row,
                        int refreshes_allowed, int flows, bool raw_mode,
                        probe::TraceSettings& settings);

/// Why ProbeNow could not give a result.
enum class ProbeNowError { kNotConfigured, kTimedOut, kStopped };

class ProberService {
 public:
  /// `transport` (raw or connect; io::OpenProbeTransport) and `clock` must
  /// outlive the service. Logs which probe mode it runs in.
  ProberService(ServiceOptions options, const config::Config& initial,
                probe::ProbeTransport& transport, probe::TimeSource& clock, Resolver& resolver);

  /// The loop; returns when stop is requested.
  void Run(const std::atomic<bool>& stop);

  SnapshotPtr snapshot() const;
  bool ready() const { return ready_.load(); }

  /// A reload's outcome: the new configuration (nullopt when the file was bad
  /// and the last good one stays) and its status. Both take effect together at
  /// the loop's next turn, and the next snapshot is published at once, so a
  /// scrape never shows "reload succeeded" with the old targets. Unchanged
  /// targets keep their results; removed ones vanish.
  void ApplyReload(std::optional<config::Config> config, bool ok, double timestamp);
  /// The database that names hop owners; nullptr for none. Used from the next
  /// completed trace on.
  void SetAsnDatabase(std::shared_ptr<const asn::AsnDatabase> database);
  /// Hop names by reverse DNS; nullptr for none. The loop never waits for a
  /// lookup: names come from the cache, and missing ones are queued, so they
  /// appear from a later round on.
  void SetReverseDns(std::shared_ptr<io::ReverseDns> resolver);

  /// Traces one configured target now (the /probe endpoint) and waits for it.
  std::variant<TargetSnapshot, ProbeNowError> ProbeNow(const std::string& target,
                                                       probe::Duration timeout);
  /// True when `target` ("host:port") is in the current configuration.
  bool IsConfigured(const std::string& target) const;

 private:
  struct TargetState {
    std::string key;
    std::string host;
    std::uint16_t port = 0;
    std::map<std::string, std::string> labels;
    config::ProbeSettings settings;
    /// Shared with the snapshots that show it: published by pointer.
    SharedResult last;
    /// The labels as /metrics writes them, made when the config is applied.
    std::shared_ptr<const std::string> label_text;
    /// What the snapshots show of this target, shared by all of them; made
    /// again at the next publish when `changed`.
    std::shared_ptr<const TargetSnapshot> published;
    bool changed = true;
    std::uint64_t id = 0;  // engine tag; changes when the target is re-created
    std::uint64_t path_changes = 0;
    double last_path_change = 0;
    int refreshes_in_a_row = 0;  // refresh rounds since the last full one (kFullNext: full next)
    /// A reload changed what its traces ask while a round ran: the round after
    /// that one is full.
    bool round_under_old_settings = false;
    // BudgetExceeded(last), worked out when the round is recorded rather than
    // for every target at every publish (perf at 10,000 target ports).
    bool budget_exceeded = false;
  };
  struct ProbeRequest {
    std::string target;
    std::promise<std::variant<TargetSnapshot, ProbeNowError>> promise;
    /// Its caller stopped waiting (timed out): a round not yet started never is.
    std::atomic<bool> abandoned{false};
  };

  /// A round about to start: a scheduled one (request null, round_id the
  /// target's id; as many flows as configured) or a /probe one (one flow).
  struct PendingRound {
    std::string key;
    std::uint64_t round_id = 0;
    std::shared_ptr<ProbeRequest> request;
    /// When it was first deferred (on the DNS cache's clock, the steady one).
    std::optional<std::chrono::steady_clock::time_point> deferred_at;
  };
  enum class RoundStart { kStarted, kDeferred, kFailed };

  /// Returns true when something was applied.
  bool ApplyPending(probe::TimePoint now);
  void SetConfiguredKeys(const config::Config& config);
  void StartDue(probe::TimePoint now);
  void StartProbeRequests(probe::TimePoint now);
  /// Makes a scheduled round a refresh round where a confirmed verdict allows.
  void ChooseRound(const TargetState& state, probe::TraceSettings& settings) const;
  /// refreshes_in_a_row after a refresh that found news: the next round is full.
  static constexpr int kFullNext = 1 << 20;
  /// Whether the routers' ICMP budgets fell short within budget_short_hold
  /// (as of the last publish): see ServiceOptions::refreshes_per_full_short.
  bool budget_short_ = false;
  probe::TimePoint budget_short_until_{};
  /// Retries the rounds deferred for want of a name's first answer.
  void StartDeferred(probe::TimePoint now);
  /// Starts `round`, records its failure, or defers it (into deferred_).
  void TryStart(PendingRound round, probe::TimePoint now);
  /// Looks the target's address up in the DNS cache (never waiting for DNS),
  /// taking an answer younger than dns_max_age as fresh, and starts a
  /// measurement round: kFailed with error_out set when it cannot run,
  /// kDeferred when the name has no answer yet and has not timed out.
  RoundStart StartRound(const TargetState& state, std::uint64_t round_id, int flows,
                        probe::Duration dns_max_age, probe::TraceResult& error_out);
  void CollectFinished();
  /// After a reload: ends the rounds (scheduled and /probe) of targets it
  /// removed, in the engine too, so they stop sending and free their memory.
  void CancelRemoved();
  void Record(TargetState& state, probe::TraceResult result);
  void Annotate(probe::TraceResult& result);
  void Publish(probe::TimePoint now, bool force);
  probe::TraceSettings TraceSettingsFor(const config::ProbeSettings& s) const;
  /// The source address toward `destination`: Resolver::SourceFor, remembered
  /// for kSourceFreshFor (a route lookup per round costs the loop more than
  /// the rest of starting it).
  std::optional<packet::IpAddress> SourceFor(const packet::IpAddress& destination,
                                             probe::TimePoint now, std::string& error);

  ServiceOptions options_;
  probe::TimeSource& clock_;
  Resolver& resolver_;
  probe::Engine engine_;
  Scheduler scheduler_;
  probe::TimePoint started_;

  // Loop-owned state.
  std::map<std::string, TargetState> targets_;
  std::map<std::uint64_t, std::string> running_;  // round id -> target key
  probe::MeasurementRounds rounds_;
  std::map<std::uint64_t, std::shared_ptr<ProbeRequest>> running_probes_;
  // Rounds waiting for a name's first answer or for room in the engine, retried at every turn. A
  // deferred scheduled round stays running for the scheduler, so a slot that passes meanwhile
  // counts as skipped, as it would behind a long trace.
  std::vector<PendingRound> deferred_;
  // Set when a round found no room in the engine this turn: every later round
  // of the turn queues behind it (StartRound).
  bool waiting_for_room_ = false;
  // engine_.active() when that happened: until a trace ends there is no room,
  // and the waiting rounds are not retried at all (StartDeferred).
  std::size_t active_when_full_ = 0;
  struct CachedSource {
    packet::IpAddress source;
    probe::TimePoint until;
  };
  std::map<packet::IpAddress, CachedSource> sources_;  // bounded: see SourceFor
  std::uint64_t next_id_ = 1;
  std::array<std::uint64_t, probe::kOutcomeCount> traces_by_outcome_{};
  probe::TimePoint last_publish_{};
  bool dirty_ = true;
  /// After a reload that removed targets: when to hand freed memory back to
  /// the system (glibc keeps it in its arenas otherwise; see Run).
  std::optional<probe::TimePoint> trim_at_;
  // Free memory is handed back to the kernel at least this often (Run).
  static constexpr probe::Duration kTrimEvery = std::chrono::minutes(1);
  probe::TimePoint last_trim_{};

  // Shared with other threads.
  mutable std::mutex mutex_;
  std::optional<config::Config> pending_config_;
  struct ReloadStatus {
    bool ok = true;
    double timestamp = 0;
    std::uint64_t reloads = 0;
    std::uint64_t failures = 0;
  };
  std::optional<ReloadStatus> pending_status_;
  ReloadStatus status_;  // loop-owned copy, published in snapshots
  std::deque<std::shared_ptr<ProbeRequest>> probe_requests_;
  std::set<std::string> configured_keys_;
  std::shared_ptr<const asn::AsnDatabase> asn_db_;
  std::shared_ptr<io::ReverseDns> reverse_dns_;
  SnapshotPtr snapshot_;
  ReloadStatus shared_status_;  // counts kept under mutex_
  std::atomic<bool> ready_{false};

  // Thread-safe. Its workers call the Resolver, never the service, so a lookup
  // stuck past the service's end touches nothing of it.
  io::ForwardDns dns_;
};

}  // namespace portpath::exporter
