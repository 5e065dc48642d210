#include "probe/trace.h"

#include <algorithm>

namespace portpath::probe {

using packet::ReplyType;

int Hop::answered() const {
  return static_cast<int>(std::count_if(probes.begin(), probes.end(),
                                        [](const ProbeSample& s) { return s.rtt_ms.has_value(); }));
}

std::string_view ToString(Outcome o) {
  switch (o) {
    case Outcome::kOpen: return "open";
    case Outcome::kClosed: return "closed";
    case Outcome::kFiltered: return "filtered";
    case Outcome::kProhibited: return "prohibited";
    case Outcome::kUnreachable: return "unreachable";
    case Outcome::kError: return "error";
    case Outcome::kResetByMiddlebox: return "reset_by_middlebox";
    case Outcome::kAnsweredByMiddlebox: return "answered_by_middlebox";
  }
  return "error";
}

std::string_view ToString(HopReply r) {
  switch (r) {
    case HopReply::kNone: return "none";
    case HopReply::kTimeExceeded: return "time_exceeded";
    case HopReply::kSynAck: return "syn_ack";
    case HopReply::kRst: return "rst";
    case HopReply::kUnreachable: return "unreachable";
    case HopReply::kEchoReply: return "echo_reply";
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
      case 0: return "!N";
      case 2: return "!S";
      case 3: return "!H";
      case 4: return "!P";
      default: return std::string("!").append(std::to_string(code));
    }
  }
  switch (code) {
    case 0: case 6: case 8: case 11: return "!N";
    case 1: case 7: case 12: return "!H";
    case 2: case 3: return "!P";
    case 4: return "!F";
    case 5: return "!S";
    case 14: return "!V";
    case 15: return "!C";
    default: return std::string("!").append(std::to_string(code));
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
}  // namespace

bool Trace::TtlState::any_outstanding() const {
  return std::any_of(probes.begin(), probes.end(), [](const Probe& p) { return p.outstanding; });
}

Trace::Trace(TraceSettings settings, TimePoint start, std::uint64_t jitter_seed)
    : settings_(settings), start_(start), jitter_state_(jitter_seed | 1) {
  settings_.first_hop = std::clamp(settings_.first_hop, 1, 255);
  settings_.max_hops = std::clamp(settings_.max_hops, settings_.first_hop, 255);
  settings_.probes_per_hop = std::clamp(settings_.probes_per_hop, 1, 10);
  settings_.gap_limit = std::max(settings_.gap_limit, 1);
  ttls_.resize(static_cast<std::size_t>(settings_.max_hops - settings_.first_hop + 1));
  // TTL-major order: the low TTLs go first so that, once the destination
  // answers, the probes still queued for higher TTLs can be cancelled.
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    QueueTtl(ttl, settings_.probes_per_hop);
}

void Trace::QueueTtl(int ttl, int count) {
  for (int i = 0; i < count; ++i) send_queue_.push_back(ttl);
}

std::optional<ProbeRequest> Trace::NextProbe(TimePoint /*now*/) {
  if (state_ != TraceState::kProbing) return std::nullopt;
  int terminal = TerminalTtl();
  while (!send_queue_.empty()) {
    int ttl = send_queue_.front();
    // Beyond a terminal reply every probe would only draw the same answer.
    // The attempt number is 8 bits in the probe id.
    if ((terminal != 0 && ttl > terminal) || at(ttl).probes.size() >= 255) {
      send_queue_.pop_front();
      continue;
    }
    return ProbeRequest{static_cast<std::uint8_t>(ttl),
                        static_cast<std::uint8_t>(at(ttl).probes.size())};
  }
  return std::nullopt;
}

void Trace::OnSent(ProbeRequest probe, TimePoint when) {
  send_queue_.pop_front();
  Probe p;
  p.attempt = probe.attempt;
  p.sent = when;
  p.outstanding = true;
  at(probe.ttl).probes.push_back(p);
  ++probes_sent_;
}

void Trace::OnSendFailed(ProbeRequest probe) {
  send_queue_.pop_front();
  Probe p;
  p.attempt = probe.attempt;
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
  if (p.answered) return ReplyStatus::kDuplicate;
  // A TCP answer must come from the destination itself; the matcher checked the
  // flow, this guards the meaning ("destination reached").
  if ((reply.type == ReplyType::kSynAck || reply.type == ReplyType::kRst ||
       reply.type == ReplyType::kEchoReply) &&
      reply.from != destination)
    return ReplyStatus::kUnknownProbe;
  // A reply after its timeout is still accepted while the trace runs: it is a
  // real answer, just slow, and dropping it would invent a silent hop.
  p.answered = true;
  p.outstanding = false;
  p.rtt = when - p.sent;
  p.reply = reply;
  ++t.answered;
  ++total_answers_;
  return ReplyStatus::kAccepted;
}

bool Trace::AnyOutstanding() const {
  return std::any_of(ttls_.begin(), ttls_.end(), [](const TtlState& t) { return t.any_outstanding(); });
}

int Trace::TerminalTtl() const {
  for (int ttl = settings_.first_hop; ttl <= settings_.max_hops; ++ttl)
    for (const Probe& p : at(ttl).probes)
      if (p.answered && IsTerminal(p.reply.type)) return ttl;
  return 0;
}

int Trace::LastAnsweredTtl() const {
  for (int ttl = settings_.max_hops; ttl >= settings_.first_hop; --ttl)
    if (at(ttl).answered > 0) return ttl;
  return 0;
}

bool Trace::LossEvident(int last_answered) const {
  if (last_answered == 0) return true;  // not even the first hop: suspicious
  if (total_answers_ > answers_at_last_retry_) return true;  // the last retry recovered answers
  for (int ttl = settings_.first_hop; ttl <= last_answered; ++ttl) {
    const TtlState& t = at(ttl);
    int sent = static_cast<int>(std::count_if(t.probes.begin(), t.probes.end(),
                                              [](const Probe& p) { return !p.failed; }));
    if (t.answered < sent) return true;  // a silent or half-silent hop before the last answer
  }
  return false;
}

void Trace::OnTick(TimePoint now, bool policing_seen) {
  if (state_ == TraceState::kDone) return;
  for (TtlState& t : ttls_)
    for (Probe& p : t.probes)
      if (p.outstanding && now - p.sent >= settings_.timeout) p.outstanding = false;
  if (state_ == TraceState::kBackoff) {
    if (now < backoff_until_) return;
    state_ = TraceState::kProbing;
  }

  int terminal = TerminalTtl();
  if (terminal != 0) {
    // Done once nothing at or below the terminal TTL can still change the picture.
    for (int ttl = settings_.first_hop; ttl <= terminal; ++ttl)
      if (at(ttl).any_outstanding()) return;
    bool queued_below = std::any_of(send_queue_.begin(), send_queue_.end(),
                                    [terminal](int ttl) { return ttl <= terminal; });
    if (queued_below) return;
    // An unreachable's sender may sit one hop closer than the first probe it
    // answered (Linux decrements before FORWARD rejects). If that hop is silent
    // and the sender never answered time-exceeded, ask it once more.
    const Probe* first = nullptr;
    for (const Probe& p : at(terminal).probes)
      if (p.answered && IsTerminal(p.reply.type)) { first = &p; break; }
    if (first && first->reply.type == ReplyType::kUnreachable && retries_done_ == 0 &&
        terminal > settings_.first_hop && at(terminal - 1).answered == 0) {
      ++retries_done_;
      answers_at_last_retry_ = total_answers_;
      QueueTtl(terminal - 1, 1);
      return;
    }
    Conclude(now);
    return;
  }

  if (!send_queue_.empty() || AnyOutstanding()) return;
  int last = LastAnsweredTtl();
  int from = std::max(last + 1, settings_.first_hop);
  int to = std::min(last + settings_.gap_limit, settings_.max_hops);
  if (retries_done_ > 0 && total_answers_ == answers_at_last_retry_) ++unanswered_rounds_;
  if (retries_done_ > 0 && total_answers_ > answers_at_last_retry_) recovered_by_retry_ = true;
  // "No hop answered at all" is the strongest claim a trace can make, and under
  // ICMP policing the likeliest to be wrong: give it twice the patience.
  // Likewise when policing is proven, here or in another trace of the engine.
  int budget = (last == 0 || policing_seen || recovered_by_retry_) ? 2 * settings_.max_retries
                                                                   : settings_.max_retries;
  if (from > to || unanswered_rounds_ >= budget ||
      retries_done_ >= settings_.max_rounds || (retries_done_ > 0 && !LossEvident(last))) {
    Conclude(now);
    return;
  }
  if (retries_done_ > 0) {
    // xorshift64: a little jitter (0.75x to 1.25x) without a clock or a global RNG.
    jitter_state_ ^= jitter_state_ << 13;
    jitter_state_ ^= jitter_state_ >> 7;
    jitter_state_ ^= jitter_state_ << 17;
    double jitter = 0.75 + 0.5 * static_cast<double>(jitter_state_ % 1024) / 1024.0;
    // Doubling stops at 4x: Linux refills one ICMP token per second, so waiting
    // longer only wastes time.
    auto base = settings_.retry_backoff * (1 << std::clamp(unanswered_rounds_ - 1, 0, 2));
    state_ = TraceState::kBackoff;
    backoff_until_ = now + std::chrono::duration_cast<Duration>(base * jitter);
  }
  ++retries_done_;
  answers_at_last_retry_ = total_answers_;
  for (int ttl = from; ttl <= to; ++ttl) QueueTtl(ttl, 1);
}

std::optional<TimePoint> Trace::NextDeadline() const {
  if (state_ == TraceState::kDone) return std::nullopt;
  std::optional<TimePoint> next;
  if (state_ == TraceState::kBackoff) next = backoff_until_;
  for (const TtlState& t : ttls_)
    for (const Probe& p : t.probes)
      if (p.outstanding && (!next || p.sent + settings_.timeout < *next))
        next = p.sent + settings_.timeout;
  return next;
}

void Trace::Conclude(TimePoint /*now*/) {
  state_ = TraceState::kDone;
  send_queue_.clear();
}

void Trace::FillResult(const packet::IpAddress& destination, TraceResult& result) const {
  int terminal = TerminalTtl();
  int last = LastAnsweredTtl();
  int shown_to = terminal != 0 ? terminal
                               : std::min(settings_.max_hops,
                                          std::max(last, settings_.first_hop - 1) + settings_.gap_limit);
  bool v6 = destination.is_v6();
  const Probe* terminal_probe = nullptr;

  result.hops.clear();
  for (int ttl = settings_.first_hop; ttl <= shown_to; ++ttl) {
    const TtlState& t = at(ttl);
    Hop hop;
    hop.ttl = ttl;
    const Probe* chosen = nullptr;
    for (const Probe& p : t.probes) {
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
        case ReplyType::kTimeExceeded: hop.reply = HopReply::kTimeExceeded; break;
        case ReplyType::kSynAck: hop.reply = HopReply::kSynAck; break;
        case ReplyType::kRst: hop.reply = HopReply::kRst; break;
        case ReplyType::kEchoReply: hop.reply = HopReply::kEchoReply; break;
        case ReplyType::kUnreachable:
          hop.reply = HopReply::kUnreachable;
          hop.marker = UnreachableMarker(v6, chosen->reply.icmp_code);
          break;
      }
      if (ttl == terminal) terminal_probe = chosen;
    }
    result.hops.push_back(std::move(hop));
  }

