#pragma once
/// One trace's state machine: which probes to send, what each reply means, and
/// when the trace may conclude. Pure: time comes in as a parameter, packets never
/// appear here (the engine sends and matches). Not thread-safe.
///
/// Routers police ICMP errors (Linux: a burst of 6 per destination, then one a
/// second, and 1000/s with bursts of 50 overall), so a silent TTL may be a
/// filter or a policer. A trace therefore never concludes "filtered after hop
/// L" from silence alone when the hop after L is a router known to answer:
///
///   kDiscover    one wave: a SYN and an ICMP echo at max_hops (the
///                destination's answer and distance, neither policed like
///                errors), then SYNs at first_hop.. up to gap_limit past the
///                highest answer, extended as answers come in.
///   kConfirm     no terminal answer: each silent TTL t after L whose router
///                answers other probes (HopBook) gets a *control group*, sent
///                back to back: a SYN at t, a SYN at L, an ICMP echo at t to the
///                same destination. A router with no ICMP budget for the SYN has
///                none a moment later either (tokens only refill with time), so
///                "SYN at t silent, echo at t answered" proves the SYN never got
///                to t, and "SYN at L answered" proves L had budget, so it did
///                not reject the first SYN with an error that was policed away
///                (that would be "prohibited", not "filtered"): confirmed.
///                The SYN at t is judged silent once its echo is back (its
///                own answer would have come first); the controls of a router
///                known to answer are given up on after a few round trips (a
///                starved control proves nothing either way, and an answer
///                after that is late and vouches for nothing).
///   kWaitPolicer both stayed silent: policing is likely; wait (backoff with
///                jitter, doubling up to 4x) and try another round. Rounds go
///                on until max_retries silent ones *and* max_retries x
///                (timeout + backoff) since the first have passed: quick
///                rounds must not give a policer that refills once a second
///                less time than it needs. Counted for one last hop: when it
///                moves, the count starts afresh (max_rounds caps all).
///   kDone        a verdict, or, when the budget of rounds ran out with a
///                known router's silence unconfirmed, "filtered, blocked hop not
///                confirmed": unsure, never a guess.

#include <array>
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
  /// Silent TTLs probed after the highest answer before concluding "filtered".
  int gap_limit = 5;
  /// Confirmation rounds that may end with both probes of a pair silent (ICMP
  /// policing) before the trace gives up and reports an unconfirmed block.
  int max_retries = 3;
  /// Hard cap on confirmation rounds, productive or not.
  int max_rounds = 16;
  Duration timeout = std::chrono::seconds(1);
  /// First wait after a silent confirmation round (doubling to 4x). The
  /// engine's HopPacer slows the starved TTLs meanwhile, so this only needs to
  /// let a policer refill a little.
  Duration retry_backoff = std::chrono::milliseconds(500);
  /// Send ICMP echo probes: the destination ping (ping comparison) and the
  /// control probes that confirm silence. Without them a silence after a
  /// router known to answer can only be reported as unconfirmed.
  bool echo = true;
  /// Ping the destination (an echo at max_hops) for the ping comparison.
  bool ping = true;
  /// Refresh rounds (serve): an earlier round confirmed the verdict, so this
  /// one re-asks only what the verdict rests on, and leaves the routers' ICMP
  /// budgets to the verdicts that need them.
  ///  - kRefreshBlocked: no answer came from beyond known_last_hop. Only the
  ///    destination probes and a SYN at the TTL after it go out (none of them
  ///    draws a router's answer while the verdict holds). Nothing contradicting
  ///    it ends the trace unconfirmed (the service shows the confirmed verdict,
  ///    stale); an answer from beyond known_last_hop turns it into a full trace.
  ///  - kRefreshEnd: the port's answer came from known_last_hop (the
  ///    destination's SYN-ACK or RST, or a router's unreachable): only the
  ///    destination probes go out. The same answer (type, sender, ICMP code) from
  ///    the same distance confirms the verdict afresh (the hop list is the last
  ///    full round's: the service carries it); any other answer, or a silent
  ///    destination, turns it into a full trace. A silence where an unreachable
  ///    came (which policing may have swallowed) ends unconfirmed.
  enum class Round { kFull, kRefreshBlocked, kRefreshEnd };
  Round round = Round::kFull;
  int known_last_hop = 0;
  /// kRefreshEnd: the answer the verdict rests on (kSynAck, kRst or
  /// kUnreachable), who sent it, and an unreachable's ICMP code.
  packet::ReplyType known_reply = packet::ReplyType::kSynAck;
  std::optional<packet::IpAddress> known_sender;
  int known_icmp_code = 0;
  /// Serve: once the port's verdict rests on an answer that needs no hop list
  /// (the destination's SYN-ACK or RST, or a router's unreachable placed by
  /// its quoted TTL), the SYNs still queued below it only draw the hop list,
  /// and become optional: the engine skips them at TTLs whose routers' ICMP
  /// budgets are short, leaving those answers to the verdicts that need them
  /// (such a TTL shows no probe). The CLI keeps its hop list whole.
  bool hop_list_optional = false;
};

