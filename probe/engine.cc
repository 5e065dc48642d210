#include "probe/engine.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "probe/diagnosis.h"
#include "probe/packet_transport.h"

namespace portpath::probe {

using packet::DropReason;

namespace {
constexpr std::uint32_t kSlots = 65536;
}

TraceResult MakeErrorResult(const std::string& target, const std::string& host, std::uint16_t port,
                            const std::string& message) {
  TraceResult r;
  r.target = target;
  r.host = host;
  r.port = port;
  r.outcome = Outcome::kError;
  r.error = message;
  return r;
}

Engine::Engine(EngineOptions options, ProbeTransport& transport, TimeSource& clock)
    : Engine(options, &transport, clock) {}

Engine::Engine(EngineOptions options, PacketSender& sender, PacketSource& source, TimeSource& clock)
    : Engine(options, nullptr, clock) {
  owned_transport_ = std::make_unique<PacketTransport>(sender, source, key_);
  transport_ = owned_transport_.get();
  stats_.probe_mode = transport_->mode();
}

Engine::Engine(EngineOptions options, ProbeTransport* transport, TimeSource& clock)
    : options_(options),
      clock_(clock),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()),
      // Drawn first either way, so a seed gives the same traces over any transport.
      key_(static_cast<std::uint32_t>(rng_())),
      transport_(transport),
      slots_(kSlots),
      pacer_(options.rate),
      // Read once: not a getenv per finished trace on the probe loop.
      debug_traces_(std::getenv("PORTPATH_DEBUG_TRACE") != nullptr) {
  if (options_.source_port_span == 0) options_.source_port_span = 1;
  if (transport_) stats_.probe_mode = transport_->mode();
}

bool Engine::Start(TraceJob job) {
  if (active_count_ >= kSlots) return false;
  // Round-robin slot allocation keeps a freed slot unused for as long as
  // possible, so late replies to its previous trace find nothing.
  while (slots_[next_slot_ % kSlots]) ++next_slot_;
  auto slot = static_cast<std::uint16_t>(next_slot_ % kSlots);
  ++next_slot_;

  TimePoint now = clock_.Now();
  // No echoes where the transport cannot send them (connect mode without
  // ping sockets): the trace then reports unconfirmed where it would need an
  // echo control, rather than guess.
  if (!transport_->SupportsEcho(job.destination.is_v6())) job.settings.echo = false;
  auto run = std::make_unique<Running>();
  run->trace = std::make_unique<Trace>(job.settings, now, rng_());
  run->started = now;
  Flow& flow = run->flow;
  flow.ip_id = static_cast<std::uint16_t>(rng_());
  flow.flow_label = static_cast<std::uint32_t>(rng_() & 0xfffff) | 1;
  flow.echo_checksum = static_cast<std::uint16_t>(rng_());
  flow.source = job.source;
  flow.destination = job.destination;
  flow.source_port =
      static_cast<std::uint16_t>(options_.source_port_base + slot % options_.source_port_span);
  flow.destination_port = job.port;
  flow.sends_echo = job.settings.echo;
  flow.nonce = static_cast<std::uint16_t>(rng_());
  transport_->BeginTrace(slot, flow);
  run->job = std::move(job);
  run->in_ready = true;
  slots_[slot] = std::move(run);
  ready_.push_back(slot);
  ++active_count_;
  ++stats_.traces_started;
  return true;
}

