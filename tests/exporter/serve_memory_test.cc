// Serve mode remembers: a round that cannot confirm (ICMP policing) or that
// only refreshed (by design) never moves the blame; a confirmed one replaces.
#include <gtest/gtest.h>

#include "exporter/prober_service.h"
#include "probe/diagnosis.h"

namespace portpath::exporter {
namespace {

using probe::HopRef;
using probe::Outcome;
using probe::TraceResult;

packet::IpAddress Ip(const char* text) { return *packet::IpAddress::Parse(text); }

probe::Hop Answered(int ttl, const char* address) {
  probe::Hop h;
  h.ttl = ttl;
  h.address = Ip(address);
  h.probes.push_back({1.0, Ip(address)});
  return h;
}

probe::Hop Silent(int ttl) {
  probe::Hop h;
  h.ttl = ttl;
  h.probes.push_back({});
  return h;
}

// Filtered after hop 5 (198.51.100.18), confirmed at t=100.
TraceResult ConfirmedAtHop5() {
  TraceResult r;
  r.outcome = Outcome::kFiltered;
  r.hops = {Answered(1, "10.0.0.2"),
            Answered(2, "10.0.1.2"),
            Silent(3),
            Silent(4),
            Answered(5, "198.51.100.18"),
            Silent(6)};
  HopRef ref;
  ref.ttl = 5;
  ref.address = Ip("198.51.100.18");
  r.last_responding_hop = ref;
  r.blocked_hop = ref;
  r.finished_at = 100;
  CarryConfirmedVerdict(std::nullopt, r);
  return r;
}

TEST(ServeMemoryTest, AConfirmedRoundRecordsWhenItWasConfirmed) {
  TraceResult r = ConfirmedAtHop5();
  EXPECT_EQ(r.confirmed_at, 100);
  EXPECT_FALSE(r.stale);
}

TEST(ServeMemoryTest, AnUnconfirmedRoundKeepsTheConfirmedBlockedHopMarkedStale) {
  std::optional<TraceResult> previous = ConfirmedAtHop5();
  // This round hop 5 was policed: last answer at hop 2, nothing confirmed.
  TraceResult now;
  now.outcome = Outcome::kFiltered;
  now.hops = {Answered(1, "10.0.0.2"), Answered(2, "10.0.1.2"), Silent(3), Silent(4), Silent(5)};
  HopRef two;
  two.ttl = 2;
  two.address = Ip("10.0.1.2");
  now.last_responding_hop = two;
  now.blocked_hop_confirmed = false;
  now.unconfirmed_hop_ttl = 5;
  now.finished_at = 160;
  CarryConfirmedVerdict(previous, now);
  ASSERT_TRUE(now.blocked_hop);
  EXPECT_EQ(now.blocked_hop->ttl, 5);  // never moved to hop 2 by policing
  EXPECT_EQ(*now.blocked_hop->address, Ip("198.51.100.18"));
  EXPECT_TRUE(now.stale);
  EXPECT_TRUE(now.blocked_hop_confirmed);
  EXPECT_EQ(now.confirmed_at, 100);
}

TEST(ServeMemoryTest, AnAnswerFromBeyondTheOldBlockedHopIsNotOverruled) {
  std::optional<TraceResult> previous = ConfirmedAtHop5();
  TraceResult now;
  now.outcome = Outcome::kFiltered;
  now.hops = {Answered(1, "10.0.0.2"), Answered(6, "203.0.113.2")};
  HopRef six;
  six.ttl = 6;
  six.address = Ip("203.0.113.2");
  now.last_responding_hop = six;
  now.blocked_hop_confirmed = false;
  now.unconfirmed_hop_ttl = 7;
  CarryConfirmedVerdict(previous, now);
  EXPECT_FALSE(now.blocked_hop);  // unsure, not the old hop: the path got further
  EXPECT_FALSE(now.stale);
}

TEST(ServeMemoryTest, AnotherRouterAtATtlIsAPathChangeNotCarried) {
  std::optional<TraceResult> previous = ConfirmedAtHop5();
  TraceResult now;
  now.outcome = Outcome::kFiltered;
  now.hops = {Answered(1, "10.0.0.2"), Answered(2, "192.168.9.9")};
  now.blocked_hop_confirmed = false;
  now.unconfirmed_hop_ttl = 3;
  CarryConfirmedVerdict(previous, now);
  EXPECT_FALSE(now.blocked_hop);
  EXPECT_FALSE(now.stale);
}

TEST(ServeMemoryTest, AnOpenPortIsNeverReplacedByAnOldBlock) {
  std::optional<TraceResult> previous = ConfirmedAtHop5();
  TraceResult now;
  now.outcome = Outcome::kOpen;
  now.finished_at = 200;
  CarryConfirmedVerdict(previous, now);
  EXPECT_EQ(now.outcome, Outcome::kOpen);
  EXPECT_FALSE(now.stale);
  EXPECT_EQ(now.confirmed_at, 200);
}

TEST(ServeMemoryTest, ARefreshOfABlockedPortIsShownStaleWithTheConfirmedHops) {
  std::optional<TraceResult> previous = ConfirmedAtHop5();
  // The refresh asked hop 5 and 6 only: hop 5 answered, 6 stayed silent.
  TraceResult now;
  now.outcome = Outcome::kFiltered;
  now.refreshed = true;
  now.hops = {Silent(1), Silent(2), Silent(3), Silent(4), Answered(5, "198.51.100.18"), Silent(6)};
  HopRef five;
  five.ttl = 5;
  five.address = Ip("198.51.100.18");
  now.last_responding_hop = five;
  now.blocked_hop_confirmed = false;
  now.unconfirmed_hop_ttl = 6;
  CarryConfirmedVerdict(previous, now);
  ASSERT_TRUE(now.blocked_hop);
  EXPECT_EQ(now.blocked_hop->ttl, 5);
  EXPECT_TRUE(now.stale);
  ASSERT_EQ(now.hops.size(), previous->hops.size());  // the confirmed round's hop list
  EXPECT_TRUE(now.hops[0].address);
}

// Open at hop 7 (the destination 192.0.2.10), confirmed at t=100, ping
// diverging after hop 5 (made up, to see it carried).
TraceResult OpenAtHop7() {
  TraceResult r;
  r.outcome = Outcome::kOpen;
  r.destination_reached = true;
  r.hops = {Answered(1, "10.0.0.2"),
            Answered(2, "10.0.1.2"),
            Silent(3),
            Silent(4),
            Answered(5, "198.51.100.18"),
            Answered(6, "203.0.113.2"),
            Answered(7, "192.0.2.10")};
  r.hops.back().reply = probe::HopReply::kSynAck;
  HopRef ref;
  ref.ttl = 7;
  ref.address = Ip("192.0.2.10");
  r.last_responding_hop = ref;
  r.icmp_reachable = true;
  r.divergence_hop = 5;
  r.finished_at = 100;
  CarryConfirmedVerdict(std::nullopt, r);
  return r;
}

TEST(ServeMemoryTest, AConfirmingRefreshShowsTheFullRoundsHopsWithItsFreshAnswer) {
  TraceResult previous = OpenAtHop7();
  // The refresh asked only the destination: one row, its SYN-ACK, 2.5 ms.
  TraceResult now;
  now.outcome = Outcome::kOpen;
  now.destination_reached = true;
  now.refreshed = true;
  probe::Hop fresh;
  fresh.ttl = 7;
  fresh.address = Ip("192.0.2.10");
  fresh.reply = probe::HopReply::kSynAck;
  fresh.probes.push_back({2.5, Ip("192.0.2.10")});
  now.hops = {fresh};
  HopRef ref;
  ref.ttl = 7;
  ref.address = Ip("192.0.2.10");
  now.last_responding_hop = ref;
  now.icmp_reachable = true;
  now.finished_at = 200;
  KeepFullRoundHops(&previous, now);
  CarryConfirmedVerdict(&previous, now);
  ASSERT_EQ(now.hops.size(), previous.hops.size());
  EXPECT_EQ(now.hops[4].address, Ip("198.51.100.18"));
  EXPECT_EQ(now.hops[6].probes.at(0).rtt_ms, 2.5);  // this round's answer
  EXPECT_EQ(now.divergence_hop, 5);
  EXPECT_FALSE(now.stale);  // confirmed by this round's own answer
  EXPECT_EQ(now.confirmed_at, 200);
  EXPECT_FALSE(probe::PathChanged(previous, now));

  // A refresh that went full (not refreshed) or another outcome is left alone.
  TraceResult full = now;
  full.refreshed = false;
  full.hops = {fresh};
  KeepFullRoundHops(&previous, full);
  EXPECT_EQ(full.hops.size(), 1u);
  TraceResult closed = full;
  closed.refreshed = true;
  closed.outcome = Outcome::kClosed;
  KeepFullRoundHops(&previous, closed);
  EXPECT_EQ(closed.hops.size(), 1u);
}

}  // namespace
}  // namespace portpath::exporter