/// What kind of packet a probe is.
enum class ProbeKind : std::uint8_t { kTcpSyn, kIcmpEcho };

/// A probe the trace wants sent next.
struct ProbeRequest {
  std::uint8_t ttl = 0;
  std::uint8_t attempt = 0;  // 0-based, unique per TTL within the trace (both kinds)
  ProbeKind kind = ProbeKind::kTcpSyn;
  /// A control: must leave right after the previous probe of this trace, with
  /// no other probe in between (the engine sends the group back to back).
  bool follows_previous = false;
  /// For a control: the TTL of the SYN it vouches for (the newest one sent there).
  std::uint8_t controls_ttl = 0;
  /// Only for the hop list (a second or third RTT sample): the engine skips it
  /// (OnSkipped) where routers' ICMP budgets are short, keeping them for verdicts.
  bool optional = false;
};

enum class TraceMode { kDiscover, kConfirm, kWaitPolicer, kDone };
std::string_view ToString(TraceMode m);

/// What the engine knows across traces: which TTLs have routers that answer
/// time-exceeded at all (recently). Keyed by TTL and address family only, so it
/// errs on the side of asking for confirmation. Pure; not thread-safe.
class HopBook {
 public:
  /// How long an answer keeps a TTL "known to answer".
  static constexpr Duration kMemory = std::chrono::minutes(10);
  /// A router at `ttl` answered time-exceeded (any probe, any trace).
  void RecordAnswer(bool v6, int ttl, TimePoint when);
  /// A probe certainly reached `ttl` (its trace got answers from further on)
  /// and drew nothing there.
  void RecordSilentPass(bool v6, int ttl, TimePoint when);
  /// Answered within kMemory, in either family (dual-stack routers are one
  /// box, and the global budget is shared, so this errs towards confirming).
  bool KnownAnswerer(bool v6, int ttl, TimePoint now) const;
  /// No answer at `ttl` within kMemory although at least kSilentPasses probes
  /// passed it: a router that never sends time-exceeded, not a policed one
  /// (a policed router still answers its burst now and then).
  bool KnownSilent(bool v6, int ttl, TimePoint now) const;
  static constexpr int kSilentPasses = 3;

 private:
  struct Entry {
    std::optional<TimePoint> last_answer;
    std::optional<TimePoint> last_silent_pass;
    int silent_passes = 0;  // since the last answer
  };
  Entry& at(bool v6, int ttl) { return entries_[v6 ? 1 : 0][static_cast<std::size_t>(ttl & 0xff)]; }
  const Entry& at(bool v6, int ttl) const {
    return entries_[v6 ? 1 : 0][static_cast<std::size_t>(ttl & 0xff)];
  }
  std::array<std::array<Entry, 256>, 2> entries_{};
};

class Trace {
 public:
  /// jitter_seed varies the backoff between traces (any value; tests fix it).
  Trace(TraceSettings settings, TimePoint start, std::uint64_t jitter_seed = 0);

  TraceMode mode() const { return mode_; }
  bool done() const { return mode_ == TraceMode::kDone; }
  const TraceSettings& settings() const { return settings_; }

  /// The next probe to send, if any is due; the engine then calls OnSent.
  std::optional<ProbeRequest> NextProbe();
  void OnSent(ProbeRequest probe, TimePoint when);
  /// The engine chose not to send an optional probe (budget kept for verdicts).
  void OnSkipped();
  /// The engine could not send the probe (local error): it counts as silent.
  void OnSendFailed(ProbeRequest probe);
  /// Packets were lost unread before `when` (the capture buffer overflowed):
  /// no probe sent before then counts as silent evidence (a vouched silence,
  /// a silent group, a silent pass), since its answer may have been lost.
  void OnRepliesLost(TimePoint when) {
    if (!replies_lost_at_ || *replies_lost_at_ < when) replies_lost_at_ = when;
  }
  bool replies_lost() const { return replies_lost_at_.has_value(); }

