#include "probe/trace.h"

#include <algorithm>

#include "probe/diagnosis.h"

namespace portpath::probe {

using packet::ReplyType;

int Hop::answered() const {
  return static_cast<int>(std::count_if(probes.begin(), probes.end(),
                                        [](const ProbeSample& s) { return s.rtt_ms.has_value(); }));
}

std::string_view ToString(Outcome o) {
  switch (o) {
    case Outcome::kOpen:
      return "open";
    case Outcome::kClosed:
      return "closed";
    case Outcome::kFiltered:
      return "filtered";
    case Outcome::kProhibited:
      return "prohibited";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kError:
      return "error";
    case Outcome::kResetByMiddlebox:
      return "reset_by_middlebox";
    case Outcome::kAnsweredByMiddlebox:
      return "answered_by_middlebox";
  }
  return "error";
}

std::string_view ToString(HopReply r) {
  switch (r) {
    case HopReply::kNone:
      return "none";
    case HopReply::kTimeExceeded:
      return "time_exceeded";
    case HopReply::kSynAck:
      return "syn_ack";
    case HopReply::kRst:
      return "rst";
    case HopReply::kUnreachable:
      return "unreachable";
    case HopReply::kEchoReply:
      return "echo_reply";
  }
  return "none";
}

bool IsProhibitedCode(bool v6, int code) {
  if (v6) return code == 1 || code == 5 || code == 6;
  return code == 9 || code == 10 || code == 13;
}

std::string UnreachableMarker(bool v6, int code) {
  if (IsProhibitedCode(v6, code)) return "!X";
  if (v6) {
    switch (code) {
      case 0:
        return "!N";
      case 2:
        return "!S";
      case 3:
        return "!H";
      case 4:
        return "!P";
      default:
        return std::string("!").append(std::to_string(code));
    }
  }
  switch (code) {
    case 0:
    case 6:
    case 8:
    case 11:
      return "!N";
    case 1:
    case 7:
    case 12:
      return "!H";
    case 2:
    case 3:
      return "!P";
    case 4:
      return "!F";
    case 5:
      return "!S";
    case 14:
      return "!V";
    case 15:
      return "!C";
    default:
      return std::string("!").append(std::to_string(code));
  }
}

namespace {
bool IsTerminal(ReplyType t) { return t != ReplyType::kTimeExceeded; }

HopRef MakeHopRef(int ttl, const packet::IpAddress& address) {
  HopRef ref;
  ref.ttl = ttl;
  ref.address = address;
  ref.address_class = ClassifyAddress(address);
  return ref;
}

/// An unreachable whose quote the transport could not see (connect mode: the
/// error queue gives the ICMP type, code, sender and TTL, not the quoted IP
/// header): its sender's distance by the error's own TTL as received, when
/// that fits below the probe's TTL. nullopt when the quote was seen (raw mode
/// always sees it) or the reply TTL is unknown.
std::optional<int> UnquotedSenderDistance(const packet::Reply& reply, int probe_ttl) {
  if (reply.quoted_ttl || reply.reply_ttl == 0) return std::nullopt;
  int d = SenderDistanceFromReplyTtl(reply.reply_ttl);
  if (d < 1 || d > probe_ttl) return std::nullopt;
  return d;
}

/// The upper bound an unreachable's quoted residual TTL puts on its sender's
/// distance, for a SYN sent at `probe_ttl`; nullopt without a usable quote.
/// Errors raised after the forwarding decrement (a FORWARD-chain reject, a
/// failed neighbour lookup) quote TTL - distance; errors raised before it (no
/// route) and a host's own errors quote one more.
std::optional<int> QuotedSenderBound(const packet::Reply& reply, int probe_ttl,
                                     const packet::IpAddress& destination) {
  if (!reply.quoted_ttl || *reply.quoted_ttl < 1 || *reply.quoted_ttl > probe_ttl)
    return std::nullopt;
  const bool v6 = destination.is_v6();
  const bool after_decrement =
      reply.from != destination &&
      (IsProhibitedCode(v6, reply.icmp_code) || reply.icmp_code == (v6 ? 3 : 1));
  return probe_ttl - *reply.quoted_ttl + (after_decrement ? 0 : 1);
}
}  // namespace

std::string_view ToString(TraceMode m) {
  switch (m) {
    case TraceMode::kDiscover:
      return "discover";
    case TraceMode::kConfirm:
      return "confirm";
    case TraceMode::kWaitPolicer:
      return "wait_policer";
    case TraceMode::kDone:
      return "done";
  }
  return "done";
}

void HopBook::RecordAnswer(bool v6, int ttl, TimePoint when) {
  Entry& e = at(v6, ttl);
  if (!e.last_answer || *e.last_answer < when) e.last_answer = when;
  e.silent_passes = 0;
}

void HopBook::RecordSilentPass(bool v6, int ttl, TimePoint when) {
  Entry& e = at(v6, ttl);
  e.last_silent_pass = when;
  ++e.silent_passes;
}

bool HopBook::KnownAnswerer(bool v6, int ttl, TimePoint now) const {
  // Either family: dual-stack routers are one box, and Linux's global ICMP
  // budget is shared by both, so v4 load can starve v6 answers. Erring this
  // way only asks for more confirmation.
  for (bool family : {v6, !v6}) {
    const Entry& e = at(family, ttl);
    if (e.last_answer && now - *e.last_answer < kMemory) return true;
  }
  return false;
}

bool HopBook::KnownSilent(bool v6, int ttl, TimePoint now) const {
  const Entry& e = at(v6, ttl);
  return !KnownAnswerer(v6, ttl, now) && e.silent_passes >= kSilentPasses && e.last_silent_pass &&
         now - *e.last_silent_pass < kMemory;
}

bool Trace::TtlState::any_outstanding() const {
  return std::any_of(probes.begin(), probes.end(), [](const Probe& p) { return p.outstanding; });
}

bool Trace::TtlState::syn_answered() const {
  return std::any_of(probes.begin(), probes.end(),
                     [](const Probe& p) { return p.answered && p.kind == ProbeKind::kTcpSyn; });
}

Trace::Trace(TraceSettings settings, TimePoint start, std::uint64_t jitter_seed)
    : settings_(settings),
      start_(start),
      jitter_state_(jitter_seed | 1),
      rotation_(jitter_seed >> 32) {
  settings_.first_hop = std::clamp(settings_.first_hop, 1, 255);
  settings_.max_hops = std::clamp(settings_.max_hops, settings_.first_hop, 255);
  settings_.probes_per_hop = std::clamp(settings_.probes_per_hop, 1, 10);
  settings_.gap_limit = std::max(settings_.gap_limit, 1);
  const int ttl_count = settings_.max_hops - settings_.first_hop + 1;  // 1..255, clamped above
  ttls_.resize(static_cast<std::size_t>(ttl_count));
  // The destination's own answer first: a SYN that outlives any path gets the
  // verdict of an open, closed or rejected port at once (none of these is
  // policed like time-exceeded), and its reply TTL tells how far to look.
  Queue(settings_.max_hops, ProbeKind::kTcpSyn);
  if (settings_.echo && settings_.ping) Queue(settings_.max_hops, ProbeKind::kIcmpEcho);
  int known = std::clamp(settings_.known_last_hop, settings_.first_hop, settings_.max_hops - 1);
  switch (settings_.round) {
    case TraceSettings::Round::kFull:
      ExtendWindow(settings_.first_hop + settings_.gap_limit - 1);
      break;
    case TraceSettings::Round::kRefreshBlocked:
      // No SYN at known_last_hop: its answer would cost that router's budget
      // and prove nothing the stale verdict claims.
      Queue(known + 1, ProbeKind::kTcpSyn);
      window_ = known + 1;
      break;
    case TraceSettings::Round::kRefreshEnd:
      break;  // the destination probes above are the whole round
  }
}

void Trace::Escalate() {
  escalated_ = true;
  if (window_ == 0) ExtendWindow(settings_.first_hop + settings_.gap_limit - 1);
}

void Trace::MakeHopListOptionalBelow(int ttl) {
  hop_list_only_below_ = std::max(hop_list_only_below_, ttl);
  for (ProbeRequest& r : send_queue_)
    if (r.kind == ProbeKind::kTcpSyn && r.ttl < ttl && !r.follows_previous && r.controls_ttl == 0)
      r.optional = true;
}

bool Trace::IsKnownEnd(std::uint8_t ttl, const packet::Reply& reply) const {
  if (reply.type != settings_.known_reply) return false;
  if (!settings_.known_sender || reply.from != *settings_.known_sender) return false;
  if (reply.type == ReplyType::kUnreachable) {
    if (reply.icmp_code != settings_.known_icmp_code) return false;
    // The quoted residual TTL places the sender: ttl - quoted, or one more
    // for errors raised before the forwarding decrement (see FillResult).
    if (!reply.quoted_ttl || *reply.quoted_ttl < 1 || *reply.quoted_ttl > ttl) return false;
    int distance = ttl - *reply.quoted_ttl;
    return settings_.known_last_hop == distance || settings_.known_last_hop == distance + 1;
  }
  // The destination's SYN-ACK or RST: from the same distance (its reply TTL).
  if (reply.reply_ttl == 0) return false;
  return std::min<int>(ttl, SenderDistanceFromReplyTtl(reply.reply_ttl)) ==
         settings_.known_last_hop;
}

bool Trace::Refreshing() const {
  return settings_.round != TraceSettings::Round::kFull && !escalated_;
}

void Trace::Queue(int ttl, ProbeKind kind, bool follows_previous, int controls_ttl, bool optional) {
  ProbeRequest r;
  r.optional = optional;
  r.ttl = static_cast<std::uint8_t>(ttl);
  r.kind = kind;
  r.follows_previous = follows_previous;
  r.controls_ttl = static_cast<std::uint8_t>(controls_ttl);
  send_queue_.push_back(r);
}

void Trace::ExtendWindow(int reach) {
  if (auto d = DistanceEstimate()) reach = std::min(reach, *d + 1);
  if (sender_bound_ != 0) reach = std::min(reach, sender_bound_);
  reach = std::min(reach, settings_.max_hops);
  // One probe per TTL finds the path; the further probes_per_hop - 1 only
  // add RTT samples, so they go after, and only where budgets allow.
  int from = std::max(window_ + 1, settings_.first_hop);
  // Each trace starts its stretch at a TTL of its own (Yarrp's point): the
  // engine serves traces round robin, so in TTL order every trace would ask
  // the same router at the same moment and burst through its ICMP budget.
  int count = reach - from + 1;
  int offset = count > 0 ? static_cast<int>(rotation_ % static_cast<std::uint64_t>(count)) : 0;
  for (int i = 0; i < count; ++i) {
    int ttl = from + (i + offset) % count;
    Queue(ttl, ProbeKind::kTcpSyn, false, 0, ttl < hop_list_only_below_);
  }
  for (int i = 1; i < settings_.probes_per_hop; ++i)
    for (int ttl = from; ttl <= reach; ++ttl) Queue(ttl, ProbeKind::kTcpSyn, false, 0, true);
  window_ = std::max(window_, reach);
}

std::optional<ProbeRequest> Trace::NextProbe() {
  if (mode_ == TraceMode::kDone || mode_ == TraceMode::kWaitPolicer) return std::nullopt;
  int terminal = TerminalTtl();
  while (!send_queue_.empty()) {
    ProbeRequest r = send_queue_.front();
    // Beyond a terminal reply every SYN would only draw the same answer. The
    // attempt number is 8 bits in the probe id.
    bool beyond = r.kind == ProbeKind::kTcpSyn && ((terminal != 0 && r.ttl > terminal) ||
                                                   (sender_bound_ != 0 && r.ttl > sender_bound_));
    if (beyond || at(r.ttl).probes.size() >= 255) {
      send_queue_.pop_front();
      continue;
    }
    r.attempt = static_cast<std::uint8_t>(at(r.ttl).probes.size());
    return r;
  }
  return std::nullopt;
}

void Trace::OnSent(ProbeRequest probe, TimePoint when) {
  send_queue_.pop_front();
  Probe p;
  p.attempt = probe.attempt;
  p.kind = probe.kind;
  p.sent = when;
  p.outstanding = true;
  // A control vouches for the newest SYN at its TTL, sent just before it.
  if (probe.controls_ttl >= settings_.first_hop && probe.controls_ttl <= settings_.max_hops) {
    const TtlState& target = at(probe.controls_ttl);
    for (auto it = target.probes.rbegin(); it != target.probes.rend(); ++it)
      if (it->kind == ProbeKind::kTcpSyn) {
        if (!it->failed) {
          p.controls_ttl = probe.controls_ttl;
          p.controls = it->attempt;
        }
        break;
      }
  }
  at(probe.ttl).probes.push_back(p);
  ++probes_sent_;
}

void Trace::OnSkipped() { send_queue_.pop_front(); }

void Trace::OnSendFailed(ProbeRequest probe) {
  send_queue_.pop_front();
  Probe p;
  p.attempt = probe.attempt;
  p.kind = probe.kind;
  p.failed = true;
  at(probe.ttl).probes.push_back(p);
}

Trace::ReplyStatus Trace::OnReply(std::uint8_t ttl, std::uint8_t attempt,
                                  const packet::Reply& reply, const packet::IpAddress& destination,
                                  TimePoint when) {
  if (ttl < settings_.first_hop || ttl > settings_.max_hops) return ReplyStatus::kUnknownProbe;
  TtlState& t = at(ttl);
  if (attempt >= t.probes.size() || t.probes[attempt].failed) return ReplyStatus::kUnknownProbe;
  Probe& p = t.probes[attempt];
  // The reply must be about the kind of packet that probe was.
  bool echo_reply = reply.probe.protocol != packet::kProtoTcp;
  if (echo_reply != (p.kind == ProbeKind::kIcmpEcho)) return ReplyStatus::kUnknownProbe;
  if (p.answered) return ReplyStatus::kDuplicate;
  // A TCP answer must come from the destination itself; the matcher checked the
  // flow, this guards the meaning ("destination reached").
  if ((reply.type == ReplyType::kSynAck || reply.type == ReplyType::kRst ||
       reply.type == ReplyType::kEchoReply) &&
      reply.from != destination)
    return ReplyStatus::kUnknownProbe;
  // A reply after its timeout is still accepted while the trace runs: it is a
  // real answer, just slow, and dropping it would invent a silent hop.
  p.late = !p.outstanding;
  p.answered = true;
  p.outstanding = false;
  p.rtt = when - p.sent;
  max_rtt_ = std::max(max_rtt_, p.rtt);
  p.reply = reply;
  // A refresh round asks no more than the old verdict rests on, unless the
  // answer is news: the hop after the known last hop answering.
  if (Refreshing()) {
    bool news = false;
    if (p.kind == ProbeKind::kTcpSyn) {
      news = settings_.round == TraceSettings::Round::kRefreshEnd ? !IsKnownEnd(ttl, reply)
                                                                  : ttl > settings_.known_last_hop;
    }
    if (!news) return ReplyStatus::kAccepted;
    Escalate();
  }
  if (reply.type == ReplyType::kUnreachable && p.kind == ProbeKind::kTcpSyn) {
    // The quoted residual TTL bounds the sender's distance from above (as
    // FillResult reads it). Every SYN beyond it would only draw the same
    // error again, from the same router's ICMP budget.
    if (auto quoted = QuotedSenderBound(reply, ttl, destination)) {
      int bound = std::max(*quoted, settings_.first_hop);
      if (sender_bound_ == 0 || bound < sender_bound_) sender_bound_ = bound;
    }
  }
  if (settings_.hop_list_optional && p.kind == ProbeKind::kTcpSyn) {
    if (reply.type == ReplyType::kSynAck || reply.type == ReplyType::kRst)
      MakeHopListOptionalBelow(settings_.max_hops + 1);
    else if (reply.type == ReplyType::kUnreachable && sender_bound_ != 0)
      MakeHopListOptionalBelow(sender_bound_);  // the sender's own TTL stays asked
  }
  if (mode_ == TraceMode::kDiscover) {
    // Answers widen the window: gap_limit past a router that answered, up to
    // just past the destination once its distance is known, up to an
    // unreachable's sender by the TTL it quotes.
    if (reply.type == ReplyType::kTimeExceeded && p.kind == ProbeKind::kTcpSyn) {
      ExtendWindow(ttl + settings_.gap_limit);
    } else if (reply.type == ReplyType::kUnreachable && p.kind == ProbeKind::kTcpSyn) {
      if (sender_bound_ != 0) {
        ExtendWindow(sender_bound_);
      } else {
        int distance = ttl;
        if (auto d = UnquotedSenderDistance(reply, ttl)) distance = *d;
        ExtendWindow(distance + 1);
      }
    } else if (auto d = DistanceEstimate()) {
      ExtendWindow(*d + 1);
    }
  }
  return ReplyStatus::kAccepted;
}

bool Trace::AnyOutstanding() const {
  return std::any_of(ttls_.begin(), ttls_.end(),
                     [](const TtlState& t) { return t.any_outstanding(); });
}

int Trace::TerminalTtl() const {
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (const Probe& p : at(ttl).probes)
      if (p.answered && p.kind == ProbeKind::kTcpSyn && IsTerminal(p.reply.type)) return ttl;
  return 0;
}

int Trace::LastAnsweredTtl() const {
  for (int ttl = settings_.max_hops; ttl >= settings_.first_hop; --ttl)
    if (at(ttl).syn_answered()) return ttl;
  return 0;
}

std::optional<int> Trace::DistanceEstimate() const {
  // The destination's SYN-ACK/RST or echo reply: its TTL as received says how
  // many hops it travelled (initial TTL 64, 128 or 255).
  std::optional<int> best;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (const Probe& p : at(ttl).probes) {
      if (!p.answered) continue;
      ReplyType t = p.reply.type;
      if (t != ReplyType::kSynAck && t != ReplyType::kRst && t != ReplyType::kEchoReply) continue;
      // 0: a TTL the transport could not see (a connect()ed SYN-ACK or RST).
      if (p.reply.reply_ttl == 0) continue;
      int d = std::min(ttl, SenderDistanceFromReplyTtl(p.reply.reply_ttl));
      if (d >= 1 && (!best || d > *best)) best = d;
    }
  return best;
}

std::string Trace::DebugString() const {
  std::string out;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (const Probe& p : at(ttl).probes) {
      auto ms = [&](TimePoint t) {
        return std::to_string((t - start_) / std::chrono::milliseconds(1));
      };
      out +=
          "  ttl " + std::to_string(ttl) + " #" + std::to_string(p.attempt) +
          (p.kind == ProbeKind::kTcpSyn ? " syn" : " echo") + " sent " + ms(p.sent) +
          (p.answered ? " answered +" + std::to_string(p.rtt / std::chrono::microseconds(1)) + "us"
                      : " silent") +
          (p.late ? " late" : "") +
          (p.controls >= 0
               ? " controls " + std::to_string(p.controls_ttl) + "#" + std::to_string(p.controls)
               : "") +
          "\n";
    }
  return out;
}

std::vector<std::pair<int, TimePoint>> Trace::TakeStarvedTtls() {
  std::vector<std::pair<int, TimePoint>> out;
  out.swap(starved_ttls_);
  return out;
}

std::vector<int> Trace::SilentPassedTtls() const {
  std::vector<int> out;
  int last = TerminalTtl();
  if (last == 0) last = LastAnsweredTtl();
  for (int ttl = settings_.first_hop; ttl < last; ++ttl) {
    const TtlState& t = at(ttl);
    bool syn_sent = std::any_of(t.probes.begin(), t.probes.end(), [](const Probe& p) {
      return p.kind == ProbeKind::kTcpSyn && !p.failed;
    });
    if (syn_sent && !t.syn_answered()) out.push_back(ttl);
  }
  return out;
}

Trace::Silence Trace::SilenceAt(int ttl, const HopBook& book, bool v6, TimePoint now) const {
  const TtlState& t = at(ttl);
  int last = LastAnsweredTtl();
  auto vouched = [&](const Probe& syn, ProbeKind kind, int from_ttl) {
    for (const Probe& c : at(from_ttl).probes)
      if (c.kind == kind && c.answered && !c.late && c.controls_ttl == ttl &&
          c.controls == syn.attempt)
        return true;
    return false;
  };
  bool echo_answered = false;
  int vouched_silences = 0;
  int starved_groups = 0;  // finished groups at this TTL that vouched for nothing
  for (const Probe& p : t.probes) {
    if (p.kind == ProbeKind::kIcmpEcho && p.answered) echo_answered = true;
    if (p.kind != ProbeKind::kTcpSyn || p.answered || p.outstanding || p.failed) continue;
    if (MayHaveLostAnswer(p.sent)) continue;  // its answer may be among the lost
    // Router `ttl` had ICMP budget right after this SYN, and so had the last
    // responding hop: the SYN was dropped silently before `ttl`.
    if (vouched(p, ProbeKind::kIcmpEcho, ttl) &&
        (last == 0 || vouched(p, ProbeKind::kTcpSyn, last)))
      ++vouched_silences;
    else if (const Probe* echo = GroupEcho(ttl, p); echo && !echo->outstanding)
      ++starved_groups;
  }
  // Twice, from groups sent apart: a policer that refills in steps (Linux's
  // global budget refills every jiffy, with random jitter) can starve a SYN
  // and feed the control a moment later; twice in a few groups is rare enough.
  // Every group that met an empty budget was such a chance, and silent rounds
  // go on for a while (OutOfRounds): each 8 of them call for one more.
  if (vouched_silences >= kConfirmations + starved_groups / 8) return Silence::kConfirmed;
  if (echo_answered || book.KnownAnswerer(v6, ttl, now)) return Silence::kUnconfirmed;
  if (book.KnownSilent(v6, ttl, now)) return Silence::kSilentRouter;
  // Nothing known about this TTL: two rounds of silent pairs, a policer's
  // refill apart, make it a router that does not answer, as traceroute reads it.
  return silent_pairs_[static_cast<std::size_t>(ttl)] >= 2 ? Silence::kSilentRouter
                                                           : Silence::kUnknown;
}

Trace::Judgement Trace::Judge(TimePoint now, const HopBook& book, bool v6) const {
  Judgement j;
  int last = LastAnsweredTtl();
  int to =
      std::min(std::max(last, settings_.first_hop - 1) + settings_.gap_limit, settings_.max_hops);
  if (auto d = DistanceEstimate()) to = std::min(to, std::max(*d, last + 1));
  for (int ttl = std::max(last + 1, settings_.first_hop); ttl <= to; ++ttl) {
    switch (SilenceAt(ttl, book, v6, now)) {
      case Silence::kConfirmed:
        j.confirmed = j.need.empty();
        return j;
      case Silence::kSilentRouter:
        break;
      case Silence::kUnknown:
        j.need.push_back(ttl);
        break;
      case Silence::kUnconfirmed:
        // A router known to answer: its silence must be confirmed whatever
        // lies beyond it, so probing further would only spend budgets.
        j.need.push_back(ttl);
        j.known_answerer = ttl;
        return j;
    }
  }
  // Nobody after the last answer ever answers: traceroute's own reading.
  j.confirmed = j.need.empty();
  return j;
}

void Trace::SendPairs(const std::vector<int>& ttls, int known_answerer) {
  int last = LastAnsweredTtl();
  quick_controls_ttl_ = known_answerer;
  // Each TTL's groups are queued one TTL apart, so the engine's round robin
  // over all traces spaces them in time.
  for (int group = 0; group < kConfirmations; ++group)
    for (int ttl : ttls) {
      Queue(ttl, ProbeKind::kTcpSyn);
      if (!settings_.echo) continue;  // without controls: a plain re-probe
      // The last hop's control costs its router an answer; a TTL nobody
      // knows that has already stayed silent to a whole group is likely a
      // silent router, which no control can confirm, so it gets none.
      if (last != 0 && (ttl == known_answerer || silent_pairs_[static_cast<std::size_t>(ttl)] == 0))
        Queue(last, ProbeKind::kTcpSyn, /*follows_previous=*/true, ttl);
      Queue(ttl, ProbeKind::kIcmpEcho, /*follows_previous=*/true, ttl);
    }
}

const Trace::Probe* Trace::GroupEcho(int ttl, const Probe& syn) const {
  for (const Probe& c : at(ttl).probes)
    if (c.kind == ProbeKind::kIcmpEcho && c.controls == syn.attempt) return &c;
  return nullptr;
}

std::optional<TimePoint> Trace::PresumedSilence(const Probe& p) const {
  if (max_rtt_ <= Duration::zero()) return std::nullopt;
  return p.sent + 4 * max_rtt_ + kReorderMargin * 2;
}

TimePoint Trace::Deadline(int ttl, const Probe& p) const {
  TimePoint deadline = p.sent + settings_.timeout;
  auto presumed = [&](const Probe& q) {
    auto when = PresumedSilence(q);
    return when ? std::min(deadline, *when) : deadline;
  };
  // A control of this round's group for a TTL whose router is known to
  // answer (the echo at t, the SYN at L) that does not come back within a few
  // round trips found its router's budget empty, or was lost: either way the
  // group vouches for nothing (an answer after this is late, and late
  // controls never vouch), so waiting the full timeout would only add time to
  // a round that has failed. Where the router is not known to answer, the
  // silence of the whole group is evidence of a silent router (silent_pairs_),
  // and gets the full timeout.
  if (p.controls >= 0)
    return p.controls_ttl == quick_controls_ttl_ && p.sent >= round_start_ ? presumed(p) : deadline;
  if (p.kind != ProbeKind::kTcpSyn) return deadline;
  if (const Probe* c = GroupEcho(ttl, p)) {
    // A SYN of a control group: once the echo sent right after it came back
    // from the same TTL, the SYN's own answer (had it reached that router)
    // would have come first, from the same place. Waiting one more echo
    // round trip covers reordering; the full timeout would only add time.
    if (c->answered && !c->late) {
      Duration margin = std::max<Duration>(c->rtt, kReorderMargin);
      return std::min(deadline, c->sent + c->rtt + margin);
    }
    // Its echo was given up on: the group failed, and the SYN's silence can
    // no longer be vouched for (an answer it draws still counts, late).
    if (!c->outstanding) return presumed(*c);
  }
  // Discovery: past a few round trips of the slowest answer so far, a silence
  // is presumed; confirmation asks again before anyone is blamed, and a late
  // answer is still taken while the trace runs.
  if (mode_ == TraceMode::kDiscover) return presumed(p);
  return deadline;
}

void Trace::OnTick(TimePoint now, const HopBook& book, bool v6) {
  if (mode_ == TraceMode::kDone) return;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (Probe& p : at(ttl).probes)
      if (p.outstanding && now >= Deadline(ttl, p)) p.outstanding = false;
  switch (mode_) {
    case TraceMode::kDiscover:
      TickDiscover(now, book, v6);
      break;
    case TraceMode::kConfirm:
      TickConfirm(now, book, v6);
      break;
    case TraceMode::kWaitPolicer:
      TickWaitPolicer(now, book, v6);
      break;
    case TraceMode::kDone:
      break;
  }
}

void Trace::TickDiscover(TimePoint now, const HopBook& book, bool v6) {
  int terminal = TerminalTtl();
  if (terminal == 0) {
    if (!send_queue_.empty() || AnyOutstanding()) return;
    if (Refreshing()) {
      // Answers were lost unread (a full capture buffer): this silence may be
      // an answer that was news; only a full round can tell.
      if (replies_lost()) {
        Escalate();
        return;
      }
      if (settings_.round == TraceSettings::Round::kRefreshEnd &&
          settings_.known_reply != ReplyType::kUnreachable) {
        // The destination answered the port before and is silent now: news.
        Escalate();
        return;
      }
      // Nothing contradicts the confirmed verdict (nothing answered from
      // beyond the known last hop, or an unreachable policing may have
      // swallowed): unconfirmed this round, by design.
      unconfirmed_ttl_ = settings_.round == TraceSettings::Round::kRefreshEnd
                             ? settings_.known_last_hop
                             : settings_.known_last_hop + 1;
      Conclude(false);
      return;
    }
    EnterConfirm(now, book, v6);
    return;
  }
  // Done once nothing at or below the terminal TTL can still change the picture.
  for (int ttl = settings_.first_hop; ttl <= terminal; ++ttl)
    for (const Probe& p : at(ttl).probes)
      if (p.outstanding && p.kind == ProbeKind::kTcpSyn) return;
  bool queued_below =
      std::any_of(send_queue_.begin(), send_queue_.end(), [terminal](const ProbeRequest& r) {
        return r.kind == ProbeKind::kTcpSyn && r.ttl <= terminal;
      });
  if (queued_below) return;
  // An unreachable's sender may sit one hop closer than the first probe it
  // answered (Linux decrements before FORWARD rejects). If that hop is silent
  // and the sender never answered time-exceeded, ask it once more.
  const Probe* first = nullptr;
  for (const Probe& p : at(terminal).probes)
    if (p.answered && p.kind == ProbeKind::kTcpSyn && IsTerminal(p.reply.type)) {
      first = &p;
      break;
    }
  // (A refresh that got the known answer knows the sender's distance already.)
  if (first && first->reply.type == ReplyType::kUnreachable && !asked_unreachable_sender_ &&
      !Refreshing()) {
    asked_unreachable_sender_ = true;
    int below = terminal - 1;
    // The quoted TTL names the sender's distance when the error came from a
    // probe that outlived the path (the destination probe).
    int distance = terminal;
    if (first->reply.quoted_ttl && *first->reply.quoted_ttl >= 1 &&
        *first->reply.quoted_ttl <= terminal)
      distance = terminal - *first->reply.quoted_ttl;
    else if (auto d = UnquotedSenderDistance(first->reply, terminal))
      distance = *d;
    if (distance < terminal) below = std::max(distance, settings_.first_hop);
    if (below >= settings_.first_hop && below < terminal && !at(below).syn_answered()) {
      ++rounds_;
      Queue(below, ProbeKind::kTcpSyn);
      return;
    }
  }
  Conclude(true);
}

void Trace::EnterConfirm(TimePoint now, const HopBook& book, bool v6) {
  Judgement j = Judge(now, book, v6);
  if (j.confirmed) {
    Conclude(true);
    return;
  }
  if (OutOfRounds(j, now)) return;
  mode_ = TraceMode::kConfirm;
  StartRound(j, now);
}

bool Trace::OutOfRounds(const Judgement& j, TimePoint now) {
  // Silent rounds end quickly (their controls are given up on after a few
  // round trips), so their count alone would give a policer that refills once
  // a second (Linux's per-destination limit) less time than it needs: the
  // trace also waits out max_retries x (timeout + backoff) from its first
  // silent round, as many rounds as that takes (a policed ask costs the
  // router nothing).
  bool patient = silent_rounds_ == 0 ||
                 now >= first_silent_round_ +
                            settings_.max_retries * (settings_.timeout + settings_.retry_backoff);
  if (rounds_ < settings_.max_rounds && (silent_rounds_ < settings_.max_retries || !patient))
    return false;
  unconfirmed_ttl_ = j.need.front();
  Conclude(false);
  return true;
}

void Trace::StartRound(const Judgement& j, TimePoint now) {
  ++rounds_;
  round_start_ = now;
  evidence_at_round_start_ = Evidence();
  SendPairs(j.need, j.known_answerer);
}

void Trace::TickConfirm(TimePoint now, const HopBook& book, bool v6) {
  if (!send_queue_.empty() || AnyOutstanding()) return;
  // A terminal answer in this round ends the trace as discovery would. (A
  // time-exceeded moves the last hop: Judge walks on from there.)
  if (TerminalTtl() != 0) {
    mode_ = TraceMode::kDiscover;
    TickDiscover(now, book, v6);
    return;
  }
  // Per TTL of this round: a group that drew nothing from that TTL, neither
  // for the SYN nor for its echo, counts toward "this TTL never answers"
  // (once per round: the groups of a round leave moments apart, with no
  // refill between them). It matters only for TTLs that never answered anyone
  // in either family (HopBook): a policer answers its burst now and then.
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl) {
    const TtlState& t = at(ttl);
    bool silent_group = false;
    for (const Probe& p : t.probes) {
      if (p.kind != ProbeKind::kTcpSyn || p.sent < round_start_ || p.failed || p.controls >= 0 ||
          MayHaveLostAnswer(p.sent))
        continue;
      const Probe* echo = GroupEcho(ttl, p);
      if (!p.answered && !(echo && echo->answered)) silent_group = true;
    }
    if (silent_group && silent_pairs_[static_cast<std::size_t>(ttl)] < 255)
      ++silent_pairs_[static_cast<std::size_t>(ttl)];
  }
  // Controls that went unanswered from routers known to answer: their ICMP
  // budget was empty. The engine paces that TTL down (HopPacer).
  int last_hop = LastAnsweredTtl();
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (const Probe& c : at(ttl).probes) {
      if (c.controls < 0 || c.sent < round_start_ || c.answered || c.failed) continue;
      if (ttl == last_hop || book.KnownAnswerer(v6, ttl, now))
        starved_ttls_.push_back({ttl, c.sent});
    }
  // A round that neither moved the last hop nor confirmed anything new was
  // spent against empty budgets (or silent routers).
  bool all_silent = Evidence() == evidence_at_round_start_;
  // Silent rounds are counted for one last hop. Once it moves, which TTL after it
  // is silent, and why, is a new question: rounds spent silent before, while the
  // trace did not yet know where its path ends (a router starved by other
  // traces), must not cut the patience this one gets (max_rounds still caps all).
  if (last_hop != silent_rounds_last_hop_) {
    silent_rounds_ = 0;
    silent_rounds_last_hop_ = last_hop;
  }
  if (all_silent && silent_rounds_++ == 0) first_silent_round_ = round_start_;
  Judgement j = Judge(now, book, v6);
  if (j.confirmed) {
    Conclude(true);
    return;
  }
  if (OutOfRounds(j, now)) return;
  if (!all_silent) {
    // Progress (an answer somewhere): ask again at once.
    StartRound(j, now);
    return;
  }
  // xorshift64: a little jitter (0.75x to 1.25x) without a clock or a global RNG,
  // so that many traces do not reach a policing router at the same instant.
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  double jitter = 0.75 + 0.5 * static_cast<double>(jitter_state_ % 1024) / 1024.0;
  // Doubling stops at 4x: Linux refills one ICMP token per second, so waiting
  // longer only wastes time.
  auto base = settings_.retry_backoff * (1 << std::clamp(silent_rounds_ - 1, 0, 2));
  mode_ = TraceMode::kWaitPolicer;
  wait_until_ = now + std::chrono::duration_cast<Duration>(base * jitter);
}

