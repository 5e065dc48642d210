#include "probe/trace.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
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
// Hop n (TTL n) answers from kHop[n]; the lab's addresses (tests/lab/lab.sh).
const IpAddress kHop[] = {Ip("0.0.0.0"),      Ip("10.0.0.2"),     Ip("10.0.1.2"),
                          Ip("10.0.2.2"),     Ip("198.51.100.2"), Ip("198.51.100.18"),
                          Ip("203.0.113.2"),  Ip("203.0.113.66"), Ip("203.0.113.67"),
                          Ip("203.0.113.68"), Ip("203.0.113.69")};

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
Reply Tcp(ReplyType type, const IpAddress& from = kDest) {
  Reply r;
  r.type = type;
  r.from = from;
  return r;
}

struct Sent {
  int ttl;
  int attempt;
  TimePoint at;
};

/// What the network does with a probe: nullopt = silence, else a reply after delay.
struct Answer {
  Reply reply;
  Duration delay = 10ms;
};
using Path = std::function<std::optional<Answer>(int ttl, int attempt, TimePoint sent)>;

/// Drives one Trace over a simulated path with a fake clock, in the engine's order:
/// send what is due, wait for the next reply or deadline, deliver, tick.
class Driver {
 public:
  Driver(TraceSettings settings, Path path, std::uint64_t seed = 1)
      : trace_(settings, TimePoint{}, seed), path_(std::move(path)) {}

  TraceResult Run() {
    for (int guard = 0; trace_.state() != TraceState::kDone; ++guard) {
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
        statuses.push_back(trace_.OnReply(static_cast<std::uint8_t>(ttl),
                                          static_cast<std::uint8_t>(attempt), reply, kDest, now_));
        pending_.erase(pending_.begin());
      }
      trace_.OnTick(now_);
      if (trace_.state() == TraceState::kBackoff)
        backoffs.push_back({now_, *trace_.NextDeadline()});
    }
    finished_at = now_;
    TraceResult r;
    r.address = kDest;
    r.port = 443;
    trace_.FillResult(kDest, r);
    return r;
  }

  void SendDue() {
    while (auto p = trace_.NextProbe(now_)) {
      trace_.OnSent(*p, now_);
      sent.push_back({p->ttl, p->attempt, now_});
      if (auto a = path_(p->ttl, p->attempt, now_))
        pending_.emplace(now_ + a->delay, std::make_tuple(int{p->ttl}, int{p->attempt}, a->reply));
    }
  }

  Trace& trace() { return trace_; }
  TimePoint now() const { return now_; }
  void set_now(TimePoint t) { now_ = t; }
  int SentAt(int ttl) const {
    int n = 0;
    for (const Sent& s : sent) n += s.ttl == ttl;
    return n;
  }

  std::vector<Sent> sent;
  std::vector<Trace::ReplyStatus> statuses;
  std::vector<std::pair<TimePoint, TimePoint>> backoffs;  // (entered, until)
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

// A chain of routers kHop[1..dist-1] and a destination at `dist` answering `end`.
Path Chain(int dist, ReplyType end, std::vector<int> silent = {}) {
  return [=](int ttl, int, TimePoint) -> std::optional<Answer> {
    if (ttl >= dist) return Answer{Tcp(end)};
    for (int s : silent)
      if (s == ttl) return std::nullopt;
    return Answer{TimeExceeded(kHop[ttl])};
  };
}

TEST(TraceTest, InitialWaveIsTtlMajorWithProbesPerHopEach) {
  TraceSettings s = Settings(4);
  s.probes_per_hop = 3;
  Trace trace(s, TimePoint{});
  std::vector<std::pair<int, int>> order;
  while (auto p = trace.NextProbe(TimePoint{})) {
    order.emplace_back(p->ttl, p->attempt);
    trace.OnSent(*p, TimePoint{});
  }
  std::vector<std::pair<int, int>> want;
  for (int ttl = 1; ttl <= 4; ++ttl)
    for (int a = 0; a < 3; ++a) want.emplace_back(ttl, a);
  EXPECT_EQ(order, want);
  EXPECT_EQ(trace.probes_sent(), 12);
}