  enum class ReplyStatus { kAccepted, kUnknownProbe, kDuplicate };
  /// Credits a matched reply to the probe (ttl, attempt).
  ReplyStatus OnReply(std::uint8_t ttl, std::uint8_t attempt, const packet::Reply& reply,
                      const packet::IpAddress& destination, TimePoint when);

  /// Expires probes and advances the state machine; call when NextDeadline
  /// passes or after replies. `book` says which TTLs answer other probes.
  void OnTick(TimePoint now, const HopBook& book, bool v6);
  /// The earliest time at which OnTick has something to do; nullopt when done.
  std::optional<TimePoint> NextDeadline() const;

  /// Fills the hop list, outcome, hop references and evidence. Valid once done.
  void FillResult(const packet::IpAddress& destination, TraceResult& result) const;
  /// The ICMP echo side (destination ping and controls) as a result of its own,
  /// for CompareWithPing; nullopt when no echo was sent.
  std::optional<TraceResult> PingResult(const packet::IpAddress& destination) const;
  /// (TTL, when sent) of controls that routers known to answer left
  /// unanswered in the last round: their ICMP budget was empty (for the
  /// engine's HopPacer).
  std::vector<std::pair<int, TimePoint>> TakeStarvedTtls();
  /// Every probe and its fate, one per line (for debugging).
  std::string DebugString() const;
  /// TTLs below the highest answered one whose SYNs drew nothing (for HopBook).
  std::vector<int> SilentPassedTtls() const;
  int probes_sent() const { return probes_sent_; }
  int confirm_rounds() const { return rounds_; }

 private:
  struct Probe {
    std::uint8_t attempt = 0;
    ProbeKind kind = ProbeKind::kTcpSyn;
    TimePoint sent{};
    bool outstanding = false;
    bool answered = false;
    bool failed = false;
    /// Answered after it was given up on (its deadline passed). Still an
    /// answer (a hop, a router that answers), but a late control vouches for
    /// nothing: its round was judged without it.
    bool late = false;
    /// For a control: the SYN (TTL, attempt) it vouches for; attempt -1 = none.
    int controls_ttl = 0;
    int controls = -1;
    Duration rtt{};
    packet::Reply reply;
  };
  struct TtlState {
    std::vector<Probe> probes;  // index = attempt
    bool any_outstanding() const;
    bool syn_answered() const;
  };
  /// Vouched-for silent SYNs a TTL needs to count as confirmed.
  static constexpr int kConfirmations = 2;
  /// What the evidence says about one silent TTL after the last answer.
  /// kUnconfirmed: a router known to answer, not yet shown silent by controls;
  /// kUnknown: nothing known of this TTL yet.
  enum class Silence { kConfirmed, kSilentRouter, kUnconfirmed, kUnknown };

  TtlState& at(int ttl) { return ttls_[static_cast<std::size_t>(ttl - settings_.first_hop)]; }
  const TtlState& at(int ttl) const {
    return ttls_[static_cast<std::size_t>(ttl - settings_.first_hop)];
  }
  void TickDiscover(TimePoint now, const HopBook& book, bool v6);
  /// A refresh round that has not turned into a full one.
  bool Refreshing() const;
  void TickConfirm(TimePoint now, const HopBook& book, bool v6);
  void TickWaitPolicer(TimePoint now, const HopBook& book, bool v6);