void Trace::TickWaitPolicer(TimePoint now, const HopBook& book, bool v6) {
  if (now < wait_until_) return;
  Judgement j = Judge(now, book, v6);
  if (j.confirmed) {
    Conclude(true);
    return;
  }
  mode_ = TraceMode::kConfirm;
  StartRound(j, now);
}

int Trace::Evidence() const {
  // What can change a judgement: the last hop moving, a TTL's echo answering
  // (its router answers), a SYN's silence vouched for by both controls.
  int evidence = LastAnsweredTtl() * 100000;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl) {
    const TtlState& t = at(ttl);
    bool echo_answered = false;
    for (const Probe& p : t.probes) {
      if (p.kind == ProbeKind::kIcmpEcho && p.answered) echo_answered = true;
      if (p.kind != ProbeKind::kTcpSyn || p.answered || p.controls >= 0 ||
          MayHaveLostAnswer(p.sent))
        continue;
      int controls = 0;
      for (const TtlState& other : ttls_)
        for (const Probe& c : other.probes)
          if (c.answered && !c.late && c.controls_ttl == ttl && c.controls == p.attempt) ++controls;
      if (controls >= 2) ++evidence;
    }
    if (echo_answered) evidence += 100;
  }
  return evidence;
}

std::optional<TimePoint> Trace::NextDeadline() const {
  if (mode_ == TraceMode::kDone) return std::nullopt;
  std::optional<TimePoint> next;
  if (mode_ == TraceMode::kWaitPolicer) next = wait_until_;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (const Probe& p : at(ttl).probes)
      if (p.outstanding) {
        TimePoint d = Deadline(ttl, p);
        if (!next || d < *next) next = d;
      }
  return next;
}

