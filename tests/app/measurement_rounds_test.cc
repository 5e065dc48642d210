// Past the engine's slots, rounds wait for slots to free up: every target comes
// back with its own result, named, and never a blank or half-started round
// (issue 8: 3,900 targets with --flows 16 printed "target":"","port":0).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "probe/measurement.h"

namespace portpath::probe {
namespace {

using namespace std::chrono_literals;

/// A network where nothing answers, on a clock that moves only while the engine
/// waits; it records how many traces ran at once.
class SilentNetwork : public PacketSender, public PacketSource, public TimeSource {
 public:
  TimePoint Now() override { return now; }
  int Send(const packet::IpAddress&, packet::Bytes) override {
    ++sent;
    if (engine) peak_active = std::max(peak_active, engine->active());
    return 0;
  }
  void Poll(Duration max_wait, const Handler&) override {
    now += std::max<Duration>(max_wait, 1ms);
  }

  TimePoint now = TimePoint{} + std::chrono::hours(24 * 365 * 50);
  const Engine* engine = nullptr;
  std::size_t peak_active = 0;
  std::uint64_t sent = 0;
};

EngineOptions Fast(int send_batch = 64) {
  EngineOptions o;
  o.rate = 1e7;
  o.seed = 7;
  o.send_batch = send_batch;
  return o;
}

TraceJob Job(int i) {
  TraceJob job;
  job.host = "t" + std::to_string(i) + ".example";
  job.port = static_cast<std::uint16_t>(1000 + i % 60000);
  job.target = job.host + ":" + std::to_string(job.port);
  job.destination = *packet::IpAddress::Parse("198.18." + std::to_string(i / 250 % 256) + "." +
                                              std::to_string(i % 250 + 1));
  job.source = *packet::IpAddress::Parse("192.0.2.1");
  // The shortest trace there is: one TTL, one probe, no retries.
  job.settings.first_hop = 1;
  job.settings.max_hops = 1;
  job.settings.probes_per_hop = 1;
  job.settings.gap_limit = 1;
  job.settings.max_retries = 0;
  job.settings.timeout = 10ms;
  job.settings.ping = false;
  return job;
}

struct Collected {
  std::map<std::uint64_t, TraceResult> results;
  int duplicates = 0;
};

Collected RunAll(MeasurementRounds& rounds, Engine& engine) {
  Collected run;
  rounds.RunUntilDone(engine, [&](CompletedRound done) {
    if (!run.results.emplace(done.round_id, std::move(done.result)).second) ++run.duplicates;
  });
  return run;
}

TEST(MeasurementRoundsTest, QueuedRoundsWaitForSlotsAndAllComeBackNamed) {
  SilentNetwork net;
  Engine engine(Fast(), net, net, net);
  net.engine = &engine;
  MeasurementRounds rounds(5);
  for (int i = 0; i < 12; ++i) rounds.Queue(Job(i), static_cast<std::uint64_t>(i), 2);
  rounds.Queue(Job(12), 12, 1);
  Collected run = RunAll(rounds, engine);
  EXPECT_EQ(run.duplicates, 0);
  ASSERT_EQ(run.results.size(), 13u);
  for (int i = 0; i < 13; ++i) {
    const TraceResult& r = run.results.at(static_cast<std::uint64_t>(i));
    EXPECT_EQ(r.target, Job(i).target);
    EXPECT_EQ(r.port, Job(i).port);
    EXPECT_NE(r.outcome, Outcome::kError) << r.error;
  }
  EXPECT_LE(net.peak_active, 5u);
  EXPECT_GE(net.peak_active, 4u);  // two rounds of two at once, at least
  EXPECT_EQ(rounds.queued(), 0u);
  EXPECT_EQ(engine.active(), 0u);
}

TEST(MeasurementRoundsTest, StartsAllFlowsOfARoundOrNone) {
  SilentNetwork net;
  Engine engine(Fast(), net, net, net);
  MeasurementRounds rounds(4);
  EXPECT_TRUE(rounds.Start(engine, Job(0), 0, 3));
  EXPECT_EQ(engine.active(), 3u);
  // One slot is left: a round of two flows does not start half-way.
  EXPECT_FALSE(rounds.Start(engine, Job(1), 1, 2));
  EXPECT_EQ(engine.active(), 3u);
  EXPECT_FALSE(rounds.running(1));
  EXPECT_TRUE(rounds.Start(engine, Job(2), 2, 1));
}

TEST(MeasurementRoundsTest, ARoundThatCanNeverFitIsAnErrorNamingItsTarget) {
  SilentNetwork net;
  Engine engine(Fast(), net, net, net);
  MeasurementRounds rounds(2);
  rounds.Queue(Job(0), 0, 3);
  rounds.Queue(Job(1), 1, 1);
  Collected run = RunAll(rounds, engine);
  ASSERT_EQ(run.results.size(), 2u);
  const TraceResult& r = run.results.at(0);
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_EQ(r.target, Job(0).target);
  EXPECT_EQ(r.port, Job(0).port);
  EXPECT_EQ(r.error, "a round of 3 flows does not fit in the engine");
  EXPECT_NE(run.results.at(1).outcome, Outcome::kError);
}

TEST(MeasurementRoundsTest, DroppedQueuedRoundNeverStarts) {
  SilentNetwork net;
  Engine engine(Fast(), net, net, net);
  MeasurementRounds rounds(1);
  rounds.Queue(Job(0), 0, 1);
  rounds.Queue(Job(1), 1, 1);
  rounds.Drop(1);
  EXPECT_EQ(rounds.queued(), 1u);
  Collected run = RunAll(rounds, engine);
  EXPECT_EQ(run.results.size(), 1u);
  EXPECT_EQ(run.results.count(1), 0u);
}

// The case at the engine's real size: 4,100 targets with 16 flows are
// 65,600 traces, more than the 65,536 slots.
TEST(MeasurementRoundsTest, MoreTracesThanEngineSlotsAllFinishNamed) {
  SilentNetwork net;
  Engine engine(Fast(4096), net, net, net);
  net.engine = &engine;
  MeasurementRounds rounds;
  constexpr int kTargets = 4100;
  for (int i = 0; i < kTargets; ++i) rounds.Queue(Job(i), static_cast<std::uint64_t>(i), kMaxFlows);
  Collected run = RunAll(rounds, engine);
  EXPECT_EQ(run.duplicates, 0);
  ASSERT_EQ(run.results.size(), static_cast<std::size_t>(kTargets));
  int errors = 0;
  for (const auto& [id, r] : run.results) {
    EXPECT_EQ(r.target, Job(static_cast<int>(id)).target);
    EXPECT_EQ(r.port, Job(static_cast<int>(id)).port);
    errors += r.outcome == Outcome::kError;
  }
  EXPECT_EQ(errors, 0);
  EXPECT_LE(net.peak_active, kEngineTraceSlots);
  EXPECT_GT(net.peak_active, kEngineTraceSlots - kMaxFlows);
}

}  // namespace
}  // namespace portpath::probe
