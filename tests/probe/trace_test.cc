#include "probe/trace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "probe/verdict.h"

namespace portpath::probe {
namespace {

using namespace std::chrono_literals;
using packet::IpAddress;
using packet::Reply;
using packet::ReplyType;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }
TimePoint At(Duration d) { return TimePoint{} + d; }

const IpAddress kDest = Ip("192.0.2.10");
// Hop n (TTL n) answers from kHop[n]; the lab's addresses (tests/lab/lab.sh), then more.
const IpAddress kHop[] = {Ip("0.0.0.0"),      Ip("10.0.0.2"),     Ip("10.0.1.2"),
                          Ip("10.0.2.2"),     Ip("198.51.100.2"), Ip("198.51.100.18"),
                          Ip("203.0.113.2"),  Ip("203.0.113.66"), Ip("203.0.113.67"),
                          Ip("203.0.113.68"), Ip("203.0.113.69"), Ip("203.0.113.70"),
                          Ip("203.0.113.71"), Ip("203.0.113.72"), Ip("203.0.113.73"),
                          Ip("203.0.113.74"), Ip("203.0.113.75")};

Reply TimeExceeded(const IpAddress& from) {
  Reply r;
  r.type = ReplyType::kTimeExceeded;
  r.from = from;
  r.icmp_type = 11;
  r.quoted_ttl = 1;
  return r;
}
Reply Unreachable(const IpAddress& from, int code, int quoted_ttl) {
  Reply r;
  r.type = ReplyType::kUnreachable;
  r.from = from;
  r.icmp_type = 3;
  r.icmp_code = static_cast<std::uint8_t>(code);
  r.quoted_ttl = static_cast<std::uint8_t>(quoted_ttl);
  return r;
}
/// The destination's SYN-ACK or RST; it started at TTL 64 and crossed dist - 1 routers.
Reply Tcp(ReplyType type, int dist, const IpAddress& from = kDest) {
  Reply r;
  r.type = type;
  r.from = from;
  r.reply_ttl = static_cast<std::uint8_t>(65 - dist);
  return r;
}
/// The destination's answer to an ICMP echo probe.
Reply EchoReply(int dist) {
  Reply r;
  r.type = ReplyType::kEchoReply;
  r.from = kDest;
  r.icmp_type = 0;
  r.reply_ttl = static_cast<std::uint8_t>(65 - dist);
  r.probe.protocol = packet::kProtoIcmp;
  return r;
}

struct Sent {
  int ttl;
  int attempt;
  ProbeKind kind;
  bool follows_previous;
  int controls_ttl;
  TimePoint at;
  bool answered = false;  // the simulated path sent something back
};

double Ms(TimePoint t) {
  return std::chrono::duration<double, std::milli>(t - TimePoint{}).count();
}

/// What the network does with a probe: nullopt = silence, else a reply after delay.
struct Answer {
  Reply reply;
  Duration delay = 10ms;
};
using Path =
    std::function<std::optional<Answer>(int ttl, int attempt, ProbeKind kind, TimePoint sent)>;

/// Drives one Trace over a simulated path with a fake clock, in the engine's order:
/// send what is due, wait for the next reply or deadline, deliver, tick. Like the
/// engine, it records every time-exceeded in its HopBook; tests may seed the book.
class Driver {
 public:
  Driver(TraceSettings settings, Path path, std::uint64_t seed = 1)
      : trace_(settings, TimePoint{}, seed), path_(std::move(path)) {}

  TraceResult Run() {
    for (int guard = 0; !trace_.done(); ++guard) {
      if (guard > 100000) {
        ADD_FAILURE() << "trace never finished";
        break;
      }
      SendDue();
      std::optional<TimePoint> next = trace_.NextDeadline();
      if (!pending_.empty() && (!next || pending_.begin()->first < *next))
        next = pending_.begin()->first;
      if (next && *next > now_) now_ = *next;
      while (!pending_.empty() && pending_.begin()->first <= now_) {
        auto [ttl, attempt, reply] = pending_.begin()->second;
        Trace::ReplyStatus status =
            trace_.OnReply(static_cast<std::uint8_t>(ttl), static_cast<std::uint8_t>(attempt),
                           reply, kDest, pending_.begin()->first);
        statuses.push_back(status);
        if (status == Trace::ReplyStatus::kAccepted && reply.type == ReplyType::kTimeExceeded)
          book.RecordAnswer(v6, ttl, pending_.begin()->first);
        pending_.erase(pending_.begin());
      }
      TraceMode before = trace_.mode();
      trace_.OnTick(now_, book, v6);
      if (trace_.mode() == TraceMode::kWaitPolicer && before != TraceMode::kWaitPolicer)
        waits.push_back({now_, *trace_.NextDeadline()});
    }
    finished_at = now_;
    TraceResult r;
    r.address = kDest;
    r.port = 443;
    trace_.FillResult(kDest, r);
    return r;
  }

  void SendDue() {
    while (auto p = trace_.NextProbe()) {
      // A control leaves right after the probe before it: nothing of this trace
      // in between (the engine sends the group back to back).
      if (p->follows_previous) {
        EXPECT_FALSE(sent.empty());
        if (!sent.empty()) {
          EXPECT_EQ(sent.back().at, now_);
        }
      }
      trace_.OnSent(*p, now_);
      sent.push_back({p->ttl, p->attempt, p->kind, p->follows_previous, p->controls_ttl, now_});
      if (auto a = path_(p->ttl, p->attempt, p->kind, now_)) {
        sent.back().answered = true;
        // The reply quotes (or answers) the kind of packet the probe was.
        a->reply.probe.protocol =
            p->kind == ProbeKind::kIcmpEcho ? packet::kProtoIcmp : packet::kProtoTcp;
        pending_.emplace(now_ + a->delay, std::make_tuple(int{p->ttl}, int{p->attempt}, a->reply));
      }
    }
  }

  Trace& trace() { return trace_; }
  TimePoint now() const { return now_; }
  int SentAt(int ttl, ProbeKind kind = ProbeKind::kTcpSyn) const {
    int n = 0;
    for (const Sent& s : sent) n += s.ttl == ttl && s.kind == kind;
    return n;
  }
  /// Control groups sent for `ttl`: SYN at ttl, then back to back SYN at the last
  /// answering hop and an echo at ttl, both naming ttl.
  int GroupsFor(int ttl) const {
    int n = 0;
    for (std::size_t i = 2; i < sent.size(); ++i) {
      const Sent &syn = sent[i - 2], &ctl = sent[i - 1], &echo = sent[i];
      n += syn.kind == ProbeKind::kTcpSyn && syn.ttl == ttl && !syn.follows_previous &&
           ctl.kind == ProbeKind::kTcpSyn && ctl.follows_previous && ctl.controls_ttl == ttl &&
           echo.kind == ProbeKind::kIcmpEcho && echo.follows_previous && echo.ttl == ttl &&
           echo.controls_ttl == ttl;
    }
    return n;
  }
  /// Distinct times at which control probes went out: one per confirmation round.
  std::vector<TimePoint> RoundStarts() const {
    std::vector<TimePoint> out;
    for (const Sent& s : sent)
      if (s.controls_ttl != 0 && (out.empty() || out.back() != s.at)) out.push_back(s.at);
    return out;
  }
  /// Every probe sent, for failure messages: "time ms: TTL/attempt kind [ctl t] answered?".
  std::string Log() const {
    std::ostringstream out;
    for (const Sent& s : sent)
      out << Ms(s.at) << " ms: " << s.ttl << "/" << s.attempt
          << (s.kind == ProbeKind::kIcmpEcho ? " echo" : " syn")
          << (s.controls_ttl ? " ctl " + std::to_string(s.controls_ttl) : std::string())
          << (s.answered ? " answered" : " silent") << "\n";
    return out.str();
  }
  int MaxSynTtlBelow(int limit) const {
    int m = 0;
    for (const Sent& s : sent)
      if (s.kind == ProbeKind::kTcpSyn && s.ttl < limit) m = std::max(m, s.ttl);
    return m;
  }

  HopBook book;
  /// The family the trace tells its HopBook (the simulated addresses stay IPv4).
  bool v6 = false;
  std::vector<Sent> sent;
  std::vector<Trace::ReplyStatus> statuses;
  std::vector<std::pair<TimePoint, TimePoint>> waits;  // (entered kWaitPolicer, until)
  TimePoint finished_at{};

 private:
  Trace trace_;
  Path path_;
  TimePoint now_{};
  std::multimap<TimePoint, std::tuple<int, int, Reply>> pending_;
};

TraceSettings Settings(int max_hops = 30) {
  TraceSettings s;
  s.max_hops = max_hops;
  return s;
}

/// The first wave leaves at 0 ms (the destination probes and TTLs 1..5) and 10 ms
/// (the window the first answers open); the first confirmation round follows tens
/// of milliseconds later. Paths that police a router "from the end of the wave on"
/// start here, whatever the trace's timing.
constexpr Duration kWaveEnd = 20ms;

/// A router's ICMP budget: a token bucket (Linux: a burst of 6, then one a second).
struct Bucket {
  double tokens;
  double burst;
  double per_second;
  std::optional<TimePoint> last;
  bool Take(TimePoint now) {
    if (last)
      tokens =
          std::min(burst, tokens + std::chrono::duration<double>(now - *last).count() * per_second);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }
};

// An echo probe on a path whose routers all answer and whose destination at
// `dist` answers ping.
std::optional<Answer> Ping(int ttl, int dist) {
  if (ttl >= dist) return Answer{EchoReply(dist)};
  return Answer{TimeExceeded(kHop[ttl])};
}

// A chain of routers kHop[1..dist-1] and a destination at `dist` answering `end`
// (and ping); the `silent` routers never send time-exceeded.
Path Chain(int dist, ReplyType end, const std::vector<int>& silent = {}) {
  return [=](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl >= dist) return Answer{kind == ProbeKind::kIcmpEcho ? EchoReply(dist) : Tcp(end, dist)};
    for (int s : silent)
      if (s == ttl) return std::nullopt;
    return Answer{TimeExceeded(kHop[ttl])};
  };
}