void Trace::Conclude(bool confirmed) {
  mode_ = TraceMode::kDone;
  confirmed_ = confirmed;
  send_queue_.clear();
}

void Trace::FillResult(const packet::IpAddress& destination, TraceResult& result) const {
  int terminal = TerminalTtl();
  int last = LastAnsweredTtl();
  int shown_to = terminal != 0
                     ? std::min(terminal, window_)
                     : std::min({settings_.max_hops, std::max(window_, last),
                                 std::max(last, settings_.first_hop - 1) + settings_.gap_limit});
  bool v6 = destination.is_v6();
  const Probe* terminal_probe = nullptr;

  auto make_hop = [&](int ttl) {
    const TtlState& t = at(ttl);
    Hop hop;
    hop.ttl = ttl;
    const Probe* chosen = nullptr;
    for (const Probe& p : t.probes) {
      if (p.kind != ProbeKind::kTcpSyn) continue;  // echo controls are the ping side's
      ProbeSample s;
      if (p.answered) {
        s.rtt_ms = std::chrono::duration<double, std::milli>(p.rtt).count();
        s.from = p.reply.from;
        // Prefer a terminal reply at this TTL; otherwise the first answer.
        if (!chosen || (IsTerminal(p.reply.type) && !IsTerminal(chosen->reply.type))) chosen = &p;
      }
      hop.probes.push_back(s);
    }
    if (chosen) {
      hop.address = chosen->reply.from;
      hop.mpls = chosen->reply.mpls;
      switch (chosen->reply.type) {
        case ReplyType::kTimeExceeded:
          hop.reply = HopReply::kTimeExceeded;
          break;
        case ReplyType::kSynAck:
          hop.reply = HopReply::kSynAck;
          break;
        case ReplyType::kRst:
          hop.reply = HopReply::kRst;
          break;
        case ReplyType::kEchoReply:
          hop.reply = HopReply::kEchoReply;
          break;
        case ReplyType::kUnreachable:
          hop.reply = HopReply::kUnreachable;
          hop.marker = UnreachableMarker(v6, chosen->reply.icmp_code);
          break;
      }
      if (ttl == terminal) terminal_probe = chosen;
    }
    return hop;
  };
  result.hops.clear();
  for (int ttl = settings_.first_hop; ttl <= shown_to; ++ttl) result.hops.push_back(make_hop(ttl));
  // Only the probe that outlived the path answered: show its row after the
  // window instead of a column of unprobed TTLs.
  if (terminal > shown_to) {
    result.hops.push_back(make_hop(terminal));
    // The row of the probe that outlived the path stands at the distance its
    // reply TTL tells, not at max_hops; a router's unreachable (no SYN went
    // past its sender's distance) right after the window, as traceroute shows
    // it: the first TTL that draws the error instead of time-exceeded.
    const Probe* end = nullptr;
    for (const Probe& p : at(terminal).probes)
      if (p.answered && p.kind == ProbeKind::kTcpSyn && IsTerminal(p.reply.type)) {
        end = &p;
        break;
      }
    if (end && end->reply.type == ReplyType::kUnreachable && end->reply.from != destination)
      result.hops.back().ttl = shown_to + 1;
    else if (auto d = DistanceEstimate(); d && *d > shown_to && *d < terminal)
      result.hops.back().ttl = *d;
  }

  result.refreshed = Refreshing();
  result.probes_sent = probes_sent_;
  result.retry_rounds = rounds_;
  result.last_responding_hop.reset();
  result.blocked_hop.reset();
  result.destination_reached = false;
  result.blocked_hop_confirmed = true;
  result.unconfirmed_hop_ttl.reset();

  if (!terminal_probe) {
    result.outcome = Outcome::kFiltered;
    if (last != 0) {
      const Hop* h = nullptr;
      for (const Hop& hop : result.hops)
        if (hop.ttl == last) h = &hop;
      HopRef ref = MakeHopRef(last, *h->address);
      result.last_responding_hop = ref;
      // The filter sits on the last hop that answers or just after it; that hop
      // is the one a person can name and ask about, once the silence after it
      // is known not to be ICMP policing.
      if (confirmed_) result.blocked_hop = ref;
    }
    if (!confirmed_) {
      result.blocked_hop_confirmed = false;
      result.unconfirmed_hop_ttl = unconfirmed_ttl_;
    }
    return;
  }

  const packet::Reply& r = terminal_probe->reply;
  result.destination_reached = r.from == destination;
  result.reply_ttl = r.reply_ttl;
  if (r.type == ReplyType::kSynAck || r.type == ReplyType::kRst ||
      r.type == ReplyType::kEchoReply) {
    // For an echo trace "open" means the destination answered the ping.
    result.outcome = r.type == ReplyType::kRst ? Outcome::kClosed : Outcome::kOpen;
    result.last_responding_hop =
        MakeHopRef(result.hops.empty() ? terminal : result.hops.back().ttl, r.from);
    return;
  }

  result.outcome = IsProhibitedCode(v6, r.icmp_code) ? Outcome::kProhibited : Outcome::kUnreachable;
  result.icmp_type = r.icmp_type;
  result.icmp_code = r.icmp_code;
  result.marker = UnreachableMarker(v6, r.icmp_code);
  // The sender's own distance: where it answered time-exceeded, if it did;
  // otherwise the lowest TTL that drew its error, corrected by the quoted
  // residual TTL, which bounds the distance from above.
  int distance = 0;
  int first_error = 0;
  int residual_bound = 0;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl) {
    for (const Probe& p : at(ttl).probes) {
      if (!p.answered || p.reply.from != r.from) continue;
      if (p.reply.type == ReplyType::kTimeExceeded && distance == 0) distance = ttl;
      if (p.reply.type == ReplyType::kUnreachable) {
        if (first_error == 0) first_error = ttl;
        if (auto bound = QuotedSenderBound(p.reply, ttl, destination)) {
          if (residual_bound == 0 || *bound < residual_bound) residual_bound = *bound;
        } else if (auto d = UnquotedSenderDistance(p.reply, ttl)) {
          if (residual_bound == 0 || *d < residual_bound) residual_bound = *d;
        }
      }
    }
  }
  if (distance == 0) {
    distance = first_error;
    if (residual_bound >= settings_.first_hop && residual_bound < distance)
      distance = residual_bound;
  }
  HopRef ref = MakeHopRef(distance, r.from);
  result.last_responding_hop = ref;
  result.blocked_hop = ref;
}

