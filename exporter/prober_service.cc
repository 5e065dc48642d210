#include "exporter/prober_service.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "exporter/collector.h"
#include "probe/asn/annotate.h"
#include "probe/diagnosis.h"
#include "probe/verdict.h"

namespace portpath::exporter {

namespace {
/// Whether traces under `a` and `b` ask the same things (the schedule, the
/// exposition and full_round_every aside).
bool TracedAlike(const config::ProbeSettings& a, const config::ProbeSettings& b) {
  return a.timeout == b.timeout && a.max_hops == b.max_hops && a.first_hop == b.first_hop &&
         a.probes_per_hop == b.probes_per_hop && a.gap_limit == b.gap_limit && a.flows == b.flows &&
         a.family == b.family;
}

Detail DetailOf(config::HopMetrics hop_metrics) {
  switch (hop_metrics) {
    case config::HopMetrics::kNone:
      return Detail::kDefault;
    case config::HopMetrics::kBlocked:
      return Detail::kBlocked;
    case config::HopMetrics::kAll:
      return Detail::kFull;
  }
  return Detail::kDefault;
}

// Round ids of /probe requests have this bit set, so they never collide with
// the ids of scheduled targets (round ids stay below 2^58).
constexpr std::uint64_t kProbeRoundBit = std::uint64_t{1} << 57;

io::FamilyFilter ToFilter(config::Family family) {
  switch (family) {
    case config::Family::kIpv4:
      return io::FamilyFilter::kIpv4;
    case config::Family::kIpv6:
      return io::FamilyFilter::kIpv6;
    case config::Family::kAny:
      break;
  }
  return io::FamilyFilter::kAny;
}

config::Family ToFamily(io::FamilyFilter filter) {
  switch (filter) {
    case io::FamilyFilter::kIpv4:
      return config::Family::kIpv4;
    case io::FamilyFilter::kIpv6:
      return config::Family::kIpv6;
    case io::FamilyFilter::kAny:
      break;
  }
  return config::Family::kAny;
}

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
  CarryConfirmedVerdict(previous ? &*previous : nullptr, result);
}

void KeepFullRoundHops(const probe::TraceResult* previous, probe::TraceResult& result) {
  if (!previous || !result.refreshed || !result.blocked_hop_confirmed) return;
  if (result.outcome == probe::Outcome::kError || result.outcome != previous->outcome) return;
  if (!result.last_responding_hop) return;
  // This round's answer (the only row answered) goes where the last full
  // round's answer of the same kind stands: the destination's row, or the row
  // of the first TTL that drew the router's unreachable.
  auto terminal = [](const probe::Hop& h) {
    return h.address && h.reply != probe::HopReply::kTimeExceeded &&
           h.reply != probe::HopReply::kNone;
  };
  std::optional<probe::Hop> fresh;
  for (const probe::Hop& h : result.hops)
    if (terminal(h)) fresh = h;
  std::vector<probe::Hop> hops = previous->hops;
  auto old_end = std::find_if(hops.rbegin(), hops.rend(), terminal);
  if (fresh && old_end != hops.rend()) {
    fresh->ttl = old_end->ttl;
    *old_end = *fresh;
  }
  result.hops = std::move(hops);
  if (result.icmp_reachable == previous->icmp_reachable)
    result.divergence_hop = previous->divergence_hop;
}

void CompactResult(probe::TraceResult& result) {
  auto compact_hops = [](std::vector<probe::Hop>& hops) {
    hops.shrink_to_fit();
    for (probe::Hop& hop : hops) {
      hop.probes.shrink_to_fit();
      hop.mpls.shrink_to_fit();
    }
  };
  compact_hops(result.hops);
  result.paths.shrink_to_fit();
  for (probe::PathSummary& p : result.paths) {
    p.source_ports.shrink_to_fit();
    compact_hops(p.hops);
  }
}

void CarryConfirmedVerdict(const probe::TraceResult* previous, probe::TraceResult& result) {
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
  if (result.refreshed) result.hops = previous->hops;
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
                             probe::ProbeTransport& transport, probe::TimeSource& clock,
                             Resolver& resolver)
    : options_(options),
      clock_(clock),
      resolver_(resolver),
      engine_(options.engine, transport, clock),
      scheduler_(options.engine.seed + 7),
      started_(clock.Now()),
      rounds_(options.max_traces),
      // Captures the resolver, not the service: see Resolver.
      dns_(options.dns,
           [&resolver](const std::string& host, io::FamilyFilter family, std::string& error) {
             return resolver.Resolve(host, ToFamily(family), error);
           }) {
  if (transport.mode() == probe::ProbeMode::kRaw)
    spdlog::info("probe mode: raw (TCP SYN and ICMP echo probes on raw sockets, replies captured)");
  else
    spdlog::warn(
        "probe mode: connect (unprivileged: one TCP connect() per probe with its own TTL, "
        "ICMP errors from the kernel's error queue; ICMP echo {}; one flow per target)",
        transport.SupportsEcho(false) || transport.SupportsEcho(true)
            ? "through ping sockets"
            : "not available, so some blocked hops stay unconfirmed");
  SetConfiguredKeys(initial);
  pending_config_ = initial;
  shared_status_.timestamp = std::chrono::duration<double>(started_.time_since_epoch()).count();
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
  if (ok)
    shared_status_.timestamp = timestamp;
  else
    ++shared_status_.failures;
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
      state.label_text = std::make_shared<const std::string>(
          RenderLabelText(state.key, state.host, state.port, state.labels));
      auto old = targets_.find(state.key);
      if (old != targets_.end()) {
        // Unchanged targets keep their last result (and their running trace).
        state.last = std::move(old->second.last);
        state.id = old->second.id;
        state.path_changes = old->second.path_changes;
        state.last_path_change = old->second.last_path_change;
        // Settings that change what a trace asks (hops, probes, timeout,
        // flows, family) make its next round full: a refresh would re-ask
        // what a verdict found under the old ones.
        if (TracedAlike(old->second.settings, t.settings)) {
          state.refreshes_in_a_row = old->second.refreshes_in_a_row;
          state.round_under_old_settings = old->second.round_under_old_settings;
        } else {
          state.refreshes_in_a_row = kFullNext;
          // A round still running was started under the old settings: the
          // round after it is the full one.
          state.round_under_old_settings = running_.count(old->second.id) > 0;
        }
        state.budget_exceeded = old->second.budget_exceeded;
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
  sources_.clear();
  if (removed > 0) CancelRemoved();
  // The rate applies at once; interface and source cannot change (the reload
  // is refused before it gets here).
  const bool rate_changed = engine_.rate() != config->rate;
  if (rate_changed) engine_.SetRate(config->rate);
  // The removed targets' results are gone now, and the last snapshot that held
  // them goes with the next scrape: give the memory back a moment later.
  if (removed > 0) trim_at_ = now + std::chrono::seconds(2);
  spdlog::info("configuration applied: {} target ports ({} added, {} removed), rate limit {} pps{}",
               targets_.size(), added, removed, config->rate, rate_changed ? " (changed)" : "");
  dirty_ = true;
  return true;
}

ProberService::RoundStart ProberService::StartRound(const TargetState& state,
                                                    std::uint64_t round_id, int flows,
                                                    probe::Duration dns_max_age,
                                                    probe::TraceResult& error_out) {
  // Behind a round that found the engine full, every round waits its turn
  // (below), and costs nothing more until then.
  if (waiting_for_room_) return RoundStart::kDeferred;
  // An IP literal is traced as written: no DNS, no cache, no thread hop.
  std::optional<packet::IpAddress> address = packet::IpAddress::Parse(state.host);
  if (!address) {
    // A name comes from the cache, so one slow name never stalls the loop (and
    // every other target with it). Each round refreshes a name whose answer is
    // not fresh, so an address change is noticed, one round later than by a
    // lookup in the round itself; meanwhile the last known address is traced.
    io::ForwardDnsAnswer answer =
        dns_.Lookup(state.host, ToFilter(state.settings.family), dns_max_age);
    switch (answer.state) {
      case io::ForwardDnsAnswer::State::kAddress:
        address = answer.address;
        break;
      case io::ForwardDnsAnswer::State::kPending:
        return RoundStart::kDeferred;
      case io::ForwardDnsAnswer::State::kFailed:
      case io::ForwardDnsAnswer::State::kTimedOut:
        error_out = probe::MakeErrorResult(state.key, state.host, state.port, answer.error);
        return RoundStart::kFailed;
    }
  }
  std::string error;
  auto source = SourceFor(*address, clock_.Now(), error);
  if (!source) {
    error_out =
        probe::MakeErrorResult(state.key, state.host, state.port,
                               "no route from this host to " + address->ToString() + ": " + error);
    error_out.address = address;
    return RoundStart::kFailed;
  }
  probe::TraceJob job;
  job.target = state.key;
  job.host = state.host;
  job.destination = *address;
  job.source = *source;
  job.port = state.port;
  job.settings = TraceSettingsFor(state.settings);
  job.settings.ping = options_.ping;
  // Scheduled rounds spend the routers' budgets on verdicts first; /probe
  // rounds return the whole hop list.
  job.settings.hop_list_optional = !(round_id & kProbeRoundBit);
  if (!(round_id & kProbeRoundBit)) ChooseRound(state, job.settings);
  // The engine's slots are taken (e.g. 10,000 target ports with 16 flows
  // each, all due at once): the round waits for the rounds before it, in
  // order, so that a round of many flows is not starved by rounds of one that
  // take each slot as it frees. Only a round that would not fit an idle engine
  // is an error.
  if (!rounds_.Start(engine_, job, round_id, flows)) {
    if (engine_.active() > 0) {
      waiting_for_room_ = true;
      active_when_full_ = engine_.active();
      return RoundStart::kDeferred;
    }
    error_out = probe::MakeErrorResult(
        state.key, state.host, state.port,
        "a round of " + std::to_string(flows) + " flows does not fit the engine's trace slots");
    return RoundStart::kFailed;
  }
  // Once, when the round starts (a round waiting for room may come back here).
  if (state.last && state.last->address && *state.last->address != *address)
    spdlog::info("{}: address changed from {} to {}", state.key, state.last->address->ToString(),
                 address->ToString());
  return RoundStart::kStarted;
}

std::optional<packet::IpAddress> ProberService::SourceFor(const packet::IpAddress& destination,
                                                          probe::TimePoint now,
                                                          std::string& error) {
  // Long enough to spare most lookups (every port of a host, every round of a
  // short interval), short enough that a route change reaches the next rounds.
  constexpr auto kSourceFreshFor = std::chrono::seconds(30);
  constexpr std::size_t kMaxSources = 16384;
  auto it = sources_.find(destination);
  if (it != sources_.end() && now < it->second.until) return it->second.source;
  auto source = resolver_.SourceFor(destination, error);
  if (!source) {
    if (it != sources_.end()) sources_.erase(it);
    return source;
  }
  if (sources_.size() >= kMaxSources) sources_.clear();
  sources_[destination] = CachedSource{*source, now + kSourceFreshFor};
  return source;
}

void ChooseRefreshRound(const probe::TraceResult* last, int refreshes_in_a_row,
                        int refreshes_allowed, int flows, bool raw_mode,
                        probe::TraceSettings& settings) {
  if (!last || refreshes_in_a_row >= refreshes_allowed) return;
  // Several flows: each flow's path is part of the verdict; always full.
  if (flows > 1) return;
  if (!last->blocked_hop_confirmed) return;
  using probe::Outcome;
  using Round = probe::TraceSettings::Round;
  switch (last->outcome) {
    case Outcome::kFiltered:
      if (!last->blocked_hop) return;
      settings.round = Round::kRefreshBlocked;
      settings.known_last_hop = last->blocked_hop->ttl;
      return;
    case Outcome::kOpen:
    case Outcome::kClosed:
      // The destination's distance comes from its reply TTL, which connect
      // mode cannot see.
      if (!raw_mode || !last->destination_reached || !last->last_responding_hop ||
          !last->last_responding_hop->address)
        return;
      settings.round = Round::kRefreshEnd;
      settings.known_last_hop = last->last_responding_hop->ttl;
      settings.known_reply =
          last->outcome == Outcome::kOpen ? packet::ReplyType::kSynAck : packet::ReplyType::kRst;
      settings.known_sender = last->last_responding_hop->address;
      return;
    case Outcome::kProhibited:
    case Outcome::kUnreachable:
      if (!last->blocked_hop || !last->blocked_hop->address || !last->icmp_code) return;
      settings.round = Round::kRefreshEnd;
      settings.known_last_hop = last->blocked_hop->ttl;
      settings.known_reply = packet::ReplyType::kUnreachable;
      settings.known_sender = last->blocked_hop->address;
      settings.known_icmp_code = *last->icmp_code;
      return;
    default:
      return;  // middlebox verdicts rest on the whole path and the ping: full
  }
}

void ProberService::ChooseRound(const TargetState& state, probe::TraceSettings& settings) const {
  // Serve mode remembers: while a verdict stands confirmed, most rounds only
  // re-ask what it rests on, and every few rounds one confirms the whole path
  // afresh. This is what keeps the routers' ICMP budgets for the verdicts at
  // scale: a full round asks every router on every path, a refresh asks no
  // router at all unless its verdict is a router's unreachable.
  if (!state.last) return;
  const int refreshes = budget_short_ ? std::max(options_.refreshes_per_full_short,
                                                 state.settings.full_round_every - 1)
                                      : state.settings.full_round_every - 1;
  const probe::TraceResult& last = *state.last;
  ChooseRefreshRound(&last, state.refreshes_in_a_row, refreshes, state.settings.flows,
                     engine_.probe_mode() == probe::ProbeMode::kRaw, settings);
}

void ProberService::TryStart(PendingRound round, probe::TimePoint now) {
  // A /probe whose caller gave up (its answer would reach nobody) does not
  // start late, spending probes and routers' budgets for nothing.
  if (round.request && round.request->abandoned) return;
  auto it = targets_.find(round.key);
  if (round.request) {
    if (it == targets_.end()) {
      round.request->promise.set_value(ProbeNowError::kNotConfigured);
      return;
    }
  } else if (it == targets_.end() || it->second.id != round.round_id) {
    // Removed by a reload while deferred (its schedule went with it); a target
    // re-created under the same key has its own schedule and rounds.
    return;
  }
  // A deferred round takes any answer that came after it was deferred: were it
  // held to dns_fresh_for, a loop turn slower than that would find each new
  // failure already stale, queue yet another lookup, and wait forever.
  probe::Duration max_age = options_.dns_fresh_for;
  auto steady_now = std::chrono::steady_clock::now();
  if (round.deferred_at)
    max_age = std::max(max_age, probe::Duration(steady_now - *round.deferred_at));
  probe::TraceResult error;
  // Settings as of now: a reload may have changed them while it was deferred.
  int flows = round.request ? 1 : it->second.settings.flows;
  // Connect mode has no fixed source port per trace, hence no flows to tell apart.
  if (engine_.probe_mode() != probe::ProbeMode::kRaw) flows = 1;
  switch (StartRound(it->second, round.round_id, flows, max_age, error)) {
    case RoundStart::kStarted:
      if (round.request)
        running_probes_[round.round_id] = std::move(round.request);
      else
        running_[round.round_id] = round.key;
      return;
    case RoundStart::kDeferred:
      // Not an error and not a skipped round: it starts once the name answers
      // (or fails once the name has been pending for the DNS timeout), or once
      // the engine has room for it.
      if (!round.deferred_at) round.deferred_at = steady_now;
      deferred_.push_back(std::move(round));
      return;
    case RoundStart::kFailed:
      break;
  }
  if (round.request) {
    TargetSnapshot snap;
    snap.target = it->second.key;
    snap.host = it->second.host;
    snap.port = it->second.port;
    snap.labels = it->second.labels;
    snap.last = std::move(error);
    round.request->promise.set_value(std::move(snap));
    return;
  }
  error.finished_at = std::chrono::duration<double>(now.time_since_epoch()).count();
  Record(it->second, std::move(error));
  scheduler_.MarkFinished(round.key);
}

void ProberService::StartDeferred(probe::TimePoint now) {
  // While no trace has ended since the engine was found full, no waiting
  // round can start: none is retried (thousands may wait, and the loop turns
  // once per probe).
  if (waiting_for_room_ && engine_.active() >= active_when_full_) return;
  std::vector<PendingRound> rounds;
  rounds.swap(deferred_);
  waiting_for_room_ = false;  // the oldest round waiting for room tries first
  for (PendingRound& round : rounds) TryStart(std::move(round), now);
}

void ProberService::StartDue(probe::TimePoint now) {
  std::vector<std::string> skipped;
  std::vector<std::string> due = scheduler_.TakeDue(now, &skipped);
  for (const std::string& key : skipped) {
    auto it = targets_.find(key);
    if (it == targets_.end()) continue;
    it->second.changed = true;  // its skip count
    dirty_ = true;
  }
  for (const std::string& key : due) {
    auto it = targets_.find(key);
    if (it == targets_.end()) continue;
    TryStart(PendingRound{key, it->second.id, nullptr, std::nullopt}, now);
  }
}

void ProberService::StartProbeRequests(probe::TimePoint now) {
  std::vector<std::shared_ptr<ProbeRequest>> requests;
  {
    // Every turn of the loop comes here: no allocation unless there is work.
    std::lock_guard lock(mutex_);
    if (probe_requests_.empty()) return;
    requests.assign(std::make_move_iterator(probe_requests_.begin()),
                    std::make_move_iterator(probe_requests_.end()));
    probe_requests_.clear();
  }
  for (auto& request : requests) {
    std::string key = request->target;
    TryStart(
        PendingRound{std::move(key), kProbeRoundBit | next_id_++, std::move(request), std::nullopt},
        now);
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
      if (auto name = rdns->Cached(*hop.address))
        hop.name = *name;
      else
        missing.push_back(*hop.address);
    }
    if (!missing.empty()) rdns->Prefetch(missing);
  }
  if (db) asn::AnnotateRound(result, *db);
}

void ProberService::Record(TargetState& state, probe::TraceResult result) {
  ++traces_by_outcome_[static_cast<std::size_t>(result.outcome)];
  // The previous round with its hops (stored packed): what this one is compared with.
  std::optional<probe::TraceResult> previous_full;
  if (state.last) previous_full = state.last.full();
  const probe::TraceResult* previous = previous_full ? &*previous_full : nullptr;
  KeepFullRoundHops(previous, result);
  CarryConfirmedVerdict(previous, result);
  // Refreshes in a row since the last full round (an error counts as full:
  // the next round starts from scratch). A refresh that confirmed the verdict
  // or left it standing (stale) counts one more; one that found something the
  // old verdict does not explain (not carried) is followed by a full round.
  if (!result.refreshed)
    state.refreshes_in_a_row = 0;
  else if (result.stale || result.blocked_hop_confirmed)
    ++state.refreshes_in_a_row;
  else
    state.refreshes_in_a_row = kFullNext;
  if (state.round_under_old_settings) {
    state.round_under_old_settings = false;
    state.refreshes_in_a_row = kFullNext;
  }
  // One log line per change of outcome or blocked hop, not one per trace.
  std::string now_desc = Describe(result);
  if (!previous || Describe(*previous) != now_desc) {
    if (result.outcome == probe::Outcome::kError)
      spdlog::warn("{}: {}", state.key, result.error);
    else
      spdlog::info("{}: {} ({})", state.key, now_desc, probe::Verdict(result));
  }
  if (previous && probe::PathChanged(*previous, result)) {
    ++state.path_changes;
    state.last_path_change = result.finished_at;
    spdlog::info("{}: path changed ({} -> {})", state.key, probe::PathIdOf(*previous),
                 probe::PathId(result));
  } else if (previous && result.outcome != probe::Outcome::kError) {
    // The same path with a hop policed this round keeps its identity, so the
    // `path` label of portpath_path_info does not churn with ICMP policing.
    result.path_id = probe::PathIdOf(*previous);
  }
  // Worked out once here, not at every scrape.
  if (result.path_id.empty()) result.path_id = probe::PathId(result);
  CompactResult(result);
  state.budget_exceeded = BudgetExceeded(result);
  // Kept packed: a target's result lives as long as the target (SharedResult).
  state.last = SharedResult::Packed(std::move(result));
  state.changed = true;
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
      CompactResult(done->result);
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

void ProberService::CancelRemoved() {
  for (auto it = running_.begin(); it != running_.end();) {
    auto target = targets_.find(it->second);
    if (target != targets_.end() && target->second.id == it->first) {
      ++it;
      continue;
    }
    rounds_.Drop(it->first);
    it = running_.erase(it);
  }
  for (auto it = running_probes_.begin(); it != running_probes_.end();) {
    if (targets_.count(it->second->target)) {
      ++it;
      continue;
    }
    it->second->promise.set_value(ProbeNowError::kNotConfigured);
    rounds_.Drop(it->first);
    it = running_probes_.erase(it);
  }
  // Every trace is of one round of a target (its key is the job's target):
  // a trace of a target no longer configured stops now rather than run to its
  // end, sending probes and holding router budgets and memory for nothing.
  std::size_t cancelled = engine_.Cancel(
      [this](const probe::TraceJob& job) { return targets_.count(job.target) == 0; });
  if (cancelled > 0) spdlog::info("reload: {} traces of removed targets cancelled", cancelled);
}

void ProberService::Publish(probe::TimePoint now, bool force) {
  const probe::Duration interval =
      std::max(options_.publish_interval,
               options_.publish_per_target * static_cast<std::int64_t>(targets_.size()));
  if (!force && (!dirty_ || now - last_publish_ < interval)) return;
  auto snap = std::make_shared<Snapshot>();
  snap->targets.reserve(targets_.size());
  bool all_done = true;
  std::size_t budget_short = 0;
  for (auto& [key, state] : targets_) {
    if (state.budget_exceeded) ++budget_short;
    // Only a target that changed since the last publish is made again; the
    // others are shared with the snapshots before (a pointer each).
    if (!state.published || state.changed) {
      auto t = std::make_shared<TargetSnapshot>();
      t->target = key;
      t->host = state.host;
      t->port = state.port;
      t->labels = state.labels;
      t->last = state.last;  // a pointer: the result itself is shared
      t->skipped_rounds = scheduler_.skipped(key);
      t->path_changes = state.path_changes;
      t->last_path_change = state.last_path_change;
      t->detail = DetailOf(state.settings.hop_metrics);
      t->label_text = state.label_text;
      state.published = std::move(t);
      state.changed = false;
    }
    all_done &= state.last.has_value();
    snap->targets.push_back_shared(state.published);
  }
  if (budget_short > 0) budget_short_until_ = now + options_.budget_short_hold;
  const bool was_short = budget_short_;
  budget_short_ = budget_short > 0 || now < budget_short_until_;
  if (budget_short_ && !was_short)
    spdlog::info(
        "routers' ICMP budgets fall short ({} target ports unconfirmed): confirmed verdicts get "
        "a full round every {} rounds (or as their full_round_every says, if less often), refresh "
        "rounds in between",
        budget_short, options_.refreshes_per_full_short + 1);
  else if (!budget_short_ && was_short)
    spdlog::info(
        "routers' ICMP budgets sufficed for {} s: full rounds as usual",
        std::chrono::duration_cast<std::chrono::seconds>(options_.budget_short_hold).count());
  snap->engine = engine_.stats();
  snap->rate_limit = engine_.rate();
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
    spdlog::info("ready: first round {}",
                 all_done ? "completed" : "still running, ready_after passed");
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
  if (future.wait_for(timeout) != std::future_status::ready) {
    request->abandoned = true;
    return ProbeNowError::kTimedOut;
  }
  return future.get();
}

void ProberService::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    probe::TimePoint now = clock_.Now();
    if (ApplyPending(now)) Publish(now, true);
    StartDeferred(now);
    StartDue(now);
    StartProbeRequests(now);
    // Wake at least every 100 ms for reloads and /probe requests.
    probe::Duration wait = std::chrono::milliseconds(100);
    if (auto due = scheduler_.NextDue())
      wait = std::clamp(*due - now, probe::Duration::zero(), wait);
    engine_.RunOnce(wait);
    CollectFinished();
    Publish(clock_.Now(), false);
    if (const probe::TimePoint at = clock_.Now();
        (trim_at_ && at >= *trim_at_) || at - last_trim_ >= kTrimEvery || at < last_trim_) {
      // glibc keeps freed memory resident in its arenas: a reload from 10,000
      // target ports down to 2 freed hundreds of MB that stayed without this,
      // and scrapes under steady load leave holes (about 3 MB after 5 minutes
      // of 110 scrapes a second, bench/serve/RESULTS.md). A trim costs a few
      // milliseconds of this loop.
      malloc_trim(0);
      trim_at_.reset();
      last_trim_ = at;
    }
  }
  std::lock_guard lock(mutex_);
  for (auto& r : probe_requests_) r->promise.set_value(ProbeNowError::kStopped);
  probe_requests_.clear();
  for (auto& [tag, r] : running_probes_) r->promise.set_value(ProbeNowError::kStopped);
  running_probes_.clear();
  for (PendingRound& round : deferred_)
    if (round.request) round.request->promise.set_value(ProbeNowError::kStopped);
  deferred_.clear();
}

}  // namespace portpath::exporter