// The port is dropped silently just after router 5; ICMP echo goes on to the
// destination at `dist`, and every router answers.
Path FilteredAfterFive(int dist = 9) {
  return [=](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, dist);
    if (ttl <= 5) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
}

// --- Discovery -------------------------------------------------------------

TEST(TraceTest, InitialWaveAsksTheDestinationFirstThenEachTtlOnceThenRttSamples) {
  TraceSettings s = Settings(4);
  s.probes_per_hop = 3;
  Trace trace(s, TimePoint{});
  EXPECT_EQ(trace.mode(), TraceMode::kDiscover);
  std::vector<std::tuple<int, int, ProbeKind, bool>> order;
  while (auto p = trace.NextProbe()) {
    EXPECT_FALSE(p->follows_previous);
    order.emplace_back(p->ttl, p->attempt, p->kind, p->optional);
    trace.OnSent(*p, TimePoint{});
  }
  // A SYN and an echo that outlive any path first (the destination's answer and
  // distance, not policed like time-exceeded), then one SYN per TTL (the path),
  // then the further probes_per_hop - 1 per TTL: RTT samples only, which the
  // engine may skip where ICMP budgets are short.
  std::vector<std::tuple<int, int, ProbeKind, bool>> want = {{4, 0, ProbeKind::kTcpSyn, false},
                                                             {4, 1, ProbeKind::kIcmpEcho, false}};
  for (int ttl = 1; ttl <= 4; ++ttl)
    want.emplace_back(ttl, ttl == 4 ? 2 : 0, ProbeKind::kTcpSyn, false);
  for (int a = 1; a < 3; ++a)
    for (int ttl = 1; ttl <= 4; ++ttl)
      want.emplace_back(ttl, ttl == 4 ? a + 2 : a, ProbeKind::kTcpSyn, true);
  EXPECT_EQ(order, want);
  EXPECT_EQ(trace.probes_sent(), 14);
}

TEST(TraceTest, EachTraceStartsItsDiscoveryStretchAtATtlOfItsOwn) {
  // The high half of the jitter seed rotates the first pass over the window, so
  // that traces served round robin do not all ask the same router at once. The
  // RTT samples and the destination probes keep their order.
  TraceSettings s = Settings(30);
  s.probes_per_hop = 2;
  s.echo = false;
  for (std::uint64_t rotation : {0u, 2u, 7u}) {
    SCOPED_TRACE(rotation);
    Trace trace(s, TimePoint{}, (rotation << 32) | 1);
    std::vector<int> ttls;
    while (auto p = trace.NextProbe()) {
      ttls.push_back(p->ttl);
      trace.OnSent(*p, TimePoint{});
    }
    std::vector<int> want = {30};
    for (int i = 0; i < 5; ++i) want.push_back(1 + static_cast<int>((i + rotation) % 5));
    for (int ttl = 1; ttl <= 5; ++ttl) want.push_back(ttl);
    EXPECT_EQ(ttls, want);
  }
}

TEST(TraceTest, SkippedRttSamplesAreNeitherSentNorMissed) {
  // The engine skips optional probes (OnSkipped) where a TTL's routers are short of
  // ICMP budget: the path and the verdict come from the first pass alone.
  TraceSettings s = Settings(4);
  s.echo = false;
  Trace trace(s, TimePoint{});
  while (auto p = trace.NextProbe()) {
    if (p->optional) {
      trace.OnSkipped();
      continue;
    }
    trace.OnSent(*p, TimePoint{});
  }
  EXPECT_EQ(trace.probes_sent(), 5);  // the destination probe and TTLs 1..4 once
  for (std::uint8_t ttl : {1, 2, 3})
    EXPECT_EQ(trace.OnReply(ttl, 0, TimeExceeded(kHop[ttl]), kDest, At(10ms)),
              Trace::ReplyStatus::kAccepted);
  EXPECT_EQ(trace.OnReply(4, 0, Tcp(ReplyType::kSynAck, 4), kDest, At(10ms)),
            Trace::ReplyStatus::kAccepted);
  EXPECT_EQ(trace.OnReply(4, 1, Tcp(ReplyType::kSynAck, 4), kDest, At(10ms)),
            Trace::ReplyStatus::kAccepted);
  trace.OnTick(At(10ms), HopBook{}, false);
  ASSERT_TRUE(trace.done());
  TraceResult r;
  trace.FillResult(kDest, r);
  EXPECT_EQ(r.outcome, Outcome::kOpen);
  ASSERT_EQ(r.hops.size(), 4u);
  for (const Hop& h : r.hops) EXPECT_EQ(h.answered(), static_cast<int>(h.probes.size())) << h.ttl;
  EXPECT_EQ(r.hops[0].probes.size(), 1u);  // no silent samples for the skipped ones
}

TEST(TraceTest, InServeTheHopListBelowAnAnswerThatNeedsNoneIsOptional) {
  // hop_list_optional (serve): once the destination's SYN-ACK is in, the SYNs
  // still queued only draw the hop list; a router's !X placed by its quoted
  // TTL leaves only the TTLs below the sender optional, the sender's own asked.
  TraceSettings s = Settings(30);
  s.hop_list_optional = true;
  s.probes_per_hop = 1;  // no RTT samples (optional anyway)
  Trace open(s, TimePoint{});
  auto first = open.NextProbe();  // the destination SYN
  ASSERT_TRUE(first);
  open.OnSent(*first, TimePoint{});
  ASSERT_EQ(open.OnReply(first->ttl, first->attempt, Tcp(ReplyType::kSynAck, 7), kDest, At(5ms)),
            Trace::ReplyStatus::kAccepted);
  int syns = 0;
  while (auto p = open.NextProbe()) {
    if (p->kind == ProbeKind::kTcpSyn) {
      ++syns;
      EXPECT_TRUE(p->optional) << int{p->ttl};
    }
    open.OnSkipped();
  }
  EXPECT_GE(syns, 5);  // TTLs 1..5 at least, and those the distance added

  Trace rejected(s, TimePoint{});
  first = rejected.NextProbe();
  rejected.OnSent(*first, TimePoint{});
  // r5's !X for the TTL-30 SYN, quoting 25 (after its decrement): r5 is at 5.
  ASSERT_EQ(
      rejected.OnReply(first->ttl, first->attempt, Unreachable(kHop[5], 13, 25), kDest, At(5ms)),
      Trace::ReplyStatus::kAccepted);
  while (auto p = rejected.NextProbe()) {
    if (p->kind == ProbeKind::kTcpSyn) {
      EXPECT_LE(p->ttl, 5);
      EXPECT_EQ(p->optional, p->ttl < 5) << int{p->ttl};
    }
    rejected.OnSkipped();
  }

  // Without the setting (the CLI), nothing of the first pass is optional.
  TraceSettings c = Settings(30);
  c.probes_per_hop = 1;
  Trace cli(c, TimePoint{});
  first = cli.NextProbe();
  cli.OnSent(*first, TimePoint{});
  cli.OnReply(first->ttl, first->attempt, Tcp(ReplyType::kSynAck, 7), kDest, At(5ms));
  int required = 0;
  while (auto p = cli.NextProbe()) {
    required += p->kind == ProbeKind::kTcpSyn && !p->optional;
    cli.OnSkipped();
  }
  EXPECT_GE(required, 5);
}

TEST(TraceTest, NoEchoWithoutPingOrEcho) {
  for (auto [echo, ping] : {std::pair{false, true}, std::pair{true, false}}) {
    TraceSettings s = Settings(4);
    s.echo = echo;
    s.ping = ping;
    Trace trace(s, TimePoint{});
    int echoes = 0;
    while (auto p = trace.NextProbe()) {
      echoes += p->kind == ProbeKind::kIcmpEcho;
      trace.OnSent(*p, TimePoint{});
    }
    EXPECT_EQ(echoes, 0) << echo << ping;
    EXPECT_FALSE(trace.PingResult(kDest)) << echo << ping;
  }
}

TEST(TraceTest, FirstHopSkipsLowerTtls) {
  TraceSettings s = Settings(8);
  s.first_hop = 5;
  s.probes_per_hop = 1;
  Trace trace(s, TimePoint{});
  std::vector<int> ttls;
  while (auto p = trace.NextProbe()) {
    ttls.push_back(p->ttl);
    trace.OnSent(*p, TimePoint{});
  }
  EXPECT_EQ(ttls, (std::vector<int>{8, 8, 5, 6, 7, 8}));
}

TEST(TraceTest, TerminalReplyCancelsHigherTtls) {
  Trace trace(Settings(30), TimePoint{});
  // SYN@30, echo@30, then TTLs 1 and 2 once each.
  for (int i = 0; i < 4; ++i) trace.OnSent(*trace.NextProbe(), TimePoint{});
  // The destination is two hops away: TTL 2's first probe got its SYN-ACK.
  ASSERT_EQ(trace.OnReply(2, 0, Tcp(ReplyType::kSynAck, 2), kDest, At(1ms)),
            Trace::ReplyStatus::kAccepted);
  std::vector<int> rest;
  while (auto p = trace.NextProbe()) {
    rest.push_back(p->ttl);
    trace.OnSent(*p, At(1ms));
  }
  // TTLs 1 and 2 get their RTT samples; 3..5 are never sent, nor their samples.
  EXPECT_EQ(rest, (std::vector<int>{1, 2, 1, 2}));
  EXPECT_EQ(trace.probes_sent(), 8);
}

