#pragma once
/// One trace's state machine: which probes to send, what each reply means, and
/// when the trace may conclude. Pure: time comes in as a parameter, packets never
/// appear here (the engine sends and matches). Not thread-safe.
///
/// Strategy: every TTL from first_hop to max_hops is probed at once (probes_per_hop
/// each), so a reachable target costs about one round trip and a blocked one
/// about one timeout. TTLs beyond a terminal reply (the destination, or an
/// unreachable) are cancelled. When the wave is over without a terminal reply,
/// the silent TTLs just after the last answer are probed again: routers police
/// ICMP (Linux: a burst of 6, then one per second per destination), so silence
/// there may be rate limiting rather than a filter. Further rounds, with backoff,
/// follow while the trace shows signs of lost replies.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "probe/packet/reply.h"
#include "probe/trace_result.h"

namespace portpath::probe {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::nanoseconds>;
using Duration = std::chrono::nanoseconds;

struct TraceSettings {
  int first_hop = 1;
  int max_hops = 30;
  int probes_per_hop = 3;
  /// Silent TTLs re-probed after the last answer before concluding "filtered".
  int gap_limit = 5;
  /// Re-probe rounds of that silent stretch that may go unanswered in a row.
  /// The first round is immediate; later ones back off (retry_backoff, doubled
  /// after each unanswered round, with jitter so that many traces do not reach
  /// a policing router at the same instant) and happen only while replies were
  /// evidently lost. A round that recovers answers does not count.
  int max_retries = 3;
  /// Hard cap on re-probe rounds, productive or not.
  int max_rounds = 16;
  Duration timeout = std::chrono::seconds(1);
  Duration retry_backoff = std::chrono::seconds(1);
};

/// A probe the trace wants sent next.
struct ProbeRequest {
  std::uint8_t ttl = 0;
  std::uint8_t attempt = 0;  // 0-based, unique per TTL within the trace
};

enum class TraceState {
  kProbing,   // probes queued or outstanding
  kBackoff,   // waiting before a retry round
  kDone,
};

class Trace {
 public:
  /// jitter_seed varies the backoff between traces (any value; tests fix it).
  Trace(TraceSettings settings, TimePoint start, std::uint64_t jitter_seed = 0);

  TraceState state() const { return state_; }
  const TraceSettings& settings() const { return settings_; }

  /// The next probe to send, if any is due; the engine then calls OnSent.
  std::optional<ProbeRequest> NextProbe(TimePoint now);
  void OnSent(ProbeRequest probe, TimePoint when);
  /// The engine could not send the probe (local error): it counts as silent.
  void OnSendFailed(ProbeRequest probe);

  enum class ReplyStatus { kAccepted, kUnknownProbe, kDuplicate };
  /// Credits a matched reply to the probe (ttl, attempt).
  ReplyStatus OnReply(std::uint8_t ttl, std::uint8_t attempt, const packet::Reply& reply,
                      const packet::IpAddress& destination, TimePoint when);

  /// Expires probes and advances the state machine; call when NextDeadline passes.
  /// `policing_seen`: some trace of this engine recently had lost replies
  /// recovered by a retry, so ICMP policing is proven on this network and the
  /// silence after the last answer deserves twice the patience.
  void OnTick(TimePoint now, bool policing_seen = false);
  /// True once a re-probe round of this trace brought answers that the
  /// earlier probes did not get: replies were being lost, not filtered.
  bool recovered_by_retry() const { return recovered_by_retry_; }
  /// The earliest time at which OnTick has something to do; nullopt when done.
  std::optional<TimePoint> NextDeadline() const;

  /// Fills the hop list, outcome and hop references. Valid once done.
  void FillResult(const packet::IpAddress& destination, TraceResult& result) const;
  int probes_sent() const { return probes_sent_; }
  int retry_rounds() const { return retries_done_; }

 private:
  struct Probe {
    std::uint8_t attempt = 0;
    TimePoint sent{};
    bool outstanding = false;
    bool answered = false;
    bool failed = false;
    Duration rtt{};
    packet::Reply reply;
  };
  struct TtlState {
    std::vector<Probe> probes;  // index = attempt
    int answered = 0;
    bool any_outstanding() const;
  };

  TtlState& at(int ttl) { return ttls_[static_cast<std::size_t>(ttl - settings_.first_hop)]; }
  const TtlState& at(int ttl) const {
    return ttls_[static_cast<std::size_t>(ttl - settings_.first_hop)];
  }
  bool AnyOutstanding() const;
  /// TTL of the lowest-TTL terminal reply (destination or unreachable), or 0.
  int TerminalTtl() const;
  /// Highest TTL that drew any reply, or 0.
  int LastAnsweredTtl() const;
  bool LossEvident(int last_answered) const;
  void Conclude(TimePoint now);
  void QueueTtl(int ttl, int count);

  TraceSettings settings_;
  TimePoint start_;
  TraceState state_ = TraceState::kProbing;
  std::vector<TtlState> ttls_;
  std::deque<int> send_queue_;  // TTLs, one entry per probe to send
  int probes_sent_ = 0;
  int retries_done_ = 0;
  int unanswered_rounds_ = 0;
  bool recovered_by_retry_ = false;
  std::uint64_t jitter_state_ = 0;
  int answers_at_last_retry_ = 0;
  int total_answers_ = 0;
  TimePoint backoff_until_{};
};

/// traceroute's marker for an ICMP unreachable (type/code), e.g. "!X".
std::string UnreachableMarker(bool v6, int code);
/// Whether an ICMP unreachable code means administratively prohibited.
bool IsProhibitedCode(bool v6, int code);

}  // namespace portpath::probe
