#include "probe/hop_pacer.h"

#include <gtest/gtest.h>

#include <chrono>

namespace portpath::probe {
namespace {

using namespace std::chrono_literals;

TimePoint At(Duration d) { return TimePoint{} + 1h + d; }

// One second at `send_rate` probes a second, `answer_rate` of them answered.
void Traffic(HopPacer& pacer, Duration from, int send_rate, int answer_rate) {
  for (int i = 0; i < send_rate; ++i) {
    TimePoint t = At(from + Duration(1s) * i / send_rate);
    pacer.OnSent(t);
    if (i * answer_rate / send_rate != (i + 1) * answer_rate / send_rate) pacer.OnAnswered(t);
  }
}

TEST(HopPacerTest, UnlimitedUntilAControlIsStarved) {
  HopPacer pacer;
  Traffic(pacer, 0s, 5000, 1000);
  EXPECT_FALSE(pacer.limited());
  EXPECT_TRUE(pacer.TryTake(At(1s)));
  EXPECT_EQ(pacer.WaitTime(At(1s)), Duration::zero());
}

TEST(HopPacerTest, AStarvedRouterIsPacedAtTheAnswersItGave) {
  // Linux's global budget: 1000 answers a second, asked for 2000 a second.
  HopPacer pacer;
  Traffic(pacer, 0s, 2000, 1000);
  Traffic(pacer, 1s, 2000, 1000);
  pacer.Starved(At(1999ms), At(1990ms));
  ASSERT_TRUE(pacer.limited());
  // Over the two windows: 2000 answers in 2 s.
  EXPECT_NEAR(pacer.rate(), 1000, 10);
}

TEST(HopPacerTest, StarvationReportedManyTimesDoesNotCompound) {
  // Controls given up on after a few round trips report starvation many times a
  // second; each report sets the rate to what the router gives, it does not cut
  // the last rate again (a compounding cut would reach 1/s within a second).
  HopPacer pacer;
  Traffic(pacer, 0s, 2000, 1000);
  Traffic(pacer, 1s, 2000, 1000);
  for (int i = 0; i < 10; ++i) {
    TimePoint now = At(1999ms + Duration(1ms) * i);
    pacer.Starved(now, now);
  }
  EXPECT_NEAR(pacer.rate(), 1000, 10);
}

TEST(HopPacerTest, AReportNeverSpeedsAPacedTtlUp) {
  HopPacer pacer;
  Traffic(pacer, 0s, 2000, 1000);
  Traffic(pacer, 1s, 2000, 1000);
  pacer.Starved(At(1999ms), At(1990ms));
  ASSERT_NEAR(pacer.rate(), 1000, 10);
  // More answers than before come in (other routers at this TTL), and more probes
  // go out on credit: a new report keeps the rate.
  Traffic(pacer, 2s, 6000, 3000);
  pacer.Starved(At(2999ms), At(2995ms));
  EXPECT_NEAR(pacer.rate(), 1000, 10);
}

TEST(HopPacerTest, AOncePerSecondPolicerBringsTheRateDownToTheMinimum) {
  // Linux's per-destination limit: one answer a second.
  HopPacer pacer;
  Traffic(pacer, 0s, 100, 1);
  Traffic(pacer, 1s, 100, 1);
  pacer.Starved(At(1999ms), At(1990ms));
  EXPECT_NEAR(pacer.rate(), HopPacer::kMinRate, 0.01);
  EXPECT_TRUE(pacer.TryTake(At(3s)));
  EXPECT_FALSE(pacer.TryTake(At(3s) + 10ms));
  EXPECT_GT(pacer.WaitTime(At(3s) + 10ms), 900ms);
}

TEST(HopPacerTest, NeverFasterThanWhatWasBeingSent) {
  // Answers to other traces' earlier probes can outnumber what is sent now.
  HopPacer pacer;
  Traffic(pacer, 0s, 100, 100);
  Traffic(pacer, 1s, 100, 100);
  for (int i = 0; i < 300; ++i) pacer.OnAnswered(At(1900ms));
  pacer.Starved(At(1999ms), At(1990ms));
  EXPECT_NEAR(pacer.rate(), 100, 1);
}

TEST(HopPacerTest, RatesAreTakenOverTheTimeTheCountsCover) {
  // A window rolls at the first event a second or more after it began, so the one
  // before can span nearly 2 s: here 0 to 1.9 s (1000 answers, then a lull), and
  // 100 more answers until 2 s. The rate is over wall time, lulls included: 1100
  // answers in 2 s is 550 a second (the router gave 1000 a second while asked; the
  // lower reading leaves room for the answers it gives that this TTL does not count).
  HopPacer pacer;
  for (int i = 0; i < 2000; ++i) {
    TimePoint t = At(Duration(900ms) * i / 2000);
    pacer.OnSent(t);
    if (i % 2 == 0) pacer.OnAnswered(t);
  }
  for (int i = 0; i < 200; ++i) {
    TimePoint t = At(1900ms + Duration(100ms) * i / 200);
    pacer.OnSent(t);
    if (i % 2 == 0) pacer.OnAnswered(t);
  }
  pacer.Starved(At(2s), At(1990ms));
  EXPECT_NEAR(pacer.rate(), 550, 10);
}

}  // namespace
}  // namespace portpath::probe