TEST(TraceTest, FirstHopSkipsLowerTtls) {
  TraceSettings s = Settings(6);
  s.first_hop = 5;
  s.probes_per_hop = 1;
  Trace trace(s, TimePoint{});
  auto p = trace.NextProbe(TimePoint{});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ttl, 5);
}

TEST(TraceTest, TerminalReplyCancelsHigherTtls) {
  Trace trace(Settings(30), TimePoint{});
  for (int i = 0; i < 4; ++i) trace.OnSent(*trace.NextProbe(TimePoint{}), TimePoint{});  // 1,1,1,2
  // The destination is one hop away: TTL 2's first probe got its SYN-ACK.
  ASSERT_EQ(trace.OnReply(2, 0, Tcp(ReplyType::kSynAck), kDest, At(1ms)),
            Trace::ReplyStatus::kAccepted);
  std::vector<int> rest;
  while (auto p = trace.NextProbe(At(1ms))) {
    rest.push_back(p->ttl);
    trace.OnSent(*p, At(1ms));
  }
  EXPECT_EQ(rest, (std::vector<int>{2, 2}));  // TTL 2 completes its probes; 3..30 are never sent
  EXPECT_EQ(trace.probes_sent(), 6);
}

TEST(TraceTest, ConcludesAfterOneRoundTripWhenEveryHopAndTheDestinationAnswer) {
  Driver d(Settings(), Chain(7, ReplyType::kSynAck));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kOpen);
  EXPECT_TRUE(r.destination_reached);
  ASSERT_TRUE(r.last_responding_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 7);
  EXPECT_EQ(r.last_responding_hop->address, kDest);
  EXPECT_FALSE(r.blocked_hop);
  ASSERT_EQ(r.hops.size(), 7u);
  EXPECT_EQ(r.hops[0].address, kHop[1]);
  EXPECT_EQ(r.hops[6].reply, HopReply::kSynAck);
  EXPECT_EQ(r.retry_rounds, 0);
  // One 10 ms round trip, not a 1 s timeout.
  EXPECT_EQ(d.finished_at, At(10ms));
  EXPECT_FALSE(d.trace().NextDeadline());
  EXPECT_EQ(Verdict(r), "port 443/tcp is open: 192.0.2.10 answered SYN-ACK at hop 7.");
}

TEST(TraceTest, SilentMiddleHopsDelayConclusionToOneTimeoutNotMore) {
  // The lab's path: r3 and r4 never answer time-exceeded, the port is closed.
  Driver d(Settings(), Chain(7, ReplyType::kRst, {3, 4}));
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kClosed);
  EXPECT_EQ(r.last_responding_hop->ttl, 7);
  EXPECT_EQ(r.hops[2].answered(), 0);
  EXPECT_EQ(r.hops[3].answered(), 0);
  EXPECT_EQ(r.retry_rounds, 0);
  EXPECT_EQ(d.finished_at, At(1s));
}

TEST(TraceTest, SilenceAfterHopNIsFilteredAtHopN) {
  // r5 drops the port: everything beyond TTL 5 is silent.
  Path path = [](int ttl, int, TimePoint) -> std::optional<Answer> {
    if (ttl <= 5) return Answer{TimeExceeded(kHop[ttl])};
    return std::nullopt;
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  ASSERT_TRUE(r.last_responding_hop);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.last_responding_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, Ip("198.51.100.18"));
  EXPECT_EQ(r.blocked_hop->address_class, AddressClass::kDocumentation);
  // Hops up to gap_limit past the last answer are shown (as silent).
  EXPECT_EQ(r.hops.size(), 10u);
  // Every hop up to 5 answered in full, so one re-probe round of TTLs 6..10 that
  // stays silent is enough: about two timeouts in all.
  EXPECT_EQ(r.retry_rounds, 1);
  for (int ttl = 6; ttl <= 10; ++ttl) EXPECT_EQ(d.SentAt(ttl), 4) << ttl;
  EXPECT_EQ(d.SentAt(11), 3);
  EXPECT_EQ(d.finished_at, At(2s));
  std::string v = Verdict(r);
  EXPECT_NE(v.find("hop 5 (198.51.100.18"), std::string::npos) << v;
}