  result.probes_sent = probes_sent_;
  result.retry_rounds = retries_done_;
  result.last_responding_hop.reset();
  result.blocked_hop.reset();
  result.destination_reached = false;

  if (!terminal_probe) {
    result.outcome = Outcome::kFiltered;
    if (last != 0) {
      const Hop& h = result.hops[static_cast<std::size_t>(last - settings_.first_hop)];
      HopRef ref = MakeHopRef(last, *h.address);
      result.last_responding_hop = ref;
      // The filter sits on the last hop that answers or just after it; that hop
      // is the one a person can name and ask about.
      result.blocked_hop = ref;
    }
    return;
  }

  const packet::Reply& r = terminal_probe->reply;
  result.destination_reached = r.from == destination;
  result.reply_ttl = r.reply_ttl;
  if (r.type == ReplyType::kSynAck || r.type == ReplyType::kRst || r.type == ReplyType::kEchoReply) {
    // For an echo trace "open" means the destination answered the ping.
    result.outcome = r.type == ReplyType::kRst ? Outcome::kClosed : Outcome::kOpen;
    result.last_responding_hop = MakeHopRef(terminal, r.from);
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
        if (p.reply.quoted_ttl && *p.reply.quoted_ttl >= 1 && *p.reply.quoted_ttl <= ttl) {
          // Errors raised after the forwarding decrement (a FORWARD-chain
          // reject, a failed neighbour lookup) quote TTL - distance; errors
          // raised before it (no route) and a host's own errors quote one more.
          bool after_decrement = p.reply.from != destination &&
                                 (IsProhibitedCode(v6, p.reply.icmp_code) ||
                                  p.reply.icmp_code == (v6 ? 3 : 1));
          int bound = ttl - *p.reply.quoted_ttl + (after_decrement ? 0 : 1);
          if (residual_bound == 0 || bound < residual_bound) residual_bound = bound;
        }
      }
    }
  }
  if (distance == 0) {
    distance = first_error;
    if (residual_bound >= settings_.first_hop && residual_bound < distance) distance = residual_bound;
  }
  HopRef ref = MakeHopRef(distance, r.from);
  result.last_responding_hop = ref;
  result.blocked_hop = ref;
}

}  // namespace portpath::probe