void Engine::HandleEvent(const ProbeEvent& event) {
  if (auto* reason = std::get_if<DropReason>(&event.probe)) {
    ++stats_.dropped[static_cast<std::size_t>(*reason)];
    return;
  }
  const packet::ProbeId& id = std::get<packet::ProbeId>(event.probe);
  if (!slots_[id.slot]) {
    ++stats_.dropped[static_cast<std::size_t>(DropReason::kNoSuchTrace)];
    return;
  }
  const packet::Reply& reply = event.reply;
  TimePoint received = event.received;
  Running& run = *slots_[id.slot];
  switch (run.trace->OnReply(id.ttl, id.attempt, reply, run.job.destination, received)) {
    case Trace::ReplyStatus::kAccepted:
      ++stats_.replies_by_type[static_cast<std::size_t>(reply.type)];
      if (reply.type == packet::ReplyType::kTimeExceeded) {
        book_.RecordAnswer(run.job.destination.is_v6(), id.ttl, received);
        if (id.ttl < run.trace->settings().max_hops)
          hop_pacers_[static_cast<std::size_t>(id.ttl)].OnAnswered(received);
      }
      // A router that sends unreachables is alive and spends ICMP budget on
      // them: never to be taken for a silent router (its distance is the probe
      // TTL less the quoted one, or one more for errors raised before the
      // decrement; both are marked, which only asks for more confirmation).
      if (reply.type == packet::ReplyType::kUnreachable && reply.quoted_ttl &&
          *reply.quoted_ttl <= id.ttl && reply.from != run.job.destination) {
        int distance = id.ttl - *reply.quoted_ttl;
        for (int d : {distance, distance + 1})
          if (d >= 1 && d < id.ttl) book_.RecordAnswer(run.job.destination.is_v6(), d, received);
      } else if (reply.type == packet::ReplyType::kUnreachable && reply.reply_ttl != 0 &&
                 reply.from != run.job.destination) {
        // No quote to read (connect mode): the error's own TTL tells the distance.
        int d = SenderDistanceFromReplyTtl(reply.reply_ttl);
        if (d >= 1 && d < id.ttl) book_.RecordAnswer(run.job.destination.is_v6(), d, received);
      }
      Touch(id.slot);
      break;
    case Trace::ReplyStatus::kUnknownProbe:
      ++stats_.dropped[static_cast<std::size_t>(DropReason::kUnknownProbe)];
      break;
    case Trace::ReplyStatus::kDuplicate:
      ++stats_.dropped[static_cast<std::size_t>(DropReason::kDuplicate)];
      break;
  }
}

void Engine::Touch(std::uint16_t slot) { touched_.push_back(slot); }

void Engine::ScheduleDeadline(std::uint16_t slot) {
  if (auto deadline = slots_[slot]->trace->NextDeadline()) timers_.emplace(*deadline, slot);
}

void Engine::Advance(std::uint16_t slot, TimePoint now) {
  Running* run = slots_[slot].get();
  if (!run) return;
  run->trace->OnTick(now, book_, run->job.destination.is_v6());
  for (auto [ttl, sent] : run->trace->TakeStarvedTtls())
    hop_pacers_[static_cast<std::size_t>(ttl)].Starved(now, sent);
  if (run->trace->done()) {
    Finish(slot, now);
    return;
  }
  if (!run->in_ready && run->trace->NextProbe()) {
    run->in_ready = true;
    ready_.push_back(slot);
  }
  ScheduleDeadline(slot);
}

void Engine::Finish(std::uint16_t slot, TimePoint now) {
  std::unique_ptr<Running> run = std::move(slots_[slot]);
  --active_count_;
  ++stats_.traces_finished;
  FinishedTrace done;
  done.tag = run->job.tag;
  TraceResult& r = done.result;
  r.target = run->job.target;
  r.host = run->job.host;
  r.address = run->job.destination;
  r.port = run->job.port;
  r.source_port = run->flow.source_port;
  r.probe_mode = transport_->mode();
  transport_->EndTrace(slot);
  r.duration = std::chrono::duration_cast<std::chrono::milliseconds>(now - run->started);
  r.finished_at = std::chrono::duration<double>(now.time_since_epoch()).count();
  if (!run->send_error.empty()) {
    r.outcome = Outcome::kError;
    r.error = run->send_error;
    r.probes_sent = run->trace->probes_sent();
  } else {
    run->trace->FillResult(run->job.destination, r);
    // A reply TTL of 0 is one the transport could not see (connect mode).
    if (r.reply_ttl == 0) r.reply_ttl.reset();
    if (debug_traces_)
      std::fprintf(stderr, "%s:%u\n%s", run->job.target.c_str(), run->job.port,
                   run->trace->DebugString().c_str());
    done.ping = run->trace->PingResult(run->job.destination);
    if (done.ping) {
      if (done.ping->reply_ttl == 0) done.ping->reply_ttl.reset();
      done.ping->probe_mode = r.probe_mode;
      done.ping->target = r.target;
      done.ping->host = r.host;
      done.ping->port = r.port;
    }
    if (!run->trace->replies_lost())
      for (int ttl : run->trace->SilentPassedTtls())
        book_.RecordSilentPass(run->job.destination.is_v6(), ttl, now);
  }
  finished_.push_back(std::move(done));
}