std::optional<TraceResult> Trace::PingResult(const packet::IpAddress& destination) const {
  if (!settings_.ping) return std::nullopt;
  TraceResult r;
  bool any = false;
  const Probe* reply = nullptr;
  int reply_at = 0;
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl) {
    Hop hop;
    hop.ttl = ttl;
    for (const Probe& p : at(ttl).probes) {
      if (p.kind != ProbeKind::kIcmpEcho || p.failed) continue;
      any = true;
      ProbeSample s;
      if (p.answered) {
        s.rtt_ms = std::chrono::duration<double, std::milli>(p.rtt).count();
        s.from = p.reply.from;
        if (!hop.address) {
          hop.address = p.reply.from;
          hop.reply = p.reply.type == ReplyType::kEchoReply ? HopReply::kEchoReply
                                                            : HopReply::kTimeExceeded;
        }
        if (p.reply.type == ReplyType::kEchoReply && !reply) {
          reply = &p;
          reply_at = ttl;
        }
      }
      hop.probes.push_back(s);
    }
    if (!hop.probes.empty()) r.hops.push_back(std::move(hop));
  }
  if (!any) return std::nullopt;
  r.address = destination;
  r.probes_sent = 0;
  if (reply) {
    r.outcome = Outcome::kOpen;
    r.destination_reached = true;
    r.reply_ttl = reply->reply.reply_ttl;
    // Echo probes go out at few TTLs: the destination's distance is the one its
    // reply TTL tells, unless a lower probe reached it.
    int distance = std::min(reply_at, SenderDistanceFromReplyTtl(reply->reply.reply_ttl));
    r.last_responding_hop = MakeHopRef(std::max(distance, 1), destination);
  } else {
    r.outcome = Outcome::kFiltered;
    for (const Hop& h : r.hops)
      if (h.address) r.last_responding_hop = MakeHopRef(h.ttl, *h.address);
  }
  return r;
}

}  // namespace portpath::probe