TEST(TraceTest, ConcludesInTwoRoundTripsWhenEveryHopAndTheDestinationAnswer) {
  Driver d(Settings(), Chain(7, ReplyType::kSynAck));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kOpen);
  EXPECT_TRUE(r.destination_reached);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 7);
  EXPECT_EQ(r.last_responding_hop->address, kDest);
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  ASSERT_EQ(r.hops.size(), 7u);
  EXPECT_EQ(r.hops[0].address, kHop[1]);
  EXPECT_EQ(r.hops[6].reply, HopReply::kSynAck);
  EXPECT_EQ(r.retry_rounds, 0);
  // The first round trip brings hops 1..5 and the destination's distance, the
  // second the rest of the window: 20 ms, not a 1 s timeout.
  EXPECT_EQ(d.finished_at, At(20ms));
  EXPECT_FALSE(d.trace().NextDeadline());
  EXPECT_EQ(Verdict(r), "port 443/tcp is open: 192.0.2.10 answered SYN-ACK at hop 7.");
  // The ping side: the destination answered the echo at max_hops.
  std::optional<TraceResult> ping = d.trace().PingResult(kDest);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->outcome, Outcome::kOpen);
  ASSERT_TRUE(ping->last_responding_hop);
  EXPECT_EQ(ping->last_responding_hop->ttl, 7);
}

TEST(TraceTest, DiscoveryWindowGrowsPastAnswersAndStopsJustPastTheDestination) {
  Driver d(Settings(), Chain(12, ReplyType::kRst));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kClosed);
  EXPECT_EQ(r.last_responding_hop->ttl, 12);
  // gap_limit (5) past each answer, but never further than one past the
  // destination's distance (its reply TTL says 12): nothing between 14 and 29.
  EXPECT_EQ(d.MaxSynTtlBelow(30), 13);
  EXPECT_EQ(d.SentAt(30), 1);
  // The destination's answer opens the window to 13 at once: two round trips.
  EXPECT_EQ(d.finished_at, At(20ms));
}

TEST(TraceTest, SilentMiddleHopsDelayConclusionByAFewRoundTripsNotATimeout) {
  // The lab's path: r3 and r4 never answer time-exceeded, the port is closed.
  Driver d(Settings(), Chain(7, ReplyType::kRst, {3, 4}));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kClosed);
  EXPECT_EQ(r.last_responding_hop->ttl, 7);
  EXPECT_EQ(r.hops[2].answered(), 0);
  EXPECT_EQ(r.hops[3].answered(), 0);
  EXPECT_EQ(r.retry_rounds, 0);
  // Once answers came (every one in 10 ms), a SYN of the wave is given up on
  // 4 x the slowest RTT + 20 ms after it left: TTLs 3 and 4, sent at 0 ms, at 60 ms,
  // not after the 1 s timeout.
  EXPECT_EQ(d.finished_at, At(60ms)) << Ms(d.finished_at);
  EXPECT_EQ(d.trace().SilentPassedTtls(), (std::vector<int>{3, 4}));
}

// --- Filtered: confirming the silence ----------------------------------------

TEST(TraceTest, SilenceAfterHopNIsFilteredAtHopN) {
  // r5 drops the port: every SYN beyond TTL 5 is silent; ping goes on to hop 9.
  Driver d(Settings(), FilteredAfterFive());
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.last_responding_hop);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_FALSE(r.unconfirmed_hop_ttl);
  EXPECT_EQ(r.last_responding_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, Ip("198.51.100.18"));
  EXPECT_EQ(r.blocked_hop->address_class, AddressClass::kDocumentation);
  // Hops up to one past the destination's distance (9 by its echo reply) are shown.
  EXPECT_EQ(r.hops.size(), 10u);
  EXPECT_EQ(d.SentAt(11), 0);
  // One confirmation round: two control groups at TTL 6 both showed "SYN silent,
  // SYN at hop 5 answered, echo at 6 answered".
  EXPECT_EQ(r.retry_rounds, 1);
  EXPECT_EQ(d.GroupsFor(6), 2);
  // No timeout is waited out: TTLs 6..10 went out with the second wave (10 ms in)
  // and were given up on at 70 ms (4 x 10 ms + 20 ms); the round's SYNs at 6, sent
  // at 70 ms, once their echoes were back at 80 ms plus one more echo round trip
  // (at least 10 ms): 90 ms.
  EXPECT_EQ(d.RoundStarts(), std::vector<TimePoint>{At(70ms)});
  EXPECT_EQ(d.finished_at, At(90ms)) << Ms(d.finished_at);
  std::string v = Verdict(r);
  EXPECT_NE(v.find("silently dropped after hop 5 (198.51.100.18"), std::string::npos) << v;
}

TEST(TraceTest, FilteredAfterHopFiveBeforeAKnownRouterIsConfirmedByTwoControlGroups) {
  Driver d(Settings(), FilteredAfterFive());
  d.book.RecordAnswer(false, 6, TimePoint{});  // hop 6 answers other traces
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_FALSE(r.unconfirmed_hop_ttl);
  EXPECT_EQ(d.GroupsFor(6), 2);
  EXPECT_EQ(d.SentAt(6, ProbeKind::kIcmpEcho), 2);
  EXPECT_EQ(d.trace().confirm_rounds(), 1);
  // The echo controls are the ping side's, not hops of the TCP trace.
  EXPECT_EQ(r.hops[5].probes.size(), 5u);  // three of the wave and one per group
  EXPECT_FALSE(r.hops[5].address);
}

TEST(TraceTest, OneVouchedSilenceIsNotEnough) {
  // Router 6 misses the second control echo of the first round (a policer that
  // refills in steps): TTL 6 has one vouched silence and is asked again.
  auto echoes_at_6 = std::make_shared<int>(0);
  Path path = [echoes_at_6](int ttl, int attempt, ProbeKind kind,
                            TimePoint sent) -> std::optional<Answer> {
    if (kind == ProbeKind::kIcmpEcho && ttl == 6 && ++*echoes_at_6 == 2) return std::nullopt;
    return FilteredAfterFive()(ttl, attempt, kind, sent);
  };
  Driver d(Settings(), path);
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.retry_rounds, 2);
  EXPECT_EQ(d.GroupsFor(6), 4);
  EXPECT_TRUE(d.waits.empty());  // answers came back: no policer wait
}

// FilteredAfterFive, where the capture buffer overflows (the engine calls
// OnRepliesLost) as each of the first `losses` echoes at TTL 6 leaves (-1: all).
Path LosingRepliesAtSix(Driver** driver, int losses) {
  auto echoes = std::make_shared<int>(0);
  return [=](int ttl, int attempt, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (kind == ProbeKind::kIcmpEcho && ttl == 6 && (losses < 0 || ++*echoes <= losses))
      (*driver)->trace().OnRepliesLost(sent);
    return FilteredAfterFive()(ttl, attempt, kind, sent);
  };
}

TEST(TraceTest, ASilenceFromBeforeRepliesWereLostUnreadIsNoEvidence) {
  // Lost while the first round's groups are out: their silences are not
  // counted, and two more groups confirm the block.
  Driver* driver = nullptr;
  Driver d(Settings(), LosingRepliesAtSix(&driver, 2));
  driver = &d;
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop) << d.Log();
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(d.GroupsFor(6), 4) << d.Log();
  EXPECT_TRUE(d.trace().replies_lost());
}

TEST(TraceTest, SilencesAlwaysFollowedByLostRepliesNeverConfirmABlock) {
  Driver* driver = nullptr;
  Driver d(Settings(), LosingRepliesAtSix(&driver, -1));
  driver = &d;
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop) << d.Log();
  EXPECT_FALSE(r.blocked_hop_confirmed);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 5);
}

TEST(TraceTest, SilentMiddleHopsThenAnswersPointsAtTheLaterHop) {
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 10);
    if (ttl > 6) return std::nullopt;
    return Answer{TimeExceeded(kHop[ttl])};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_EQ(r.last_responding_hop->ttl, 6);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.retry_rounds, 1);
  EXPECT_EQ(d.GroupsFor(7), 2);
}

// Hop 5 polices ICMP: it answers nothing in the first wave (its tokens went to other
// traffic), then one message per second. Beyond hop 5 the port is dropped; ping
// goes on to hop 9.
Path PolicedHopFive() {
  auto last = std::make_shared<std::optional<TimePoint>>();
  return [last](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl == 5) {
      if (sent < At(kWaveEnd) || (*last && sent - **last < 1s)) return std::nullopt;
      *last = sent;
      return Answer{TimeExceeded(kHop[5])};
    }
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 9);
    if (ttl < 5) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
}

// Rounds that draw nothing from a router known to answer end a few round trips
// after their controls left (not a timeout later); the trace still gives the
// policers max_retries x (timeout + backoff) from the first such round (round
// `first_silent`, 0-based) before it reports the block unconfirmed.
void ExpectPatientSilentRounds(const Driver& d, const TraceResult& r, std::size_t first_silent) {
  const TraceSettings defaults;
  EXPECT_GE(r.retry_rounds, static_cast<int>(first_silent) + defaults.max_retries) << d.Log();
  std::vector<TimePoint> starts = d.RoundStarts();
  ASSERT_GT(starts.size(), first_silent);
  ASSERT_FALSE(d.waits.empty());
  EXPECT_LT(d.waits.back().first - starts[starts.size() - 2], defaults.timeout);
  Duration patience = defaults.max_retries * (defaults.timeout + defaults.retry_backoff);
  EXPECT_GE(d.finished_at - starts[first_silent], patience) << d.Log();
  // ...and no longer than one more backoff (at most 4x, with jitter) and round.
  EXPECT_LE(d.finished_at - starts[first_silent],
            patience + 5 * defaults.retry_backoff + defaults.timeout)
      << d.Log();
}