  bool AnyOutstanding() const;
  /// TTL of the lowest-TTL terminal SYN reply (destination or unreachable), or 0.
  int TerminalTtl() const;
  /// Highest TTL whose SYN drew any reply, or 0.
  int LastAnsweredTtl() const;
  /// The destination's distance by its TCP or echo reply TTL, if one came.
  std::optional<int> DistanceEstimate() const;
  Silence SilenceAt(int ttl, const HopBook& book, bool v6, TimePoint now) const;
  /// Queues SYNs for TTLs up to `reach` (not yet queued), once each.
  void ExtendWindow(int reach);
  /// The walk from the last answer outwards: confirmed once a TTL's silence
  /// is confirmed with only silent routers before it (or nothing after L
  /// answers anyone); `need` lists the TTLs still to be confirmed.
  struct Judgement {
    bool confirmed = false;
    std::vector<int> need;
    int known_answerer = 0;  // the TTL in `need` whose router answers, if any
  };
  Judgement Judge(TimePoint now, const HopBook& book, bool v6) const;
  /// Leaves discovery for confirmation (or concludes when nothing is left to ask).
  void EnterConfirm(TimePoint now, const HopBook& book, bool v6);
  void SendPairs(const std::vector<int>& ttls, int known_answerer);
  /// Concludes unconfirmed (true) when the round budgets are spent.
  bool OutOfRounds(const Judgement& j, TimePoint now);
  void StartRound(const Judgement& j, TimePoint now);
  void Conclude(bool confirmed);
  /// When an outstanding probe counts as unanswered (see trace.cc).
  TimePoint Deadline(int ttl, const Probe& p) const;
  /// The echo of the control group that `syn` (at `ttl`) heads, if any.
  const Probe* GroupEcho(int ttl, const Probe& syn) const;
  /// A few round trips of the slowest answer so far: past it, a silence is
  /// presumed where presuming can blame no one (discovery, controls).
  std::optional<TimePoint> PresumedSilence(const Probe& p) const;
  static constexpr Duration kReorderMargin = std::chrono::milliseconds(10);
  /// Grows with every answer that moves the last hop or vouches for a silence.
  int Evidence() const;
  void Queue(int ttl, ProbeKind kind, bool follows_previous = false, int controls_ttl = 0,
             bool optional = false);

  TraceSettings settings_;
  TimePoint start_;
  TraceMode mode_ = TraceMode::kDiscover;
  std::vector<TtlState> ttls_;
  std::deque<ProbeRequest> send_queue_;  // attempt filled in when sent
  int window_ = 0;                       // highest TTL queued by discovery
  int probes_sent_ = 0;
  std::vector<std::pair<int, TimePoint>> starved_ttls_;
  Duration max_rtt_{};  // slowest answer so far
  int rounds_ = 0;
  int silent_rounds_ = 0;           // since the last hop last moved
  int silent_rounds_last_hop_ = 0;  // the last hop they were counted for
  TimePoint first_silent_round_{};  // when the first of them began
  /// Rounds in which each TTL got a pair whose both probes stayed silent.
  std::array<std::uint8_t, 256> silent_pairs_{};
  bool asked_unreachable_sender_ = false;
  /// The lowest upper bound on an unreachable's sender distance (its quoted
  /// TTL), 0 while none came: no SYN goes beyond it.
  int sender_bound_ = 0;
  /// SYNs below this TTL only draw the hop list (hop_list_optional): optional.
  int hop_list_only_below_ = 0;
  bool escalated_ = false;  // a refresh round that found news and went full
  /// The latest OnRepliesLost: silences of probes sent up to then are no evidence.
  std::optional<TimePoint> replies_lost_at_;
  /// Whether a probe sent at `sent` may have had its answer lost unread.
  bool MayHaveLostAnswer(TimePoint sent) const {
    return replies_lost_at_ && sent <= *replies_lost_at_;
  }
  /// kRefreshEnd: whether `reply` to the destination SYN at `ttl` is the answer
  /// the verdict rests on (same type, sender, code and distance).
  bool IsKnownEnd(std::uint8_t ttl, const packet::Reply& reply) const;
  /// Turns a refresh round into a full trace from the first hop.
  void Escalate();
  /// Marks the queued SYNs below `ttl` optional (TraceSettings::hop_list_optional).
  void MakeHopListOptionalBelow(int ttl);
  bool confirmed_ = true;
  int unconfirmed_ttl_ = 0;
  std::uint64_t jitter_state_ = 0;
  std::uint64_t rotation_ = 0;  // where each discovery stretch starts
  TimePoint wait_until_{};
  TimePoint round_start_{};
  /// The TTL of this round's known answerer (0: none): its group's controls
  /// are given up on after a few round trips (see Deadline).
  int quick_controls_ttl_ = 0;
  /// Evidence() when the current round began: a round that adds none is silent.
  int evidence_at_round_start_ = 0;  // when the current confirmation round began
};

/// traceroute's marker for an ICMP unreachable (type/code), e.g. "!X".
std::string UnreachableMarker(bool v6, int code);
/// Whether an ICMP unreachable code means administratively prohibited.
bool IsProhibitedCode(bool v6, int code);

}  // namespace portpath::probe
