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

TEST(SchedulerTest, FirstRoundStartsWithinTheJitterAndThenEveryInterval) {
  Scheduler s(42);
  s.SetTargets({{"a:80", {10s, 1s}}}, At(0ms));
  // The first round fires somewhere in [0, 1 s]: by 1 s it has.
  EXPECT_TRUE(Contains(s.TakeDue(At(1000ms)), "a:80"));
  EXPECT_TRUE(s.running("a:80"));
  s.MarkFinished("a:80");
  EXPECT_TRUE(s.TakeDue(At(9999ms)).empty());
  auto second = s.TakeDue(At(11001ms));
  EXPECT_TRUE(Contains(second, "a:80"));
}

TEST(SchedulerTest, ADueTargetStillRunningSkipsTheRoundAndCountsIt) {
  Scheduler s(1);
  s.SetTargets({{"a:80", {5s, 0s}}}, At(0ms));
  EXPECT_TRUE(Contains(s.TakeDue(At(0ms)), "a:80"));
  // Never finished: the next two rounds are skipped, not overlapped.
  EXPECT_TRUE(s.TakeDue(At(5000ms)).empty());
  EXPECT_TRUE(s.TakeDue(At(10000ms)).empty());
  EXPECT_EQ(s.skipped("a:80"), 2u);
  s.MarkFinished("a:80");
  EXPECT_TRUE(Contains(s.TakeDue(At(15000ms)), "a:80"));
  EXPECT_EQ(s.skipped("a:80"), 2u);
}

TEST(SchedulerTest, ALateLoopDoesNotMakeTheScheduleDrift) {
  Scheduler s(1);
  s.SetTargets({{"a:80", {10s, 0s}}}, At(0ms));
  s.TakeDue(At(0ms));
  s.MarkFinished("a:80");
  s.TakeDue(At(13000ms));  // the loop woke 3 s late
  s.MarkFinished("a:80");
  // The next round is still at 20 s, not at 23 s.
  EXPECT_TRUE(s.TakeDue(At(19999ms)).empty());
  EXPECT_TRUE(Contains(s.TakeDue(At(20000ms)), "a:80"));
}

TEST(SchedulerTest, AReloadKeepsUnchangedTargetsAndDropsRemovedOnes) {
  Scheduler s(1);
  s.SetTargets({{"a:80", {5s, 0s}}, {"b:80", {5s, 0s}}}, At(0ms));
  s.TakeDue(At(0ms));  // both running
  s.SetTargets({{"a:80", {5s, 0s}}, {"c:80", {5s, 0s}}}, At(1000ms));
  EXPECT_TRUE(s.running("a:80"));  // the running trace is not forgotten
  EXPECT_FALSE(s.running("b:80"));
  EXPECT_EQ(s.skipped("b:80"), 0u);
  auto due = s.TakeDue(At(1000ms));
  EXPECT_TRUE(Contains(due, "c:80"));
  EXPECT_FALSE(Contains(due, "a:80"));
}

TEST(SchedulerTest, JitterSpreadsTargetsWithTheSameInterval) {
  Scheduler s(7);
  std::map<std::string, ScheduleSettings> targets;
  for (int i = 0; i < 100; ++i) targets["t" + std::to_string(i) + ":80"] = {30s, 3s};
  s.SetTargets(targets, At(0ms));
  auto at_once = s.TakeDue(At(100ms));
  EXPECT_LT(at_once.size(), 20u);  // about 100 * 0.1 s / 3 s
  EXPECT_EQ(s.TakeDue(At(3000ms)).size() + at_once.size(), 100u);
}

}  // namespace
}  // namespace portpath::exporter