TEST(TraceTest, RateLimitedLastHopIsFoundAndThenConfirmedNotHopBeforeIt) {
  // Without confirmation rounds hop 4 would be the last answer; the trace may not
  // blame it, and with rounds it finds hop 5 and confirms the silence after it.
  TraceSettings no_retries = Settings();
  no_retries.max_retries = 0;
  Driver quick(no_retries, PolicedHopFive());
  TraceResult without = quick.Run();
  EXPECT_EQ(without.outcome, Outcome::kFiltered);
  EXPECT_FALSE(without.blocked_hop);
  EXPECT_FALSE(without.blocked_hop_confirmed);
  EXPECT_EQ(without.unconfirmed_hop_ttl, 5);
  EXPECT_EQ(without.last_responding_hop->ttl, 4);
  EXPECT_NE(Verdict(without).find("not confirmed"), std::string::npos) << Verdict(without);

  Driver d(Settings(), PolicedHopFive());
  TraceResult with = d.Run();
  EXPECT_EQ(with.outcome, Outcome::kFiltered);
  ASSERT_TRUE(with.blocked_hop);
  EXPECT_EQ(with.blocked_hop->ttl, 5);
  EXPECT_EQ(with.blocked_hop->address, kHop[5]);
  EXPECT_TRUE(with.blocked_hop_confirmed);
  EXPECT_NE(Verdict(with).find("hop 5 (198.51.100.18"), std::string::npos);
  // Round 1 finds hop 5; hop 5 then vouches for one group a second. A group it
  // starves is given up on after a few round trips, so quick rounds fail in
  // between; with 8 starved groups a third vouched one is needed.
  EXPECT_EQ(with.retry_rounds, 7) << d.Log();
  EXPECT_LE(with.retry_rounds, TraceSettings{}.max_rounds);
}

TEST(TraceTest, PolicedRoutersAfterTheLastHopLeaveTheBlockUnconfirmed) {
  // Filtered after hop 5; hop 6 is a router known to answer, but from the end of
  // the first wave on, routers 5 and beyond have no ICMP budget left, so no control
  // can be answered. The destination does not answer ping.
  Path path = [](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl <= 4) return Answer{TimeExceeded(kHop[ttl])};
    if (ttl == 5 && kind == ProbeKind::kTcpSyn && sent < At(kWaveEnd))
      return Answer{TimeExceeded(kHop[5])};
    return std::nullopt;
  };
  Driver d(Settings(), path);
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop);  // neither hop 5 nor, worse, hop 4 or earlier
  EXPECT_FALSE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.unconfirmed_hop_ttl, 6);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 5);
  ExpectPatientSilentRounds(d, r, 0);
  std::string v = Verdict(r);
  EXPECT_NE(v.find("hop 6 stayed silent"), std::string::npos) << v;
  EXPECT_NE(v.find("not confirmed"), std::string::npos) << v;
}

// Every router starved by other traces until 3 s (the destination's ping gets
// through); then routers 1..4 answer everything, router 5 one message a second,
// and, when `beyond_answers`, routers 6.. answer echoes. The port is dropped after
// hop 5.
Path StarvedUntilThreeSeconds(bool beyond_answers) {
  auto last = std::make_shared<std::optional<TimePoint>>();
  return [=](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (kind == ProbeKind::kIcmpEcho && ttl >= 9) return Ping(ttl, 9);
    if (sent < At(3s)) return std::nullopt;
    if (ttl == 5) {
      if (*last && sent - **last < 1s) return std::nullopt;
      *last = sent;
      return Answer{TimeExceeded(kHop[5])};
    }
    if (ttl < 5) return Answer{TimeExceeded(kHop[ttl])};
    if (kind == ProbeKind::kIcmpEcho && beyond_answers) return Ping(ttl, 9);
    return std::nullopt;
  };
}

TEST(TraceTest, SilentRoundsBeforeTheLastHopMovedDoNotCutItsPatience) {
  // Other traces starve every router for the first 3 s (only the destination's
  // ping gets through). Then routers 1..4 answer everything, router 5 one message
  // a second, and router 6 echoes; the port is dropped after hop 5. All six are
  // known to answer (HopBook). The rounds before 3 s are silent with no last hop;
  // the rounds about the silence after hop 5 (TTL 6) get their own patience and
  // confirm it (in the lab, a trace of 40 gave up 1.7 s after finding its last
  // hop: the patience had been spent while router 1 starved it).
  Driver d(Settings(), StarvedUntilThreeSeconds(/*beyond_answers=*/true));
  for (int ttl = 1; ttl <= 6; ++ttl) d.book.RecordAnswer(false, ttl, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop) << d.Log();
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  EXPECT_TRUE(r.blocked_hop_confirmed);
}

TEST(TraceTest, AfterALateLastHopAStarvedRouterStillEndsUnconfirmedWithinTheCap) {
  // The same, but router 6 never answers again after the first 3 s either: the
  // fresh patience for hop 5 runs out (max_retries silent rounds and their time,
  // counted from after the last hop moved) and the block is unconfirmed, within
  // max_rounds.
  Driver d(Settings(), StarvedUntilThreeSeconds(/*beyond_answers=*/false));
  for (int ttl = 1; ttl <= 6; ++ttl) d.book.RecordAnswer(false, ttl, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_FALSE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.unconfirmed_hop_ttl, 6);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 5);
  const TraceSettings defaults;
  EXPECT_GE(d.finished_at - At(3s),
            defaults.max_retries * (defaults.timeout + defaults.retry_backoff))
      << d.Log();
  EXPECT_LE(r.retry_rounds, defaults.max_rounds);
}

TEST(TraceTest, WithoutEchoASilenceAfterAKnownRouterStaysUnconfirmed) {
  TraceSettings s = Settings();
  s.echo = false;
  Driver d(s, FilteredAfterFive());
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_FALSE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.unconfirmed_hop_ttl, 6);
  EXPECT_EQ(d.SentAt(30, ProbeKind::kIcmpEcho) + d.SentAt(6, ProbeKind::kIcmpEcho), 0);
  EXPECT_FALSE(d.trace().PingResult(kDest));
}

// Router 5 rejects the port with !X (time-exceeded at TTL 5, !X for TTL >= 6, quoting
// the TTL left after its decrement). Its errors share one budget: drained by other
// traffic in the first wave (its time-exceeded for TTL 5 got through just before),
// then `refill` tokens a second. ICMP echo passes r5 to routers 6.. and the
// destination at 9, which answer it when `beyond_answers`.
Path PolicedProhibitedAtFive(double refill, bool beyond_answers) {
  auto bucket = std::make_shared<Bucket>(Bucket{0, 1, refill, At(kWaveEnd)});
  return [=](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl < 5) return Answer{TimeExceeded(kHop[ttl])};
    if (ttl == 5) {
      if (kind == ProbeKind::kTcpSyn && sent < At(kWaveEnd)) return Answer{TimeExceeded(kHop[5])};
      if (sent < At(kWaveEnd) || !bucket->Take(sent)) return std::nullopt;
      return Answer{TimeExceeded(kHop[5])};
    }
    if (kind == ProbeKind::kTcpSyn) {
      if (sent < At(kWaveEnd) || !bucket->Take(sent)) return std::nullopt;
      return Answer{Unreachable(kHop[5], 13, ttl - 5)};
    }
    if (!beyond_answers) return std::nullopt;
    return Ping(ttl, 9);
  };
}

TEST(TraceTest, PolicedRejectsAreNotReadAsAConfirmedFilter) {
  struct Case {
    bool r6_known;        // hop 6 is in the HopBook
    bool beyond_answers;  // routers 6.. and the destination answer echoes
  };
  // Unknown and silent beyond: the first round is silent throughout, which must
  // not make TTLs 6.. "silent routers" and hop 5 a confirmed filter.
  for (Case c : {Case{true, true}, Case{false, false}, Case{true, false}}) {
    SCOPED_TRACE(::testing::Message()
                 << "r6 known " << c.r6_known << ", answers beyond " << c.beyond_answers);
    Driver d(Settings(), PolicedProhibitedAtFive(1, c.beyond_answers));
    if (c.r6_known) d.book.RecordAnswer(false, 6, TimePoint{});
    TraceResult r = d.Run();
    // The control SYN at hop 5 found r5's budget as empty as the SYN at 6 did, so
    // the silence is never vouched for; r5's budget refills and a later !X gets
    // through.
    EXPECT_EQ(r.outcome, Outcome::kProhibited);
    ASSERT_TRUE(r.blocked_hop);
    EXPECT_EQ(r.blocked_hop->ttl, 5);
    EXPECT_EQ(r.blocked_hop->address, kHop[5]);
    EXPECT_EQ(r.marker, "!X");
  }
}

TEST(TraceTest, RejectsPolicedForGoodAreUnconfirmedNotFiltered) {
  // r5's budget never refills: no !X ever arrives, and no control SYN at hop 5 is
  // answered either. Hop 6 answers every echo, but only its first answer is news
  // (its router answers): the rounds after it add no evidence, count as silent,
  // and after max_retries of them the block is reported unconfirmed.
  Driver d(Settings(), PolicedProhibitedAtFive(0, true));
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_FALSE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.unconfirmed_hop_ttl, 6);
  ExpectPatientSilentRounds(d, r, 1);
}

TEST(TraceTest, KnownSilentRoutersBetweenTheLastHopAndAConfirmedTtlAreSkipped) {
  // Router 6 never sends time-exceeded (other traces passed it silently three
  // times); the silence after hop 5 is confirmed at TTL 7 without asking 6.
  Path path = [](int ttl, int attempt, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl == 6) return std::nullopt;
    return FilteredAfterFive()(ttl, attempt, kind, sent);
  };
  Driver d(Settings(), path);
  for (int i = 0; i < HopBook::kSilentPasses; ++i) d.book.RecordSilentPass(false, 6, TimePoint{});
  ASSERT_TRUE(d.book.KnownSilent(false, 6, TimePoint{}));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.retry_rounds, 1);
  EXPECT_EQ(d.SentAt(6, ProbeKind::kIcmpEcho), 0);
  EXPECT_EQ(d.GroupsFor(7), 2);
}

