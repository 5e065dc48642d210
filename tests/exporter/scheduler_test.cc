#include "exporter/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace portpath::exporter {
namespace {

using namespace std::chrono_literals;

probe::TimePoint At(std::chrono::milliseconds ms) { return probe::TimePoint(ms); }

bool Contains(const std::vector<std::string>& v, const std::string& key) {
  return std::find(v.begin(), v.end(), key) != v.end();
}

// Steps a fake clock in 10 ms until `key` is due; returns when (or -1 ms).
std::chrono::milliseconds FirstDue(Scheduler& s, const std::string& key,
                                   std::chrono::milliseconds from, std::chrono::milliseconds to) {
  for (auto t = from; t <= to; t += 10ms)
    if (Contains(s.TakeDue(At(t)), key)) return t;
  return -1ms;
}

TEST(SchedulerTest, FirstRoundComesAtTheKeysPhaseWithinOneIntervalThenEveryInterval) {
  Scheduler s(42);
  s.SetTargets({{"a:80", {10s, 1s}}}, At(0ms));
  auto first = FirstDue(s, "a:80", 0ms, 11000ms);
  ASSERT_GE(first, 0ms);  // phase < 10 s, plus at most 1 s of jitter
  EXPECT_TRUE(s.running("a:80"));
  s.MarkFinished("a:80");
  // The next round: one interval later, give or take the jitter.
  EXPECT_TRUE(s.TakeDue(At(first + 8990ms)).empty());
  EXPECT_TRUE(Contains(s.TakeDue(At(first + 11010ms)), "a:80"));
}

TEST(SchedulerTest, ThePhaseIsStableAcrossRestarts) {
  Scheduler one(1), two(99);
  one.SetTargets({{"db:5432", {60s, 0s}}}, At(0ms));
  two.SetTargets({{"db:5432", {60s, 0s}}}, At(0ms));
  EXPECT_EQ(FirstDue(one, "db:5432", 0ms, 60000ms), FirstDue(two, "db:5432", 0ms, 60000ms));
}

TEST(SchedulerTest, ADueTargetStillRunningSkipsTheRoundAndCountsIt) {
  Scheduler s(1);
  s.SetTargets({{"a:80", {5s, 0s}}}, At(0ms));
  auto first = FirstDue(s, "a:80", 0ms, 5000ms);
  ASSERT_GE(first, 0ms);
  // Never finished: the next two rounds are skipped, not overlapped.
  EXPECT_TRUE(s.TakeDue(At(first + 5000ms)).empty());
  EXPECT_TRUE(s.TakeDue(At(first + 10000ms)).empty());
  EXPECT_EQ(s.skipped("a:80"), 2u);
  s.MarkFinished("a:80");
  EXPECT_TRUE(Contains(s.TakeDue(At(first + 15000ms)), "a:80"));
  EXPECT_EQ(s.skipped("a:80"), 2u);
}

TEST(SchedulerTest, ALateLoopDoesNotMakeTheScheduleDrift) {
  Scheduler s(1);
  s.SetTargets({{"a:80", {10s, 0s}}}, At(0ms));
  auto first = FirstDue(s, "a:80", 0ms, 10000ms);
  ASSERT_GE(first, 0ms);
  s.MarkFinished("a:80");
  s.TakeDue(At(first + 13000ms));  // the loop woke 3 s late
  s.MarkFinished("a:80");
  // The next round is still one interval after the missed slot, not 3 s later.
  EXPECT_TRUE(s.TakeDue(At(first + 19990ms)).empty());
  EXPECT_TRUE(Contains(s.TakeDue(At(first + 20000ms)), "a:80"));
}

TEST(SchedulerTest, AReloadKeepsUnchangedTargetsAndDropsRemovedOnes) {
  Scheduler s(1);
  s.SetTargets({{"a:80", {5s, 0s}}, {"b:80", {5s, 0s}}}, At(0ms));
  s.TakeDue(At(5000ms));  // both have had their first round: running
  s.SetTargets({{"a:80", {5s, 0s}}, {"c:80", {5s, 0s}}}, At(5000ms));
  EXPECT_TRUE(s.running("a:80"));  // the running trace is not forgotten
  EXPECT_FALSE(s.running("b:80"));
  EXPECT_EQ(s.skipped("b:80"), 0u);
  // The new target comes within one interval, at its own phase.
  EXPECT_GE(FirstDue(s, "c:80", 5000ms, 10000ms), 5000ms);
}

TEST(SchedulerTest, PhasesSpreadTargetsOverTheWholeInterval) {
  Scheduler s(7);
  std::map<std::string, ScheduleSettings> targets;
  for (int i = 0; i < 1000; ++i) targets["198.18.0." + std::to_string(i) + ":443"] = {30s, 0s};
  s.SetTargets(targets, At(0ms));
  std::size_t total = 0;
  for (int tenth = 1; tenth <= 10; ++tenth) {
    auto due = s.TakeDue(At(std::chrono::milliseconds(tenth * 3000 - 1)));
    // About 100 per tenth of the interval, not a burst at the start.
    EXPECT_GT(due.size(), 60u) << "tenth " << tenth;
    EXPECT_LT(due.size(), 140u) << "tenth " << tenth;
    total += due.size();
  }
  EXPECT_EQ(total, 1000u);
}

TEST(SchedulerTest, NextDueIsTheEarliestAndSkippedRoundsAreReported) {
  Scheduler s(3);
  std::map<std::string, ScheduleSettings> targets;
  for (int i = 0; i < 100; ++i) targets["t" + std::to_string(i) + ":80"] = {10s, 0s};
  s.SetTargets(targets, At(0ms));
  // NextDue is the first key TakeDue hands out, and nothing is due before it.
  auto next = s.NextDue();
  ASSERT_TRUE(next);
  EXPECT_TRUE(s.TakeDue(*next - 1ms).empty());
  auto first = s.TakeDue(*next);
  ASSERT_FALSE(first.empty());
  // One interval on, without MarkFinished: every key's round is skipped, and said so.
  std::vector<std::string> skipped;
  s.TakeDue(At(10000ms), nullptr);  // the remaining first rounds
  EXPECT_TRUE(s.TakeDue(At(20000ms), &skipped).empty());
  EXPECT_EQ(skipped.size(), 100u);
  EXPECT_EQ(s.skipped(first[0]), 1u);
  EXPECT_GT(*s.NextDue(), At(20000ms));
}

}  // namespace
}  // namespace portpath::exporter