Engine::SendStatus Engine::SendProbe(std::uint16_t slot, const ProbeRequest& request) {
  Running* run = slots_[slot].get();
  ProbeSpec spec;
  spec.id = packet::ProbeId{slot, request.ttl, request.attempt};
  spec.kind = request.kind;
  spec.timeout = run->trace->settings().timeout;
  TimePoint sent_at = clock_.Now();
  int err = transport_->Send(spec);
  if (err == 0) {
    if (request.ttl < run->trace->settings().max_hops) hop_pacers_[request.ttl].OnSent(sent_at);
    run->trace->OnSent(request, sent_at);
    ++stats_.probes_sent;
    timers_.emplace(sent_at + run->trace->settings().timeout, slot);
    return SendStatus::kSent;
  }
  ++stats_.send_errors;
  // The socket buffer is full: the same probe goes again on a later turn.
  if (err == ENOBUFS || err == EAGAIN) return SendStatus::kBufferFull;
  run->trace->OnSendFailed(request);
  // A local error (no route from this host, a local firewall) will not go
  // away by probing further: report it instead of a made-up path.
  run->send_error = std::string("cannot send probes: ") + std::strerror(err);
  return SendStatus::kFailed;
}

void Engine::Unpark(TimePoint now) {
  std::vector<int> still;
  for (int ttl : parked_ttls_) {
    auto& queue = parked_[static_cast<std::size_t>(ttl)];
    for (int n = hop_pacers_[static_cast<std::size_t>(ttl)].Available(now); n > 0 && !queue.empty();
         --n) {
      ready_.push_back(queue.front());
      queue.pop_front();
    }
    if (!queue.empty()) still.push_back(ttl);
  }
  parked_ttls_.swap(still);
}

void Engine::SendSome(TimePoint now) {
  Unpark(now);
  for (int sent = 0; sent < options_.send_batch && !ready_.empty();) {
    std::uint16_t slot = ready_.front();
    Running* run = slots_[slot].get();
    if (!run) {
      ready_.pop_front();
      continue;
    }
    auto request = run->trace->NextProbe();
    if (!request) {
      ready_.pop_front();
      run->in_ready = false;
      Touch(slot);
      continue;
    }
    // Probes that expire at a router wait for that TTL's pacer; the
    // destination probes (at max_hops) ask no router for anything.
    HopPacer* hop =
        request->ttl < run->trace->settings().max_hops ? &hop_pacers_[request->ttl] : nullptr;
    if (hop && hop->limited() && request->optional) {
      run->trace->OnSkipped();  // an RTT sample is not worth a policed answer
      continue;
    }
    if (hop && !hop->TryTake(now)) {
      ready_.pop_front();
      auto& queue = parked_[request->ttl];
      if (queue.empty()) parked_ttls_.push_back(request->ttl);
      queue.push_back(slot);
      continue;
    }
    if (!pacer_.TryTake(now)) {
      if (hop) hop->Refund();
      return;
    }
    ready_.pop_front();
    SendStatus status = SendProbe(slot, *request);
    ++sent;
    // A control group leaves back to back: each probe must meet the routers'
    // ICMP budgets as the SYN left them. They take their tokens on credit.
    while (status == SendStatus::kSent) {
      auto follow = run->trace->NextProbe();
      if (!follow || !follow->follows_previous) break;
      pacer_.TakeOnCredit(now);
      // The group asks the router at the SYN's TTL for one answer, the echo's
      // (the SYN is there to be silent): the SYN's token pays for it.
      bool same_router = follow->ttl == request->ttl && follow->kind == ProbeKind::kIcmpEcho;
      if (follow->ttl < run->trace->settings().max_hops && !same_router)
        hop_pacers_[follow->ttl].TakeOnCredit(now);
      status = SendProbe(slot, *follow);
      ++sent;
    }
    if (status == SendStatus::kBufferFull) {
      ready_.push_back(slot);
      return;
    }
    if (status == SendStatus::kFailed) {
      Finish(slot, now);
      continue;
    }
    if (run->trace->NextProbe()) {
      ready_.push_back(slot);
    } else {
      run->in_ready = false;
      Touch(slot);
    }
  }
}