TEST(TraceTest, UnknownSilentTtlsNeedTwoSilentRoundsToCountAsSilentRouters) {
  // Router 6 never answers and nobody knows it; router 5 polices the controls of
  // rounds 1 and 2 (its budget is back from 2 s on). Only after two rounds in
  // which TTL 6's groups stayed silent is 6 a silent router; then TTL 7's vouched
  // silences confirm the block after hop 5.
  Path path = [](int ttl, int attempt, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl == 6) return std::nullopt;
    if (ttl == 5 && sent >= At(kWaveEnd) && sent < At(2s)) return std::nullopt;
    return FilteredAfterFive()(ttl, attempt, kind, sent);
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.retry_rounds, 3);
  // TTL 6 is asked in rounds 1 and 2 only. After round 1's silent groups it is
  // likely a silent router, which no control can confirm: round 2 asks it without
  // spending hop 5's budget on a control SYN.
  EXPECT_EQ(d.SentAt(6, ProbeKind::kIcmpEcho), 4) << d.Log();
  EXPECT_EQ(d.GroupsFor(6), 2);
}

TEST(TraceTest, ASilentFirewallRightAfterTheLastHopConcludesAfterTwoSilentRounds) {
  // Hop 6 is a firewall nobody knows (not in the HopBook): it drops the port and
  // echoes alike and never sends time-exceeded, so nothing beyond it is heard, the
  // destination's ping included. Hop 5 answers every control. As traceroute reads
  // it: two rounds in which TTLs 6.. drew nothing (neither SYN nor echo) make them
  // routers that do not answer, and the port is blocked after hop 5. Hop 5's
  // answers to its controls are no reason to keep asking until max_rounds.
  Path path = [](int ttl, int, ProbeKind, TimePoint) -> std::optional<Answer> {
    if (ttl <= 5) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop) << d.Log();
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_FALSE(r.unconfirmed_hop_ttl);
  EXPECT_EQ(r.retry_rounds, 2);
  // Nothing after hop 5 ever answers, so each step waits out one timeout (the
  // destination's echo in discovery, then the SYNs of each round, whose echoes
  // never came back to give them an early deadline): about 3 s, where running
  // all max_rounds took 17.
  EXPECT_LT(d.finished_at, At(5s)) << Ms(d.finished_at);
}

// --- Early deadlines -----------------------------------------------------------

TEST(TraceTest, AControlSynIsGivenUpOnOneEchoRoundTripAfterItsEchoCameBack) {
  // Filtered after hop 5; the destination is hop 6 (so the round asks TTL 6 only)
  // and answers echoes after `echo_rtt`. A round's SYN at 6 is silent once its echo
  // (sent right after it) is back plus max(echo RTT, 10 ms), not after the timeout.
  for (Duration echo_rtt : {Duration(2ms), Duration(30ms)}) {
    SCOPED_TRACE(::testing::Message() << "echo RTT " << echo_rtt.count() << " ns");
    Path path = [echo_rtt](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
      if (kind == ProbeKind::kIcmpEcho)
        return ttl >= 6 ? Answer{EchoReply(6), echo_rtt} : Answer{TimeExceeded(kHop[ttl])};
      if (ttl <= 5) return Answer{TimeExceeded(kHop[ttl])};
      return std::nullopt;
    };
    Driver d(Settings(), path);
    TraceResult r = d.Run();
    EXPECT_EQ(r.outcome, Outcome::kFiltered);
    ASSERT_TRUE(r.blocked_hop) << d.Log();
    EXPECT_EQ(r.blocked_hop->ttl, 5);
    EXPECT_TRUE(r.blocked_hop_confirmed);
    EXPECT_EQ(r.retry_rounds, 1);
    EXPECT_EQ(d.GroupsFor(6), 2);
    std::vector<TimePoint> starts = d.RoundStarts();
    ASSERT_EQ(starts.size(), 1u);
    EXPECT_EQ(d.finished_at, starts[0] + echo_rtt + std::max<Duration>(echo_rtt, 10ms))
        << Ms(starts[0]) << " " << Ms(d.finished_at);
  }
}

TEST(TraceTest, ASynAnswerJustAfterItsEchoStillMovesTheLastHop) {
  // Hop 6 had no ICMP budget during the wave; from then on it answers, but its
  // answers to SYNs come 5 ms after those to echoes (the echo's time-exceeded
  // overtook the SYN's). The port is dropped after hop 6. A round's SYN at 6 is
  // answered 15 ms after it left, inside its early deadline (its echo's 10 ms plus
  // 10 ms): hop 6 is the last hop, and hop 5 is not blamed for the block.
  Path path = [](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl == 6) {
      if (kind == ProbeKind::kIcmpEcho) return Answer{TimeExceeded(kHop[6])};
      if (sent < At(kWaveEnd)) return std::nullopt;
      return Answer{TimeExceeded(kHop[6]), 15ms};
    }
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 9);
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 6);
  ASSERT_TRUE(r.blocked_hop) << d.Log();
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  // Round 1 found hop 6; round 2 confirmed the silence after it at TTL 7.
  EXPECT_EQ(r.retry_rounds, 2);
  EXPECT_EQ(d.GroupsFor(7), 4);
  EXPECT_TRUE(std::all_of(d.statuses.begin(), d.statuses.end(), [](Trace::ReplyStatus st) {
    return st == Trace::ReplyStatus::kAccepted;
  }));
}

TEST(TraceTest, AHopAnsweringAfterTheDiscoveryPatienceIsStillCredited) {
  // Hop 6's control plane is slow: its time-exceeded takes 200 ms, where every
  // other answer takes 10 ms. Discovery gives up on the wave's SYNs at 6 after
  // 4 x 10 ms + 20 ms and starts confirming the silence after hop 5; their answers
  // come in during that round and still count: hop 6 is the last hop, the block
  // after it is confirmed, and hop 5 is never blamed.
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl == 6) return Answer{TimeExceeded(kHop[6]), 200ms};
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 9);
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  std::vector<TimePoint> starts = d.RoundStarts();
  ASSERT_FALSE(starts.empty());
  EXPECT_EQ(starts[0], At(70ms));  // before hop 6's first answer (210 ms)
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 6) << d.Log();
  ASSERT_TRUE(r.blocked_hop) << d.Log();
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  // The wave's three SYNs at 6 are on the hop list with their real RTT.
  ASSERT_GE(r.hops.size(), 6u);
  ASSERT_GE(r.hops[5].probes.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.hops[5].probes[static_cast<std::size_t>(i)].rtt_ms) << i;
    EXPECT_DOUBLE_EQ(*r.hops[5].probes[static_cast<std::size_t>(i)].rtt_ms, 200.0);
  }
}

TEST(TraceTest, ALateControlVouchesForNothing) {
  // Router 6 is known to answer but its control plane is slow: its time-exceeded
  // for an echo takes 200 ms, for a SYN 700 ms (10 ms elsewhere). The controls
  // at 6 are given up on 4 x 10 ms + 20 ms after they leave; the echoes' answers
  // come while the trace waits out its backoff, before the SYNs'. Counted, they
  // would vouch for the SYNs' silence (hop 5 answered its controls) and blame
  // hop 5; late, they vouch for nothing, and the SYNs' answers make hop 6 the
  // last hop.
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl == 6)
      return Answer{TimeExceeded(kHop[6]), kind == ProbeKind::kIcmpEcho ? 200ms : 700ms};
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 9);
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  Driver d(Settings(), path);
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 6) << d.Log();
}

TEST(TraceTest, EachEightStarvedGroupsCallForOneMoreVouchedSilence) {
  // Router 6 is known to answer, but its budget is empty for every control except
  // the echoes of the 1st and the 10th group: two vouched silences, but among ten
  // groups, eight of which met an empty budget, where a refill between a SYN and
  // its echo could have vouched falsely. That is not enough to name hop 5.
  auto echoes = std::make_shared<int>(0);
  Path path = [echoes](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl == 6) {
      if (kind != ProbeKind::kIcmpEcho || sent < At(kWaveEnd)) return std::nullopt;
      ++*echoes;
      if (*echoes == 1 || *echoes == 10) return Answer{TimeExceeded(kHop[6])};
      return std::nullopt;
    }
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 9);
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  TraceSettings s = Settings();
  s.max_retries = 10;
  Driver d(s, path);
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  ASSERT_GE(*echoes, 10) << d.Log();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop_confirmed) << d.Log();
  EXPECT_FALSE(r.blocked_hop);
}

TEST(TraceTest, AnAnswerInTheOtherFamilyMakesASilentTtlAKnownAnswerer) {
  // An IPv6 trace, filtered after hop 6. Router 6 is dual-stack and its one ICMP
  // budget goes to IPv4 traffic: IPv6 probes have passed it silently (the HopBook
  // would call it a router that never answers), but it answered IPv4 a moment ago.
  // Its silence must be confirmed like any answering router's, and cannot be: the
  // block is unconfirmed, never "after hop 5".
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl == 6) return std::nullopt;
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 9);
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  for (bool v4_answer : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "IPv4 answer at TTL 6: " << v4_answer);
    Driver d(Settings(), path);
    d.v6 = true;
    for (int i = 0; i < HopBook::kSilentPasses; ++i) d.book.RecordSilentPass(true, 6, TimePoint{});
    if (v4_answer) d.book.RecordAnswer(false, 6, TimePoint{});
    TraceResult r = d.Run();
    EXPECT_EQ(r.outcome, Outcome::kFiltered);
    ASSERT_TRUE(r.last_responding_hop);
    EXPECT_EQ(r.last_responding_hop->ttl, 5);
    if (!v4_answer) {
      // The IPv6 passes alone make TTL 6 a silent router, asked nothing.
      EXPECT_EQ(d.SentAt(6, ProbeKind::kIcmpEcho), 0);
      continue;
    }
    EXPECT_GT(d.SentAt(6, ProbeKind::kIcmpEcho), 0);
    EXPECT_FALSE(r.blocked_hop) << d.Log();
    EXPECT_FALSE(r.blocked_hop_confirmed);
    EXPECT_EQ(r.unconfirmed_hop_ttl, 6);
  }
}

