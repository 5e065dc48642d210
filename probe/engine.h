#pragma once
/// The probe loop: runs many traces at once under one global rate limit,
/// interleaving their probes fairly, and credits every answer its transport
/// reports to its probe's trace. The transport is probe-level (seams.h): raw
/// packets with the matcher (PacketTransport) or one kernel socket per probe
/// (the unprivileged connect() mode); the loop and the traces are the same for
/// both. Each iteration receives first, then expires timeouts, then sends, so
/// receive timestamps stay tight. Not thread-safe: one thread owns it.

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "probe/hop_pacer.h"
#include "probe/matcher.h"
#include "probe/pacer.h"
#include "probe/seams.h"
#include "probe/trace.h"
#include "probe/trace_result.h"

namespace portpath::probe {

struct EngineOptions {
  /// Global limit in probes per second across all traces.
  double rate = 1000;
  /// Source ports are source_port_base + slot % source_port_span: below Linux's
  /// ephemeral range (32768-60999), so they do not collide with real sockets.
  std::uint16_t source_port_base = 12000;
  std::uint16_t source_port_span = 20000;
  /// Seed for the probe-id key and per-trace nonces; 0 picks a random one.
  std::uint64_t seed = 0;
  /// Probes sent per loop iteration at most, so receiving is never starved.
  int send_batch = 64;
};

/// One trace to run: TCP SYNs to `port`, with ICMP echo probes to the same
/// destination alongside (the ping comparison and the controls that confirm
/// silence; see trace.h) unless settings.echo is off.
struct TraceJob {
  std::string target;  // as the user wrote it
  std::string host;
  packet::IpAddress destination;
  packet::IpAddress source;
  std::uint16_t port = 0;
  TraceSettings settings;
  /// Free for the caller (e.g. an index into its target list).
  std::uint64_t tag = 0;
};

struct FinishedTrace {
  std::uint64_t tag = 0;
  TraceResult result;
  /// The echo side of the trace, for CompareWithPing; nullopt without echoes.
  std::optional<TraceResult> ping;
};

/// Counters of the loop's own work; the exporter turns them into metrics.
struct EngineStats {
  std::uint64_t probes_sent = 0;
  std::uint64_t send_errors = 0;
  std::array<std::uint64_t, packet::kReplyTypeCount>
      replies_by_type{};  // index = packet::ReplyType
  std::array<std::uint64_t, static_cast<std::size_t>(packet::DropReason::kCount)> dropped{};
  std::uint64_t traces_started = 0;
  std::uint64_t traces_finished = 0;
  /// Traces ended by Cancel (their results are not wanted any more).
  std::uint64_t traces_cancelled = 0;
  /// The transport these counters come from (fixed for the engine's life).
  ProbeMode probe_mode = ProbeMode::kRaw;
};

class Engine {
 public:
  /// Over a probe transport (raw or connect; see probe/io/transport.h), which
  /// must outlive the engine.
  Engine(EngineOptions options, ProbeTransport& transport, TimeSource& clock);
  /// Over packets: a PacketTransport of its own around the sender and source
  /// (which must outlive the engine), keyed from options.seed.
  Engine(EngineOptions options, PacketSender& sender, PacketSource& source, TimeSource& clock);

  /// Starts a trace. Returns false when 65536 traces are already running. A
  /// transport that cannot send ICMP echoes to the destination's family runs
  /// the trace with settings.echo off.
  bool Start(TraceJob job);
  /// One iteration: waits at most max_wait for replies, then handles timeouts
  /// and sends what the rate limit allows.
  void RunOnce(Duration max_wait);
  /// Runs until every started trace has finished.
  void RunUntilIdle();

  /// Ends every running trace whose job `which` accepts, at once and without a
  /// result (a serve reload removed its target): its slot, probes and timers
  /// go, and late replies to it count as no_such_trace. Returns how many.
  std::size_t Cancel(const std::function<bool(const TraceJob&)>& which);
  /// Changes the global rate limit (probes per second, > 0) from the next send
  /// on; the token bucket starts afresh (a burst of 10 ms of the new rate).
  void SetRate(double rate);
  double rate() const { return options_.rate; }

  std::size_t active() const { return active_count_; }
  /// Results finished since the last call, in completion order.
  std::vector<FinishedTrace> TakeFinished();
  const EngineStats& stats() const { return stats_; }
  ProbeMode probe_mode() const { return transport_->mode(); }

 private:
  struct Running {
    TraceJob job;
    std::unique_ptr<Trace> trace;
    Flow flow;
    TimePoint started{};
    bool in_ready = false;
    std::string send_error;
  };

  /// The common part of both public constructors (transport null: the caller
  /// sets up a transport of the engine's own).
  Engine(EngineOptions options, ProbeTransport* transport, TimeSource& clock);
  void HandleEvent(const ProbeEvent& event);
  void Touch(std::uint16_t slot);
  void Advance(std::uint16_t slot, TimePoint now);
  void SendSome(TimePoint now);
  /// Sends one probe of the slot; false when the socket buffer is full.
  enum class SendStatus { kSent, kBufferFull, kFailed };
  SendStatus SendProbe(std::uint16_t slot, const ProbeRequest& request);
  void Finish(std::uint16_t slot, TimePoint now);
  void ScheduleDeadline(std::uint16_t slot);
  Duration WaitBudget(TimePoint now, Duration max_wait);

  EngineOptions options_;
  TimeSource& clock_;
  std::mt19937_64 rng_;
  /// The probe-id key, for a PacketTransport of the engine's own.
  std::uint32_t key_ = 0;
  std::unique_ptr<ProbeTransport> owned_transport_;
  ProbeTransport* transport_ = nullptr;
  std::vector<std::unique_ptr<Running>> slots_;  // index = slot
  std::size_t active_count_ = 0;
  std::uint32_t next_slot_ = 0;
  std::deque<std::uint16_t> ready_;
  std::vector<std::uint16_t> touched_;
  using Timer = std::pair<TimePoint, std::uint16_t>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  Pacer pacer_;
  /// PORTPATH_DEBUG_TRACE is set: print each finished trace's probes.
  bool debug_traces_ = false;
  std::vector<FinishedTrace> finished_;
  /// Which TTLs have routers that answer at all: the evidence traces need to
  /// tell a filter from a policer.
  HopBook book_;
  /// Per-TTL pacing (index = TTL), and the slots waiting for their TTL's pacer.
  std::array<HopPacer, 256> hop_pacers_{};
  std::array<std::deque<std::uint16_t>, 256> parked_{};
  std::vector<int> parked_ttls_;
  /// Moves parked slots whose TTL has tokens again back to the ready queue.
  void Unpark(TimePoint now);
  EngineStats stats_;
};

/// A result for a target that could not be traced at all (bad name, no route
/// from this host...).
TraceResult MakeErrorResult(const std::string& target, const std::string& host, std::uint16_t port,
                            const std::string& message);

}  // namespace portpath::probe