TEST(TraceTest, SilentMiddleHopsThenAnswersPointsAtTheLaterHop) {
  Path path = [](int ttl, int, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4 || ttl > 6) return std::nullopt;
    return Answer{TimeExceeded(kHop[ttl])};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_EQ(r.last_responding_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
  // The silent hops before the last answer suggest lost replies: the stretch after
  // hop 6 is re-probed max_retries times before giving up.
  EXPECT_EQ(r.retry_rounds, 3);
}

TEST(TraceTest, ProhibitedWhereTheRouterAnsweredTimeExceededOneTtlEarlier) {
  // The lab's "prohibited": r5 answers TTL 5 with time-exceeded and rejects TTL >= 6
  // with !X, quoting the TTL left after its own decrement.
  Path path = [](int ttl, int, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (ttl <= 5) return Answer{TimeExceeded(kHop[ttl])};
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
  EXPECT_EQ(d.SentAt(7), 3);  // sent in the first wave before the !X came back...
  EXPECT_EQ(d.SentAt(20), 3);
  EXPECT_EQ(r.retry_rounds, 0);  // ...but nothing more after it
}

TEST(TraceTest, ProhibitedByARouterThatNeverAnswersTimeExceeded) {
  // r5 is silent for time-exceeded; its !X for TTL 6 is lost (policing) and only the
  // TTL-7 probes draw it, quoting TTL 2 (Linux quotes the TTL after its forwarding
  // decrement for a FORWARD reject, as captured in the lab). So r5's distance is
  // 7 - 2 = 5, its true hop, not the TTL 7 that drew the error.
  Path path = [](int ttl, int, TimePoint) -> std::optional<Answer> {
    if (ttl >= 3 && ttl <= 6) return std::nullopt;
    if (ttl < 3) return Answer{TimeExceeded(kHop[ttl])};
    return Answer{Unreachable(kHop[5], 13, ttl - 5)};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kProhibited);
  ASSERT_TRUE(r.blocked_hop);
  EXPECT_EQ(r.blocked_hop->ttl, 5);
  EXPECT_EQ(r.blocked_hop->address, kHop[5]);
  // The silent TTL just before the error was asked once more.
  EXPECT_EQ(d.SentAt(6), 4);
  EXPECT_EQ(r.retry_rounds, 1);
}

TEST(TraceTest, UnreachableSendersSilentHopIsAskedOnceMoreAndCanAnswer) {
  // !H from r6 for TTL >= 7; r6's time-exceeded for TTL 6 was policed in the wave
  // but answers the single re-probe: its distance is then 6, from that answer.
  Path path = [](int ttl, int attempt, TimePoint) -> std::optional<Answer> {
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
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
  EXPECT_EQ(r.hops[5].address, kHop[6]);
  EXPECT_NE(Verdict(r).find("host unreachable (!H)"), std::string::npos);
}

TEST(TraceTest, NetUnreachableQuotingTheTtlBeforeTheDecrement) {
  // The lab's v4 "net_unreach": r6 has no route and answers every TTL >= 6 with !N
  // quoting TTL 1 for probe TTL 6 (before its decrement).
  Path path = [](int ttl, int, TimePoint) -> std::optional<Answer> {
    if (ttl == 3 || ttl == 4) return std::nullopt;
    if (ttl < 6) return Answer{TimeExceeded(kHop[ttl])};
    return Answer{Unreachable(kHop[6], 0, ttl - 5)};
  };
  Driver d(Settings(), path);
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kUnreachable);
  EXPECT_EQ(r.marker, "!N");
  EXPECT_EQ(r.blocked_hop->ttl, 6);
  EXPECT_EQ(r.blocked_hop->address, kHop[6]);
}

TEST(TraceTest, DuplicateRepliesAreCountedOnce) {
  Trace trace(Settings(2), TimePoint{});
  while (auto p = trace.NextProbe(TimePoint{})) trace.OnSent(*p, TimePoint{});
  EXPECT_EQ(trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(5ms)),
            Trace::ReplyStatus::kAccepted);
  EXPECT_EQ(trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(6ms)),
            Trace::ReplyStatus::kDuplicate);
  // A duplicate carrying a different answer does not overwrite the first one.
  EXPECT_EQ(trace.OnReply(1, 0, Tcp(ReplyType::kSynAck), kDest, At(7ms)),
            Trace::ReplyStatus::kDuplicate);
  for (std::uint8_t a : {1, 2}) trace.OnReply(1, a, TimeExceeded(kHop[1]), kDest, At(5ms));
  for (std::uint8_t a : {0, 1, 2}) trace.OnReply(2, a, Tcp(ReplyType::kSynAck), kDest, At(5ms));
  trace.OnTick(At(5ms));
  ASSERT_EQ(trace.state(), TraceState::kDone);
  TraceResult r;
  trace.FillResult(kDest, r);
  EXPECT_EQ(r.hops[0].answered(), 3);
  EXPECT_EQ(r.hops[0].reply, HopReply::kTimeExceeded);
  EXPECT_DOUBLE_EQ(*r.hops[0].probes[0].rtt_ms, 5.0);
  EXPECT_EQ(r.outcome, Outcome::kOpen);
  EXPECT_EQ(r.last_responding_hop->ttl, 2);
}