TEST(TraceTest, NoHopAnsweredAtAllConcludesAfterTwoSilentRounds) {
  Driver d(Settings(),
           [](int, int, ProbeKind, TimePoint) -> std::optional<Answer> { return std::nullopt; });
  // After the wave and one silent round, a TTL nobody knows is not yet a silent
  // router: the trace waits for the policer and asks again.
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.last_responding_hop);
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  EXPECT_EQ(r.retry_rounds, 2);
  ASSERT_EQ(d.waits.size(), 1u);
  EXPECT_EQ(r.hops.size(), 5u);  // first_hop .. gap_limit
  for (const Hop& h : r.hops) EXPECT_FALSE(h.address);
  // Without a last hop a group is the SYN at t and the echo at t.
  EXPECT_EQ(d.SentAt(1, ProbeKind::kIcmpEcho), 4);
  EXPECT_NE(Verdict(r).find("no hop answered at all"), std::string::npos);
}

// --- Prohibited and unreachable ----------------------------------------------

TEST(TraceTest, ProhibitedWhereTheRouterAnsweredTimeExceededOneTtlEarlier) {
  // The lab's "prohibited": r5 answers TTL 5 with time-exceeded and rejects TTL >= 6
  // with !X, quoting the TTL left after its own decrement. Ping passes (hop 8).
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (ttl <= 5 || kind == ProbeKind::kIcmpEcho) return Ping(ttl, 8);
    return Answer{Unreachable(kHop[5], 13, ttl - 5)};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kProhibited);
  EXPECT_FALSE(r.destination_reached);
  EXPECT_EQ(r.marker, "!X");
  EXPECT_EQ(r.icmp_code, 13);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);  // the router's own distance, not the probe's TTL 6
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  ASSERT_EQ(r.hops.size(), 6u);
  EXPECT_EQ(r.hops[5].marker, "!X");
  // As traceroute shows it: r5 answers time-exceeded at TTL 5 and !X from TTL 6 on.
  EXPECT_EQ(r.hops[5].ttl, 6);
  EXPECT_EQ(r.hops[5].address, kHop[5]);
  // The destination probe drew the !X first; its quoted TTL places r5 at 5 at
  // most, so no SYN went beyond TTL 5 to draw the same !X from r5's budget.
  EXPECT_EQ(d.SentAt(30), 1);
  for (int ttl = 6; ttl < 30; ++ttl) EXPECT_EQ(d.SentAt(ttl), 0) << ttl;
  EXPECT_EQ(r.retry_rounds, 0);
}

TEST(TraceTest, ProhibitedByARouterThatNeverAnswersTimeExceeded) {
  // r5 is silent for time-exceeded; its !X for TTL 6 is lost (policing) and only the
  // TTL-7 probes draw it, quoting TTL 2 (Linux quotes the TTL after its forwarding
  // decrement for a FORWARD reject, as captured in the lab). So r5's distance is
  // 7 - 2 = 5, its true hop, not the TTL 7 that drew the error.
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl >= 3 && ttl <= 6) return std::nullopt;
    if (ttl < 3 || kind == ProbeKind::kIcmpEcho) return Ping(ttl, 8);
    return Answer{Unreachable(kHop[5], 13, ttl - 5)};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kProhibited);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  // The silent TTL where the quoted TTL puts the sender was asked once more.
  EXPECT_EQ(d.SentAt(5), 4);
  EXPECT_EQ(r.retry_rounds, 1);
}

TEST(TraceTest, UnreachableSendersSilentHopIsAskedOnceMoreAndCanAnswer) {
  // !H from r6 for TTL >= 7; r6's time-exceeded for TTL 6 was policed in the wave
  // but answers the single re-probe: its distance is then 6, from that answer.
  Path path = [](int ttl, int attempt, ProbeKind, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (ttl == 6) {
      if (attempt < 3) return std::nullopt;
      return Answer{TimeExceeded(kHop[6])};
    }
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return Answer{Unreachable(kHop[6], 1, ttl - 6), 200ms};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kUnreachable);
  EXPECT_EQ(r.marker, "!H");
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
  EXPECT_EQ(r.hops[5].address, kHop[6]);
  EXPECT_EQ(d.SentAt(6), 4);
  EXPECT_NE(Verdict(r).find("host unreachable (!H)"), std::string::npos);
}

TEST(TraceTest, NetUnreachableQuotingTheTtlBeforeTheDecrement) {
  // The lab's v4 "net_unreach": r6 has no route and answers every TTL >= 6 with !N
  // quoting TTL 1 for probe TTL 6 (before its decrement).
  Path path = [](int ttl, int, ProbeKind, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return Answer{Unreachable(kHop[6], 0, ttl - 5)};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kUnreachable);
  EXPECT_EQ(r.marker, "!N");
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
}

// --- Bookkeeping -------------------------------------------------------------

// --- Refresh rounds (serve) ---------------------------------------------------

TraceSettings RefreshEnd(ReplyType known, const IpAddress& sender, int known_last_hop,
                         int code = 0) {
  TraceSettings s = Settings();
  s.round = TraceSettings::Round::kRefreshEnd;
  s.known_reply = known;
  s.known_sender = sender;
  s.known_last_hop = known_last_hop;
  s.known_icmp_code = code;
  return s;
}

TEST(TraceTest, RefreshOfAReachedPortAsksOnlyTheDestinationAndConfirms) {
  Driver d(RefreshEnd(ReplyType::kSynAck, kDest, 7), Chain(7, ReplyType::kSynAck));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kOpen);
  EXPECT_TRUE(r.refreshed);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 7);
  // The SYN and the echo at max_hops: no router was asked anything.
  EXPECT_EQ(d.sent.size(), 2u) << d.Log();
  EXPECT_EQ(d.SentAt(30), 1);
  EXPECT_EQ(d.SentAt(30, ProbeKind::kIcmpEcho), 1);
}

TEST(TraceTest, RefreshOfAReachedPortGoesFullWhenTheAnswerOrDistanceChanged) {
  struct Case {
    const char* what;
    Path path;
  } cases[] = {
      {"now closed", Chain(7, ReplyType::kRst)},
      {"one hop further", Chain(8, ReplyType::kSynAck)},
      {"now filtered after hop 5", FilteredAfterFive(7)},
  };
  for (auto& c : cases) {
    Driver d(RefreshEnd(ReplyType::kSynAck, kDest, 7), c.path);
    TraceResult r = d.Run();
    EXPECT_FALSE(r.refreshed) << c.what;
    // A full trace: every TTL from the first was asked.
    for (int ttl = 1; ttl <= 5; ++ttl) EXPECT_GE(d.SentAt(ttl), 1) << c.what << " ttl " << ttl;
  }
}

TEST(TraceTest, RefreshOfAProhibitedPortConfirmsFromTheKnownRoutersUnreachable) {
  // The lab's !X at r5 (quoting the TTL left after its decrement).
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (ttl <= 5 || kind == ProbeKind::kIcmpEcho) return Ping(ttl, 8);
    return Answer{Unreachable(kHop[5], 13, ttl - 5)};
  };
  Driver d(RefreshEnd(ReplyType::kUnreachable, kHop[5], 5, 13), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kProhibited);
  EXPECT_TRUE(r.refreshed);
  EXPECT_TRUE(r.blocked_hop_confirmed);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  EXPECT_EQ(d.sent.size(), 2u) << d.Log();  // one answer asked of r5: the verdict itself

  // Another router's !X, or another code: news, a full trace.
  Path other = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (ttl <= 4 || kind == ProbeKind::kIcmpEcho) return Ping(ttl, 8);
    return Answer{Unreachable(kHop[4], 13, ttl - 4)};
  };
  Driver moved(RefreshEnd(ReplyType::kUnreachable, kHop[5], 5, 13), other);
  TraceResult m = moved.Run();
  EXPECT_FALSE(m.refreshed);
  ASSERT_TRUE(m.blocked_hop);
  EXPECT_EQ(m.blocked_hop->ttl, 4);
  EXPECT_GE(moved.SentAt(1), 1);
}

TEST(TraceTest, RefreshOfAProhibitedPortWhoseRejectIsPolicedEndsUnconfirmed) {
  // r5's budget is empty: no !X this round. That is no evidence either way.
  Path path = [](int ttl, int, ProbeKind kind, TimePoint) -> std::optional<Answer> {
    if (kind == ProbeKind::kIcmpEcho) return Ping(ttl, 8);
    if (ttl <= 4) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  Driver d(RefreshEnd(ReplyType::kUnreachable, kHop[5], 5, 13), path);
  TraceResult r = d.Run();
  EXPECT_TRUE(r.refreshed);
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.blocked_hop_confirmed);
  EXPECT_FALSE(r.blocked_hop);  // never another hop
  EXPECT_EQ(d.sent.size(), 2u) << d.Log();
}

TEST(TraceTest, RefreshOfAFilteredPortAsksNoRouterAndGoesFullOnAnAnswerBeyond) {
  TraceSettings s = Settings();
  s.round = TraceSettings::Round::kRefreshBlocked;
  s.known_last_hop = 5;
  Driver d(s, FilteredAfterFive(9));
  TraceResult r = d.Run();
  EXPECT_TRUE(r.refreshed);
  EXPECT_FALSE(r.blocked_hop_confirmed);  // shown stale by the service, never moved
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_EQ(d.SentAt(5), 0) << d.Log();  // r5's budget is left alone
  EXPECT_EQ(d.SentAt(6), 1);
  // The port now passes hop 6: news, a full trace.
  Driver opened(s, Chain(9, ReplyType::kSynAck));
  TraceResult o = opened.Run();
  EXPECT_FALSE(o.refreshed);
  EXPECT_EQ(o.outcome, Outcome::kOpen);
}

