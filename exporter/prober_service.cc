#include "exporter/prober_service.h"

#include <spdlog/spdlog.h>

#include "probe/asn/annotate.h"
#include "probe/diagnosis.h"
#include "probe/verdict.h"

namespace portpath::exporter {

namespace {
// Round ids of /probe requests have this bit set, so they never collide with
// the ids of scheduled targets (round ids stay below 2^58).
constexpr std::uint64_t kProbeRoundBit = std::uint64_t{1} << 57;

std::string Describe(const probe::TraceResult& r) {
  std::string s(probe::ToString(r.outcome));
  if (r.blocked_hop)
    s += " at hop " + std::to_string(r.blocked_hop->ttl) +
         (r.blocked_hop->address ? " " + r.blocked_hop->address->ToString() : "");
  return s;
}
}  // namespace

void CarryConfirmedVerdict(const std::optional<probe::TraceResult>& previous,
                           probe::TraceResult& result) {
  if (result.outcome == probe::Outcome::kError) return;
  if (result.blocked_hop_confirmed) {
    result.confirmed_at = result.finished_at;
    return;
  }
  // The previous round is evidence: a blocked hop confirmed then, with nothing
  // in this round that contradicts it (no answer from beyond it, no other
  // router at a TTL), stays the verdict, marked stale, rather than a hop lost
  // to this round's ICMP policing moving the blame.
  if (!previous || !previous->blocked_hop || !previous->blocked_hop_confirmed) return;
  bool blocked_before = previous->outcome == probe::Outcome::kFiltered ||
                        previous->outcome == probe::Outcome::kProhibited ||
                        previous->outcome == probe::Outcome::kUnreachable;
  if (!blocked_before) return;
  if (result.last_responding_hop && result.last_responding_hop->ttl > previous->blocked_hop->ttl)
    return;
  if (probe::PathChanged(*previous, result)) return;
  result.outcome = previous->outcome;
  result.blocked_hop = previous->blocked_hop;
  result.last_responding_hop = previous->last_responding_hop;
  result.icmp_type = previous->icmp_type;
  result.icmp_code = previous->icmp_code;
  result.marker = previous->marker;
  result.blocked_hop_confirmed = true;
  result.unconfirmed_hop_ttl.reset();
  result.stale = true;
  result.confirmed_at = previous->confirmed_at;
}

std::string TargetKey(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

ProberService::ProberService(ServiceOptions options, const config::Config& initial,
                             probe::PacketSender& sender, probe::PacketSource& source,
                             probe::TimeSource& clock, Resolver& resolver)
    : options_(options),
      clock_(clock),
      resolver_(resolver),
      engine_(options.engine, sender, source, clock),
      scheduler_(options.engine.seed + 7),
      started_(clock.Now()) {
  SetConfiguredKeys(initial);
  pending_config_ = initial;
  shared_status_.timestamp =
      std::chrono::duration<double>(started_.time_since_epoch()).count();
  pending_status_ = shared_status_;
  snapshot_ = std::make_shared<Snapshot>();
}

void ProberService::SetConfiguredKeys(const config::Config& config) {
  configured_keys_.clear();
  for (const config::Target& t : config.targets)
    for (std::uint16_t port : t.ports) configured_keys_.insert(TargetKey(t.host, port));
}

void ProberService::ApplyReload(std::optional<config::Config> config, bool ok, double timestamp) {
  std::lock_guard lock(mutex_);
  ++shared_status_.reloads;
  shared_status_.ok = ok;
  if (ok) shared_status_.timestamp = timestamp;
  else ++shared_status_.failures;
  pending_status_ = shared_status_;
  if (config) {
    SetConfiguredKeys(*config);
    pending_config_ = std::move(config);
  }
}

void ProberService::SetReverseDns(std::shared_ptr<io::ReverseDns> resolver) {
  std::lock_guard lock(mutex_);
  reverse_dns_ = std::move(resolver);
}

void ProberService::SetAsnDatabase(std::shared_ptr<const asn::AsnDatabase> database) {
  std::lock_guard lock(mutex_);
  asn_db_ = std::move(database);
}

bool ProberService::IsConfigured(const std::string& target) const {
  std::lock_guard lock(mutex_);
  return configured_keys_.count(target) > 0;
}

SnapshotPtr ProberService::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

probe::TraceSettings ProberService::TraceSettingsFor(const config::ProbeSettings& s) const {
  probe::TraceSettings t;
  t.first_hop = s.first_hop;
  t.max_hops = s.max_hops;
  t.probes_per_hop = s.probes_per_hop;
  t.gap_limit = s.gap_limit;
  t.timeout = s.timeout;
  return t;
}

bool ProberService::ApplyPending(probe::TimePoint now) {
  std::optional<config::Config> config;
  std::optional<ReloadStatus> status;
  {
    std::lock_guard lock(mutex_);
    config.swap(pending_config_);
    status.swap(pending_status_);
  }
  if (status) {
    status_ = *status;
    dirty_ = true;
  }
  if (!config) return status.has_value();
  std::map<std::string, TargetState> next;
  std::map<std::string, ScheduleSettings> schedule;
  for (const config::Target& t : config->targets) {
    for (std::uint16_t port : t.ports) {
      TargetState state;
      state.key = TargetKey(t.host, port);
      state.host = t.host;
      state.port = port;
      state.labels = t.labels;
      state.settings = t.settings;
      auto old = targets_.find(state.key);
      if (old != targets_.end()) {
        // Unchanged targets keep their last result (and their running trace).
        state.last = std::move(old->second.last);
        state.id = old->second.id;
        state.path_changes = old->second.path_changes;
        state.last_path_change = old->second.last_path_change;
      } else {
        state.id = next_id_++;
      }
      schedule[state.key] = ScheduleSettings{t.settings.interval, t.settings.jitter};
      next.emplace(state.key, std::move(state));
    }
  }
  std::size_t added = 0;
  for (const auto& [key, s] : next) added += targets_.count(key) == 0;
  std::size_t removed = 0;
  for (const auto& [key, s] : targets_) removed += next.count(key) == 0;
  targets_ = std::move(next);
  scheduler_.SetTargets(schedule, now);
  spdlog::info("configuration applied: {} target ports ({} added, {} removed), rate limit {} pps",
               targets_.size(), added, removed, config->rate);
  dirty_ = true;
  return true;
}

bool ProberService::StartRound(const TargetState& state, std::uint64_t round_id, int flows,
                               probe::TraceResult& error_out) {
  std::string error;
  // Names are resolved again at every round, so an address change is noticed.
  auto address = resolver_.Resolve(state.host, state.settings.family, error);
  if (!address) {
    error_out = probe::MakeErrorResult(state.key, state.host, state.port, error);
    return false;
  }
  if (state.last && state.last->address && *state.last->address != *address)
    spdlog::info("{}: address changed from {} to {}", state.key, state.last->address->ToString(),
                 address->ToString());
  auto source = resolver_.SourceFor(*address, error);
  if (!source) {
    error_out = probe::MakeErrorResult(state.key, state.host, state.port,
                                       "no route from this host to " + address->ToString() + ": " + error);
    error_out.address = address;
    return false;
  }
  probe::TraceJob job;
  job.target = state.key;
  job.host = state.host;
  job.destination = *address;
  job.source = *source;
  job.port = state.port;
  job.settings = TraceSettingsFor(state.settings);
  job.settings.ping = options_.ping;
  if (!rounds_.Start(engine_, job, round_id, flows)) {
    error_out = probe::MakeErrorResult(state.key, state.host, state.port,
                                       "too many traces at once for one engine");
    return false;
  }
  return true;
}

void ProberService::StartDue(probe::TimePoint now) {
  for (const std::string& key : scheduler_.TakeDue(now)) {
    auto it = targets_.find(key);
    if (it == targets_.end()) continue;
    probe::TraceResult error;
    if (StartRound(it->second, it->second.id, it->second.settings.flows, error)) {
      running_[it->second.id] = key;
    } else {
      error.finished_at = std::chrono::duration<double>(now.time_since_epoch()).count();
      Record(it->second, std::move(error));
      scheduler_.MarkFinished(key);
    }
  }
}

void ProberService::StartProbeRequests() {
  std::deque<std::shared_ptr<ProbeRequest>> requests;
  {
    std::lock_guard lock(mutex_);
    requests.swap(probe_requests_);
  }
  for (auto& request : requests) {
    auto it = targets_.find(request->target);
    if (it == targets_.end()) {
      request->promise.set_value(ProbeNowError::kNotConfigured);
      continue;
    }
    std::uint64_t round_id = kProbeRoundBit | next_id_++;
    probe::TraceResult error;
    if (StartRound(it->second, round_id, 1, error)) {
      running_probes_[round_id] = request;
    } else {
      TargetSnapshot snap{it->second.key, it->second.host, it->second.port, it->second.labels,
                          std::move(error), 0};
      request->promise.set_value(std::move(snap));
    }
  }
}

void ProberService::Annotate(probe::TraceResult& result) {
  std::shared_ptr<const asn::AsnDatabase> db;
  std::shared_ptr<io::ReverseDns> rdns;
  {
    std::lock_guard lock(mutex_);
    db = asn_db_;
    rdns = reverse_dns_;
  }
  if (rdns) {
    std::vector<packet::IpAddress> missing;
    for (probe::Hop& hop : result.hops) {
      if (!hop.address) continue;
      if (auto name = rdns->Cached(*hop.address)) hop.name = *name;
      else missing.push_back(*hop.address);
    }
    if (!missing.empty()) rdns->Prefetch(missing);
  }
  if (db) asn::AnnotateRound(result, *db);
}

void ProberService::Record(TargetState& state, probe::TraceResult result) {
  ++traces_by_outcome_[static_cast<std::size_t>(result.outcome)];
  CarryConfirmedVerdict(state.last, result);
  // One log line per change of outcome or blocked hop, not one per trace.
  std::string now_desc = Describe(result);
  if (!state.last || Describe(*state.last) != now_desc) {
    if (result.outcome == probe::Outcome::kError)
      spdlog::warn("{}: {}", state.key, result.error);
    else
      spdlog::info("{}: {} ({})", state.key, now_desc, probe::Verdict(result));
  }
  if (state.last && probe::PathChanged(*state.last, result)) {
    ++state.path_changes;
    state.last_path_change = result.finished_at;
    spdlog::info("{}: path changed ({} -> {})", state.key, probe::PathId(*state.last),
                 probe::PathId(result));
  }
  state.last = std::move(result);
  dirty_ = true;
}

void ProberService::CollectFinished() {
  for (probe::FinishedTrace& f : engine_.TakeFinished()) {
    auto done = rounds_.Add(std::move(f));
    if (!done) continue;
    if (done->round_id & kProbeRoundBit) {
      auto it = running_probes_.find(done->round_id);
      if (it == running_probes_.end()) continue;
      auto target = targets_.find(it->second->target);
      Annotate(done->result);
      TargetSnapshot snap;
      snap.target = done->result.target;
      snap.host = done->result.host;
      snap.port = done->result.port;
      if (target != targets_.end()) snap.labels = target->second.labels;
      snap.last = std::move(done->result);
      it->second->promise.set_value(std::move(snap));
      running_probes_.erase(it);
      continue;
    }
    auto it = running_.find(done->round_id);
    if (it == running_.end()) continue;
    std::string key = it->second;
    running_.erase(it);
    scheduler_.MarkFinished(key);
    auto target = targets_.find(key);
    // A target removed (or re-created) while its round ran: drop the result.
    if (target == targets_.end() || target->second.id != done->round_id) continue;
    Annotate(done->result);
    Record(target->second, std::move(done->result));
  }
}

void ProberService::Publish(probe::TimePoint now, bool force) {
  if (!force && (!dirty_ || now - last_publish_ < options_.publish_interval)) return;
  auto snap = std::make_shared<Snapshot>();
  bool all_done = true;
  for (const auto& [key, state] : targets_) {
    TargetSnapshot t;
    t.target = key;
    t.host = state.host;
    t.port = state.port;
    t.labels = state.labels;
    t.last = state.last;
    t.skipped_rounds = scheduler_.skipped(key);
    t.path_changes = state.path_changes;
    t.last_path_change = state.last_path_change;
    all_done &= state.last.has_value();
    snap->targets.push_back(std::move(t));
  }
  snap->engine = engine_.stats();
  snap->traces_by_outcome = traces_by_outcome_;
  snap->last_reload_successful = status_.ok;
  snap->last_reload_success_timestamp = status_.timestamp;
  snap->reloads_total = status_.reloads;
  snap->reload_failures_total = status_.failures;
  {
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(snap);
  }
  if (!ready_ && (all_done || now - started_ >= options_.ready_after)) {
    ready_ = true;
    spdlog::info("ready: first round {}", all_done ? "completed" : "still running, ready_after passed");
  }
  last_publish_ = now;
  dirty_ = false;
}

std::variant<TargetSnapshot, ProbeNowError> ProberService::ProbeNow(const std::string& target,
                                                                     probe::Duration timeout) {
  auto request = std::make_shared<ProbeRequest>();
  request->target = target;
  auto future = request->promise.get_future();
  {
    std::lock_guard lock(mutex_);
    if (!configured_keys_.count(target)) return ProbeNowError::kNotConfigured;
    probe_requests_.push_back(request);
  }
  if (future.wait_for(timeout) != std::future_status::ready) return ProbeNowError::kTimedOut;
  return future.get();
}

void ProberService::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    probe::TimePoint now = clock_.Now();
    if (ApplyPending(now)) Publish(now, true);
    StartDue(now);
    StartProbeRequests();
    // Wake at least every 100 ms for reloads and /probe requests.
    probe::Duration wait = std::chrono::milliseconds(100);
    if (auto due = scheduler_.NextDue()) wait = std::clamp(*due - now, probe::Duration::zero(), wait);
    engine_.RunOnce(wait);
    CollectFinished();
    Publish(clock_.Now(), false);
  }
  std::lock_guard lock(mutex_);
  for (auto& r : probe_requests_) r->promise.set_value(ProbeNowError::kStopped);
  probe_requests_.clear();
  for (auto& [tag, r] : running_probes_) r->promise.set_value(ProbeNowError::kStopped);
  running_probes_.clear();
}

}  // namespace portpath::exporter