Duration Engine::WaitBudget(TimePoint now, Duration max_wait) {
  Duration wait = max_wait;
  // Fix (unit tests): at least 1 ns. Pacer::WaitTime truncates to whole
  // nanoseconds, so with tokens just below 1 it says "now" while TryTake still
  // refuses; a wait of 0 then never lets the tokens refill and the loop spins
  // (forever on a fake clock). Within 1 ns of a truncated wait a token is due.
  if (!ready_.empty()) wait = std::min(wait, std::max(pacer_.WaitTime(now), Duration(1)));
  for (int ttl : parked_ttls_)
    wait = std::min(wait, hop_pacers_[static_cast<std::size_t>(ttl)].WaitTime(now));
  if (!touched_.empty()) wait = Duration::zero();
  if (!timers_.empty())
    wait = std::min(wait, std::max(Duration::zero(), timers_.top().first - now));
  return std::max(wait, Duration::zero());
}

void Engine::RunOnce(Duration max_wait) {
  TimePoint now = clock_.Now();
  transport_->Poll(WaitBudget(now, max_wait), [this](const ProbeEvent& e) { HandleEvent(e); });
  stats_.dropped[static_cast<std::size_t>(DropReason::kLinkLayer)] = transport_->link_drops();
  now = clock_.Now();
  auto& overflows = stats_.dropped[static_cast<std::size_t>(DropReason::kCaptureOverflow)];
  if (std::uint64_t lost = transport_->capture_drops(); lost != overflows) {
    overflows = lost;
    // Any lost packet may have been an answer: no running trace may take a
    // silence from before now for evidence (never blame a hop for our own
    // full buffer).
    for (auto& run : slots_)
      if (run) run->trace->OnRepliesLost(now);
  }
  while (!timers_.empty() && timers_.top().first <= now) {
    Touch(timers_.top().second);
    timers_.pop();
  }
  std::vector<std::uint16_t> touched;
  touched.swap(touched_);
  // A slot is touched once per due timer and per reply, and every Advance schedules
  // a timer of its own: advancing a slot more than once per turn would multiply its
  // timers with every probe (quadratic timers, cubic work for a long trace).
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (std::uint16_t slot : touched) Advance(slot, now);
  SendSome(now);
}

std::size_t Engine::Cancel(const std::function<bool(const TraceJob&)>& which) {
  std::size_t cancelled = 0;
  if (active_count_ == 0) return 0;
  for (std::uint32_t slot = 0; slot < kSlots; ++slot) {
    std::unique_ptr<Running>& run = slots_[slot];
    if (!run || !which(run->job)) continue;
    // Queued entries (ready_, parked_, timers_) of the slot find it empty and
    // are skipped, as after Finish.
    transport_->EndTrace(static_cast<std::uint16_t>(slot));
    run.reset();
    --active_count_;
    ++cancelled;
  }
  stats_.traces_cancelled += cancelled;
  return cancelled;
}

void Engine::SetRate(double rate) {
  if (!(rate > 0)) return;
  options_.rate = rate;
  pacer_ = Pacer(rate);
}

void Engine::RunUntilIdle() {
  while (active_count_ > 0) RunOnce(std::chrono::seconds(1));
}

std::vector<FinishedTrace> Engine::TakeFinished() {
  std::vector<FinishedTrace> out;
  out.swap(finished_);
  return out;
}

}  // namespace portpath::probe