TEST(TraceTest, RepliesForProbesNeverSentAreRejected) {
  TraceSettings s = Settings(5);
  s.first_hop = 2;
  Trace trace(s, TimePoint{});
  trace.OnSent(*trace.NextProbe(TimePoint{}), TimePoint{});  // TTL 2, attempt 0 only
  auto te = TimeExceeded(kHop[2]);
  EXPECT_EQ(trace.OnReply(2, 1, te, kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);  // not yet sent
  EXPECT_EQ(trace.OnReply(3, 0, te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(1, 0, te, kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);  // below first_hop
  EXPECT_EQ(trace.OnReply(6, 0, te, kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);  // above max_hops
  EXPECT_EQ(trace.OnReply(0, 0, te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(255, 255, te, kDest, At(1ms)), Trace::ReplyStatus::kUnknownProbe);
  // A SYN-ACK "from" a router cannot mean the destination was reached.
  EXPECT_EQ(trace.OnReply(2, 0, Tcp(ReplyType::kSynAck, kHop[2]), kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(2, 0, te, kDest, At(1ms)), Trace::ReplyStatus::kAccepted);
}

TEST(TraceTest, ProbesThatFailedToSendCountAsSilentAndCannotBeCredited) {
  TraceSettings s = Settings(2);
  s.probes_per_hop = 1;
  Trace trace(s, TimePoint{});
  trace.OnSendFailed(*trace.NextProbe(TimePoint{}));         // TTL 1
  trace.OnSent(*trace.NextProbe(TimePoint{}), TimePoint{});  // TTL 2
  EXPECT_EQ(trace.probes_sent(), 1);
  EXPECT_EQ(trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(1ms)),
            Trace::ReplyStatus::kUnknownProbe);
  EXPECT_EQ(trace.OnReply(2, 0, Tcp(ReplyType::kSynAck), kDest, At(1ms)),
            Trace::ReplyStatus::kAccepted);
  trace.OnTick(At(1ms));
  EXPECT_EQ(trace.state(), TraceState::kDone);
}

// Hop 5 polices ICMP: it answers nothing in the first wave (its tokens went to other
// traffic), then one probe per second. Beyond hop 5 the port is dropped.
Path PolicedHopFive() {
  return [last = std::optional<TimePoint>()](int ttl, int,
                                             TimePoint sent) mutable -> std::optional<Answer> {
    if (ttl < 5) return Answer{TimeExceeded(kHop[ttl])};
    if (ttl > 5) return std::nullopt;
    if (sent < At(1s) || (last && sent - *last < 1s)) return std::nullopt;
    last = sent;
    return Answer{TimeExceeded(kHop[5])};
  };
}

TEST(TraceTest, RetryThatRecoversARateLimitedHopChangesTheVerdict) {
  TraceSettings no_retries = Settings();
  no_retries.max_retries = 0;
  TraceResult without = Driver(no_retries, PolicedHopFive()).Run();
  EXPECT_EQ(without.blocked_hop->ttl, 4);  // the wrong hop: r5 was merely rate limited

  Driver d(Settings(), PolicedHopFive());
  TraceResult with = d.Run();
  EXPECT_EQ(with.outcome, Outcome::kFiltered);
  ASSERT_TRUE(with.blocked_hop);
  EXPECT_EQ(with.blocked_hop->ttl, 5);
  EXPECT_EQ(with.blocked_hop->address, kHop[5]);
  EXPECT_NE(Verdict(with), Verdict(without));
  EXPECT_NE(Verdict(with).find("hop 5 (198.51.100.18"), std::string::npos);
  // The recovering round does not count against max_retries.
  EXPECT_GT(with.retry_rounds, 3);
  EXPECT_LE(with.retry_rounds, TraceSettings{}.max_rounds);
}

TEST(TraceTest, NoHopAnsweredGetsTwiceThePatience) {
  Driver d(Settings(), [](int, int, TimePoint) -> std::optional<Answer> { return std::nullopt; });
  TraceResult r = d.Run();
  EXPECT_EQ(r.outcome, Outcome::kFiltered);
  EXPECT_FALSE(r.last_responding_hop);
  EXPECT_FALSE(r.blocked_hop);
  EXPECT_EQ(r.retry_rounds, 2 * TraceSettings{}.max_retries);
  EXPECT_EQ(r.hops.size(), 5u);  // first_hop .. gap_limit
  for (const Hop& h : r.hops) EXPECT_FALSE(h.address);
  EXPECT_NE(Verdict(r).find("no hop answered at all"), std::string::npos);
}

TEST(TraceTest, BackoffDoublesUpToFourTimesWithJitterAndNextDeadlineSaysWhen) {
  TraceSettings s = Settings(10);
  s.retry_backoff = 1s;
  Driver d(s, [](int, int, TimePoint) -> std::optional<Answer> { return std::nullopt; });
  d.Run();
  // Round starts: the wave at 0, then one round per timeout or backoff.
  std::vector<TimePoint> starts;
  for (const Sent& x : d.sent)
    if (starts.empty() || x.at != starts.back()) starts.push_back(x.at);
  ASSERT_EQ(starts.size(), 7u);  // the wave and 6 retry rounds
  EXPECT_EQ(starts[1], At(1s));  // the first re-probe follows the timeout at once
  ASSERT_EQ(d.backoffs.size(), 5u);
  const double factor[] = {1, 2, 4, 4, 4};
  for (std::size_t i = 0; i < d.backoffs.size(); ++i) {
    auto [entered, until] = d.backoffs[i];
    double wait = std::chrono::duration<double>(until - entered).count();
    EXPECT_GE(wait, 0.75 * factor[i]) << i;
    EXPECT_LE(wait, 1.25 * factor[i]) << i;
    // NextDeadline named the moment the next round went out, and nothing was sent
    // while waiting.
    EXPECT_EQ(starts[i + 2], until) << i;
    EXPECT_EQ(entered, starts[i + 1] + s.timeout) << i;
  }
}

TEST(TraceTest, JitterDiffersBetweenTraces) {
  auto first_backoff = [](std::uint64_t seed) {
    Driver d(
        Settings(5), [](int, int, TimePoint) -> std::optional<Answer> { return std::nullopt; },
        seed);
    d.Run();
    return d.backoffs.at(0).second - d.backoffs.at(0).first;
  };
  EXPECT_NE(first_backoff(1), first_backoff(2));
}

TEST(TraceTest, NextDeadlineIsTheEarliestOutstandingTimeout) {
  TraceSettings s = Settings(2);
  s.probes_per_hop = 1;
  s.timeout = 500ms;
  Trace trace(s, TimePoint{});
  EXPECT_FALSE(trace.NextDeadline());  // nothing outstanding yet
  trace.OnSent(*trace.NextProbe(At(0ms)), At(0ms));
  trace.OnSent(*trace.NextProbe(At(100ms)), At(100ms));
  EXPECT_EQ(trace.NextDeadline(), At(500ms));
  trace.OnReply(1, 0, TimeExceeded(kHop[1]), kDest, At(20ms));
  EXPECT_EQ(trace.NextDeadline(), At(600ms));
  trace.OnTick(At(600ms));  // TTL 2 timed out: re-probe round queued at once
  EXPECT_EQ(trace.state(), TraceState::kProbing);
  EXPECT_TRUE(trace.NextProbe(At(600ms)));
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

}  // namespace
}  // namespace portpath::probe