TEST(TraceTest, ARefreshThatMayHaveLostItsAnswerUnreadGoesFull) {
  // A silent refresh leaves the old verdict standing (stale), unless answers
  // were lost unread meanwhile: then the silence may hide news (a port that
  // opened), and the round turns into a full trace.
  TraceSettings s = Settings();
  s.round = TraceSettings::Round::kRefreshBlocked;
  s.known_last_hop = 5;
  Driver* driver = nullptr;
  Path path = [&](int ttl, int attempt, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (kind == ProbeKind::kTcpSyn && ttl == 30) driver->trace().OnRepliesLost(sent);
    return FilteredAfterFive(9)(ttl, attempt, kind, sent);
  };
  Driver d(s, path);
  driver = &d;
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_FALSE(r.refreshed) << d.Log();
  EXPECT_GE(d.SentAt(5), 1);  // a full trace asks r5 again
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
}

TEST(TraceTest, DuplicateRepliesAreCountedOnce) {
  Trace trace(Settings(2), TimePoint{});
  // TTL 2: SYN 0, echo 1, SYN 2..4; TTL 1: SYN 0..2.
  while (auto p = trace.NextProbe()) trace.OnSent(*p, TimePoint{});
  EXPECT_EQ(trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(5ms)),
            Trace::ReplyStatus::kAccepted);
  EXPECT_EQ(trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(6ms)),
            Trace::ReplyStatus::kDuplicate);
  // A duplicate carrying a different answer does not overwrite the first one.
  EXPECT_EQ(trace.OnReply(1, 0, Tcp(ReplyType::kSynAck, 2), kDest, At(7ms)),
            Trace::ReplyStatus::kDuplicate);
  for (std::uint8_t a : {1, 2}) trace.OnReply(1, a, TimeExceeded(kHop[1]), kDest, At(5ms));
  for (std::uint8_t a : {0, 2, 3, 4})
    trace.OnReply(2, a, Tcp(ReplyType::kSynAck, 2), kDest, At(5ms));
  EXPECT_EQ(trace.OnReply(2, 1, EchoReply(2), kDest, At(5ms)), Trace::ReplyStatus::kAccepted);
  EXPECT_EQ(trace.OnReply(2, 1, EchoReply(2), kDest, At(6ms)), Trace::ReplyStatus::kDuplicate);
  trace.OnTick(At(5ms), HopBook{}, false);
  ASSERT_TRUE(trace.done());
  TraceResult r;
  trace.FillResult(kDest, r);
  EXPECT_EQ(r.hops[0].answered(), 3);
  EXPECT_EQ(r.hops[0].reply, HopReply::kTimeExceeded);
  EXPECT_DOUBLE_EQ(*r.hops[0].probes[0].rtt_ms, 5.0);
  EXPECT_EQ(r.hops[1].answered(), 4);  // the SYNs only
  EXPECT_EQ(r.outcome, Outcome::kOpen);
  EXPECT_EQ(r.last_responding_hop->ttl, 2);
}

TEST(TraceTest, RepliesForProbesNeverSentAreRejected) {
  TraceSettings s = Settings(5);
  s.first_hop = 2;
  Trace trace(s, TimePoint{});
  trace.OnSent(*trace.NextProbe(), TimePoint{});  // SYN at TTL 5, attempt 0 only
  auto te = TimeExceeded(kHop[5]);
  EXPECT_EQ(trace.OnReply(5, 1, te, kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);  // not yet sent
  EXPECT_EQ(trace.OnReply(3, 0, te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(1, 0, te, kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);  // below first_hop
  EXPECT_EQ(trace.OnReply(6, 0, te, kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);  // above max_hops
  EXPECT_EQ(trace.OnReply(0, 0, te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(255, 255, te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  // A SYN-ACK "from" a router cannot mean the destination was reached.
  EXPECT_EQ(trace.OnReply(5, 0, Tcp(ReplyType::kSynAck, 5, kHop[2]), kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);
  // An answer about an echo cannot answer a SYN.
  EXPECT_EQ(trace.OnReply(5, 0, EchoReply(5), kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  Reply echo_te = te;
  echo_te.probe.protocol = packet::kProtoIcmp;
  EXPECT_EQ(trace.OnReply(5, 0, echo_te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(5, 0, te, kDest, At(1ms)), Trace::ReplyStatus::kAccepted);
  // ...nor one about a SYN an echo.
  trace.OnSent(*trace.NextProbe(), TimePoint{});  // echo at TTL 5, attempt 1
  EXPECT_EQ(trace.OnReply(5, 1, Tcp(ReplyType::kSynAck, 5), kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(5, 1, EchoReply(5), kDest, At(1ms)), Trace::ReplyStatus::kAccepted);
}

TEST(TraceTest, ProbesThatFailedToSendCountAsSilentAndCannotBeCredited) {
  TraceSettings s = Settings(2);
  s.probes_per_hop = 1;
  s.echo = false;
  Trace trace(s, TimePoint{});
  trace.OnSendFailed(*trace.NextProbe());         // SYN at TTL 2, attempt 0
  trace.OnSent(*trace.NextProbe(), TimePoint{});  // TTL 1
  trace.OnSent(*trace.NextProbe(), TimePoint{});  // TTL 2, attempt 1
  EXPECT_FALSE(trace.NextProbe());
  EXPECT_EQ(trace.probes_sent(), 2);
  EXPECT_EQ(trace.OnReply(2, 0, Tcp(ReplyType::kSynAck, 2), kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(1ms)),
            Trace::ReplyStatus::kAccepted);
  EXPECT_EQ(trace.OnReply(2, 1, Tcp(ReplyType::kSynAck, 2), kDest, At(1ms)),
            Trace::ReplyStatus::kAccepted);
  trace.OnTick(At(1ms), HopBook{}, false);
  EXPECT_TRUE(trace.done());
}

// A path where routers 1..5 answer only in the first wave (policed from then on),
// hop 6 is a router known to answer and nothing answers controls: every round is
// silent until the budget of silent rounds runs out.
Path SilentAfterTheWave() {
  return [](int ttl, int, ProbeKind kind, TimePoint sent) -> std::optional<Answer> {
    if (ttl <= 5 && kind == ProbeKind::kTcpSyn && sent < At(kWaveEnd))
      return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
}

TEST(TraceTest, PolicerWaitDoublesUpToFourTimesWithJitterAndNextDeadlineSaysWhen) {
  TraceSettings s = Settings(10);
  s.retry_backoff = 1s;
  s.max_retries = 6;
  Driver d(s, SilentAfterTheWave());
  d.book.RecordAnswer(false, 6, TimePoint{});
  TraceResult r = d.Run();
  EXPECT_FALSE(r.blocked_hop_confirmed);
  std::vector<TimePoint> starts = d.RoundStarts();
  ASSERT_EQ(starts.size(), 6u);
  // The first round follows at once when the wave's last probe is given up on: the
  // destination's echo, sent at 0 ms, after the full timeout (echoes get no early
  // deadline; the wave's SYNs were given up on at 70 ms, 4 x 10 ms + 20 ms after
  // they left).
  EXPECT_EQ(starts[0], At(1s)) << Ms(starts[0]);
  ASSERT_EQ(d.waits.size(), 5u);
  const double factor[] = {1, 2, 4, 4, 4};
  // Router 6 is known to answer: each round's controls are given up on 4 x 10 ms +
  // 20 ms after they left, not after the timeout.
  const Duration given_up = 60ms;
  for (std::size_t i = 0; i < d.waits.size(); ++i) {
    auto [entered, until] = d.waits[i];
    double wait = std::chrono::duration<double>(until - entered).count();
    EXPECT_GE(wait, 0.75 * factor[i]) << i;
    EXPECT_LE(wait, 1.25 * factor[i]) << i;
    // NextDeadline named the moment the next round went out, and nothing was sent
    // while waiting.
    EXPECT_EQ(starts[i + 1], until) << i;
    EXPECT_EQ(entered, starts[i] + given_up) << i;
  }
  for (const Sent& x : d.sent)
    for (auto [entered, until] : d.waits) EXPECT_FALSE(x.at > entered && x.at < until);
}

TEST(TraceTest, JitterDiffersBetweenTraces) {
  auto first_wait = [](std::uint64_t seed) {
    Driver d(Settings(), SilentAfterTheWave(), seed);
    d.book.RecordAnswer(false, 6, TimePoint{});
    d.Run();
    return d.waits.at(0).second - d.waits.at(0).first;
  };
  EXPECT_NE(first_wait(1), first_wait(2));
}

TEST(TraceTest, NextDeadlineIsTheEarliestOutstandingDeadline) {
  TraceSettings s = Settings(3);
  s.probes_per_hop = 1;
  s.timeout = 500ms;
  s.echo = false;
  Trace trace(s, TimePoint{});
  EXPECT_FALSE(trace.NextDeadline());  // nothing outstanding yet
  // SYN at 3 (the destination probe), then the window: 1, 2, 3, 50 ms apart.
  trace.OnSent(*trace.NextProbe(), At(0ms));
  for (int i = 0; i < 3; ++i) trace.OnSent(*trace.NextProbe(), At(100ms + i * 50ms));
  // No answer yet, so no round trip to go by: the timeout of the oldest probe.
  EXPECT_EQ(trace.NextDeadline(), At(500ms));
  // A 20 ms answer: the others are given up on 4 x 20 ms + 20 ms after they left.
  trace.OnReply(3, 0, TimeExceeded(kHop[3]), kDest, At(20ms));
  EXPECT_EQ(trace.NextDeadline(), At(200ms));
  trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(120ms));
  EXPECT_EQ(trace.NextDeadline(), At(250ms));
  trace.OnReply(2, 0, TimeExceeded(kHop[2]), kDest, At(170ms));
  EXPECT_EQ(trace.NextDeadline(), At(300ms));
  trace.OnTick(At(299ms), HopBook{}, false);
  EXPECT_EQ(trace.mode(), TraceMode::kDiscover);  // TTL 3's window probe still out
  trace.OnTick(At(300ms), HopBook{}, false);
  // Hop 3 answered: the window grew to max_hops and nothing is left to ask.
  EXPECT_TRUE(trace.done());
  EXPECT_FALSE(trace.NextDeadline());
}

TEST(TraceTest, DiscoveryPatienceIsFourOfTheSlowestRoundTripsPlus20MsAtMostTheTimeout) {
  TraceSettings s = Settings(8);
  s.probes_per_hop = 1;
  s.gap_limit = 3;
  s.echo = false;
  Trace trace(s, TimePoint{});
  // SYN at 8 (the destination probe), then TTLs 1..3, all at 0 ms.
  for (int i = 0; i < 4; ++i) trace.OnSent(*trace.NextProbe(), At(0ms));
  EXPECT_FALSE(trace.NextProbe());
  EXPECT_EQ(trace.NextDeadline(), At(1s));  // no answer yet: the timeout
  // Hop 1 answers in 30 ms: 4 x 30 + 20 = 140 ms for the rest. Its answer opens
  // the window to TTL 4, sent now.
  trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(30ms));
  EXPECT_EQ(trace.NextDeadline(), At(140ms));
  auto ttl4 = trace.NextProbe();
  ASSERT_TRUE(ttl4);
  EXPECT_EQ(ttl4->ttl, 4);
  trace.OnSent(*ttl4, At(30ms));
  // A slower answer (hop 2 in 100 ms) makes every silent SYN wait longer: 420 ms.
  trace.OnReply(2, 0, TimeExceeded(kHop[2]), kDest, At(100ms));
  EXPECT_EQ(trace.NextDeadline(), At(420ms));
  auto ttl5 = trace.NextProbe();
  ASSERT_TRUE(ttl5);
  trace.OnSent(*ttl5, At(100ms));
  trace.OnTick(At(419ms), HopBook{}, false);
  EXPECT_EQ(trace.mode(), TraceMode::kDiscover);
  // Hop 4 in 300 ms: 4 x 300 + 20 = 1220 ms is past the timeout, which caps it.
  trace.OnReply(4, 0, TimeExceeded(kHop[4]), kDest, At(330ms));
  EXPECT_EQ(trace.NextDeadline(), At(1s));
  trace.OnTick(At(999ms), HopBook{}, false);
  EXPECT_EQ(trace.mode(), TraceMode::kDiscover);
  // TTL 3 and the destination probe are given up on at 1 s; TTL 5 (sent at 100 ms)
  // keeps its own deadline.
  trace.OnTick(At(1s), HopBook{}, false);
  EXPECT_EQ(trace.mode(), TraceMode::kDiscover);
  EXPECT_EQ(trace.NextDeadline(), At(1100ms));
  // A late answer is still an answer: TTL 3 answered after its deadline.
  EXPECT_EQ(trace.OnReply(3, 0, TimeExceeded(kHop[3]), kDest, At(1050ms)),
            Trace::ReplyStatus::kAccepted);
}

TEST(TraceTest, ModesHaveNames) {
  EXPECT_EQ(ToString(TraceMode::kDiscover), "discover");
  EXPECT_EQ(ToString(TraceMode::kConfirm), "confirm");
  EXPECT_EQ(ToString(TraceMode::kWaitPolicer), "wait_policer");
  EXPECT_EQ(ToString(TraceMode::kDone), "done");
}

TEST(TraceTest, UnreachableMarkers) {
  EXPECT_EQ(UnreachableMarker(false, 13), "!X");
  EXPECT_EQ(UnreachableMarker(false, 9), "!X");
  EXPECT_EQ(UnreachableMarker(false, 1), "!H");
  EXPECT_EQ(UnreachableMarker(false, 0), "!N");
  EXPECT_EQ(UnreachableMarker(false, 3), "!P");
  EXPECT_EQ(UnreachableMarker(true, 1), "!X");
  EXPECT_EQ(UnreachableMarker(true, 3), "!H");
  EXPECT_EQ(UnreachableMarker(true, 0), "!N");
  EXPECT_EQ(UnreachableMarker(true, 4), "!P");  // port unreachable
  EXPECT_TRUE(IsProhibitedCode(true, 5));       // source address failed policy
  EXPECT_FALSE(IsProhibitedCode(false, 1));
}

// --- HopBook -----------------------------------------------------------------

TEST(HopBookTest, AnAnswerIsRememberedForTenMinutesPerTtlInEitherFamily) {
  HopBook book;
  TimePoint t = At(1h);
  EXPECT_FALSE(book.KnownAnswerer(false, 6, t));
  book.RecordAnswer(false, 6, t);
  EXPECT_TRUE(book.KnownAnswerer(false, 6, t));
  EXPECT_TRUE(book.KnownAnswerer(false, 6, t + HopBook::kMemory - 1s));
  EXPECT_FALSE(book.KnownAnswerer(false, 6, t + HopBook::kMemory));
  // IPv6 TTL 6 may be the same dual-stack box, or share Linux's global ICMP
  // budget with it: an IPv4 answer makes it a known answerer too, for as long.
  EXPECT_TRUE(book.KnownAnswerer(true, 6, t));
  EXPECT_TRUE(book.KnownAnswerer(true, 6, t + HopBook::kMemory - 1s));
  EXPECT_FALSE(book.KnownAnswerer(true, 6, t + HopBook::kMemory));
  EXPECT_FALSE(book.KnownAnswerer(false, 5, t));  // TTL 5 is another router
  EXPECT_FALSE(book.KnownAnswerer(true, 5, t));
  EXPECT_FALSE(book.KnownAnswerer(false, 7, t));
  // An older answer recorded late does not shorten the memory.
  book.RecordAnswer(false, 6, t - 5min);
  EXPECT_TRUE(book.KnownAnswerer(false, 6, t + HopBook::kMemory - 1s));
}

TEST(HopBookTest, SilentNeedsThreePassesRecentlyAndNoAnswer) {
  HopBook book;
  TimePoint t = At(1h);
  for (int i = 1; i < HopBook::kSilentPasses; ++i) {
    book.RecordSilentPass(true, 4, t);
    EXPECT_FALSE(book.KnownSilent(true, 4, t)) << i;
  }
  book.RecordSilentPass(true, 4, t + 1s);
  EXPECT_TRUE(book.KnownSilent(true, 4, t + 1s));
  EXPECT_FALSE(book.KnownSilent(false, 4, t + 1s));
  EXPECT_FALSE(book.KnownAnswerer(true, 4, t + 1s));
  // Memory runs from the last silent pass.
  EXPECT_TRUE(book.KnownSilent(true, 4, t + 1s + HopBook::kMemory - 1s));
  EXPECT_FALSE(book.KnownSilent(true, 4, t + 1s + HopBook::kMemory));
  // An answer makes it an answerer, and the silent passes start over.
  book.RecordAnswer(true, 4, t + 2s);
  EXPECT_FALSE(book.KnownSilent(true, 4, t + 2s));
  EXPECT_TRUE(book.KnownAnswerer(true, 4, t + 2s));
  TimePoint later = t + 2s + HopBook::kMemory;
  book.RecordSilentPass(true, 4, later);
  book.RecordSilentPass(true, 4, later);
  EXPECT_FALSE(book.KnownSilent(true, 4, later));
  book.RecordSilentPass(true, 4, later);
  EXPECT_TRUE(book.KnownSilent(true, 4, later));
}

TEST(HopBookTest, ARecentAnswerOutweighsSilentPasses) {
  HopBook book;
  TimePoint t = At(1h);
  book.RecordAnswer(false, 9, t);
  for (int i = 0; i < 10; ++i) book.RecordSilentPass(false, 9, t + 1s);
  // A policed router answers now and then: it is not a silent one.
  EXPECT_TRUE(book.KnownAnswerer(false, 9, t + 1s));
  EXPECT_FALSE(book.KnownSilent(false, 9, t + 1s));
  // Once the answer is forgotten, the passes since it speak.
  EXPECT_TRUE(book.KnownSilent(false, 9, t + HopBook::kMemory));
}

TEST(HopBookTest, AnAnswerInOneFamilyOutweighsSilentPassesInTheOther) {
  // IPv6 probes passed TTL 4 silently (its budget went to IPv4), and it answered
  // IPv4 meanwhile: a starved router, not one that never answers.
  HopBook book;
  TimePoint t = At(1h);
  for (int i = 0; i < HopBook::kSilentPasses; ++i) book.RecordSilentPass(true, 4, t);
  ASSERT_TRUE(book.KnownSilent(true, 4, t));
  book.RecordAnswer(false, 4, t + 1s);
  EXPECT_TRUE(book.KnownAnswerer(true, 4, t + 1s));
  EXPECT_FALSE(book.KnownSilent(true, 4, t + 1s));
  // The answer is only remembered for kMemory; the silent passes (not reset by an
  // answer in the other family) then speak again, if recent.
  for (int i = 0; i < HopBook::kSilentPasses; ++i)
    book.RecordSilentPass(true, 4, t + HopBook::kMemory);
  EXPECT_TRUE(book.KnownSilent(true, 4, t + 1s + HopBook::kMemory));
  // The other way round as well.
  for (int i = 0; i < HopBook::kSilentPasses; ++i) book.RecordSilentPass(false, 8, t);
  book.RecordAnswer(true, 8, t);
  EXPECT_FALSE(book.KnownSilent(false, 8, t));
  EXPECT_TRUE(book.KnownAnswerer(false, 8, t));
}

}  // namespace
}  // namespace portpath::probe
