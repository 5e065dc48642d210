// The probe loop of `portpath serve` over a fake network that records every
// packet and never answers (so traces run their whole course): a reload applies
// the rate, stops the traces of the targets it removed, and publishing shares
// what did not change, and rounds past the engine's slots wait for room.
#include "exporter/prober_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "config/config.h"
#include "probe/io/system.h"
#include "probe/packet_transport.h"

namespace portpath::exporter {
namespace {

using namespace std::chrono_literals;

/// Counts the packets sent to each destination; answers nothing.
class SilentNetwork : public probe::PacketSender, public probe::PacketSource {
 public:
  int Send(const packet::IpAddress& destination, packet::Bytes) override {
    std::lock_guard lock(mu_);
    ++sent_[destination.ToString()];
    return 0;
  }
  void Poll(probe::Duration max_wait, const Handler&) override {
    std::this_thread::sleep_for(std::min<probe::Duration>(max_wait, 2ms));
  }
  int sent(const std::string& destination) {
    std::lock_guard lock(mu_);
    return sent_[destination];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> sent_;
};

class LiteralsOnly : public Resolver {
 public:
  std::optional<packet::IpAddress> Resolve(const std::string&, config::Family,
                                           std::string& error) override {
    error = "no DNS in this test";
    return std::nullopt;
  }
  std::optional<packet::IpAddress> SourceFor(const packet::IpAddress&, std::string&) override {
    ++source_lookups;
    return packet::IpAddress::Parse("192.0.2.2");
  }
  std::atomic<int> source_lookups{0};
};

class ProberServiceTest : public ::testing::Test {
 protected:
  // Rounds start within a second (each at its phase of the interval) and take
  // long: 10 s timeouts, and nothing ever answers.
  static constexpr const char* kConfig =
      "defaults: {interval: 1s, jitter: 0s, timeout: 10s}\n"
      "rate: 1000\n"
      "targets:\n"
      "  - host: 192.0.2.10\n    ports: [443, 80]\n"
      "  - host: 192.0.2.20\n    port: 22\n";

  ProberServiceTest()
      : transport_(network_, network_, 0x5eed),
        service_(Options(), config::ParseConfig(kConfig, "test.yaml"), transport_, clock_,
                 resolver_) {
    loop_ = std::thread([this] { service_.Run(stop_); });
  }

 public:
  ~ProberServiceTest() override {
    stop_ = true;
    loop_.join();
  }

 protected:
  static ServiceOptions Options() {
    ServiceOptions o;
    o.ping = false;
    o.publish_interval = 10ms;
    return o;
  }
  /// Waits (up to 5 s) for a snapshot that satisfies `ok`.
  template <typename Pred>
  SnapshotPtr WaitFor(Pred ok) {
    for (int i = 0; i < 500; ++i) {
      SnapshotPtr s = service_.snapshot();
      if (s && ok(*s)) return s;
      std::this_thread::sleep_for(10ms);
    }
    return nullptr;
  }

  SilentNetwork network_;
  LiteralsOnly resolver_;
  io::SystemClock clock_;
  probe::PacketTransport transport_;
  ProberService service_;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

TEST_F(ProberServiceTest, AReloadAppliesTheRate) {
  ASSERT_TRUE(WaitFor([](const Snapshot& s) { return s.rate_limit == 1000; }));
  std::string config = kConfig;
  config.replace(config.find("rate: 1000"), 10, "rate: 50");
  service_.ApplyReload(config::ParseConfig(config, "test.yaml"), true, 1);
  EXPECT_TRUE(WaitFor([](const Snapshot& s) { return s.rate_limit == 50; }));
}

TEST_F(ProberServiceTest, AReloadStopsTheTracesOfRemovedTargets) {
  // Every target's first round starts within its interval (1 s); the fake
  // network never answers, so the traces keep running.
  ASSERT_TRUE(WaitFor([](const Snapshot& s) { return s.engine.traces_started >= 3; }));
  ASSERT_GT(network_.sent("192.0.2.10"), 0);
  service_.ApplyReload(
      config::ParseConfig("defaults: {interval: 1h}\ntargets:\n  - host: 192.0.2.30\n    port: 9\n",
                          "test.yaml"),
      true, 1);
  SnapshotPtr after = WaitFor(
      [](const Snapshot& s) { return s.targets.size() == 1 && s.engine.traces_cancelled > 0; });
  ASSERT_TRUE(after);
  EXPECT_EQ(after->targets[0].target, "192.0.2.30:9");
  // Nothing more goes to the removed targets.
  int before10 = network_.sent("192.0.2.10"), before20 = network_.sent("192.0.2.20");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(network_.sent("192.0.2.10"), before10);
  EXPECT_EQ(network_.sent("192.0.2.20"), before20);
}

TEST_F(ProberServiceTest, PublishingSharesTheTargetsThatDidNotChange) {
  SnapshotPtr first = WaitFor([](const Snapshot& s) { return s.targets.size() == 3; });
  ASSERT_TRUE(first);
  // A failed reload forces a publish with the targets unchanged: a target
  // that neither finished a round nor skipped one meanwhile is the very same
  // object in both snapshots (a pointer copied, nothing rebuilt).
  SnapshotPtr a = service_.snapshot();
  service_.ApplyReload(std::nullopt, false, 2);
  SnapshotPtr b = WaitFor([](const Snapshot& s) { return !s.last_reload_successful; });
  ASSERT_TRUE(b);
  ASSERT_EQ(a->targets.size(), b->targets.size());
  int shared = 0;
  for (std::size_t i = 0; i < a->targets.size(); ++i) {
    const TargetSnapshot& x = a->targets[i];
    const TargetSnapshot& y = b->targets[i];
    if (x.skipped_rounds != y.skipped_rounds || x.last.has_value() != y.last.has_value()) continue;
    EXPECT_EQ(&x, &y) << x.target;
    ++shared;
  }
  EXPECT_GT(shared, 0);
}

/// A service with `max_traces` engine slots over a SilentNetwork, its loop
/// running until the object goes (or Stop).
class SmallEngineService {
 public:
  SmallEngineService(std::size_t max_traces, const char* config_text,
                     probe::Duration publish_per_target = ServiceOptions{}.publish_per_target)
      : transport_(network, network, 0x5eed),
        service(Options(max_traces, publish_per_target),
                config::ParseConfig(config_text, "test.yaml"), transport_, clock_, resolver_),
        loop_([this] { service.Run(stop_); }) {}
  ~SmallEngineService() { Stop(); }
  void Stop() {
    stop_ = true;
    if (loop_.joinable()) loop_.join();
  }
  SilentNetwork network;

 private:
  static ServiceOptions Options(std::size_t max_traces, probe::Duration publish_per_target) {
    ServiceOptions o;
    o.ping = false;
    o.publish_interval = 10ms;
    o.publish_per_target = publish_per_target;
    o.max_traces = max_traces;
    return o;
  }
  LiteralsOnly resolver_;
  io::SystemClock clock_;
  probe::PacketTransport transport_;

 public:
  ProberService service;

 private:
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

// Past the engine's slots (here 2; in production 65,536, e.g. 10,000 target
// ports with 16 flows each), rounds wait for room and every target still gets
// its own result: none is an error, none blank.
TEST(ProberServiceEngineFullTest, RoundsWaitForRoomInsteadOfFailing) {
  SmallEngineService run(
      2,
      "defaults: {interval: 1s, jitter: 0s, timeout: 50ms, max_hops: 2, probes_per_hop: 1}\n"
      "targets:\n"
      "  - host: 192.0.2.10\n    ports: [443, 80, 22]\n"
      "  - host: 192.0.2.20\n    ports: [25, 8080]\n"
      "  - host: 192.0.2.30\n    port: 53\n    flows: 2\n");
  ProberService& service = run.service;
  SnapshotPtr done;
  for (int i = 0; i < 1000 && !done; ++i) {
    SnapshotPtr s = service.snapshot();
    if (s && s->targets.size() == 6 &&
        std::all_of(s->targets.begin(), s->targets.end(),
                    [](const TargetSnapshot& t) { return bool(t.last); }))
      done = s;
    else
      std::this_thread::sleep_for(10ms);
  }
  run.Stop();
  if (!done) {
    SnapshotPtr s = service.snapshot();
    for (const TargetSnapshot& t : s->targets)
      ADD_FAILURE() << t.target << (t.last ? " finished" : " no round finished") << " skipped "
                    << t.skipped_rounds;
    ADD_FAILURE() << "started " << s->engine.traces_started;
  }
  ASSERT_TRUE(done) << "not every target finished a round";
  ASSERT_EQ(done->targets.size(), 6u);
  for (const TargetSnapshot& t : done->targets) {
    EXPECT_NE(t.last->outcome, probe::Outcome::kError) << t.target << ": " << t.last->error;
    EXPECT_EQ(t.last->target, t.target);
    EXPECT_NE(t.last->port, 0);
  }
  EXPECT_GE(done->engine.traces_started, 7u);  // 5 single-flow rounds + one of 2 flows
}

// At scale a snapshot is rebuilt at most every publish_per_target times the
// target ports (5 s at 10,000 with the default 0.5 ms), not every
// publish_interval: here 3 target ports at 1 s each, so the rounds (50 ms, one
// a second per target) that end after a publish wait until 3 s after it.
TEST(ProberServicePublishTest, AtScaleSnapshotsComeEveryPublishPerTargetTimesTheTargets) {
  SmallEngineService run(
      16,
      "defaults: {interval: 1s, jitter: 0s, timeout: 50ms, max_hops: 2, probes_per_hop: 1}\n"
      "targets:\n"
      "  - host: 192.0.2.10\n    ports: [443, 80, 22]\n",
      1s);
  // The loop's first publish (forced: the configuration applied) shows the
  // targets before any round has finished.
  SnapshotPtr first;
  for (int i = 0; i < 500 && !first; ++i) {
    SnapshotPtr s = run.service.snapshot();
    if (s && s->targets.size() == 3)
      first = s;
    else
      std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(first);
  // Every target finishes a round in the next 1.5 s (with publish_interval
  // alone, each would be shown 10 ms later): none of it is published yet.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(run.service.snapshot(), first);
  EXPECT_GT(run.network.sent("192.0.2.10"), 0);
  SnapshotPtr next;
  for (int i = 0; i < 500 && !next; ++i) {
    SnapshotPtr s = run.service.snapshot();
    if (s != first)
      next = s;
    else
      std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(next) << "no snapshot within 6.5 s of the first";
  EXPECT_TRUE(std::any_of(next->targets.begin(), next->targets.end(),
                          [](const TargetSnapshot& t) { return bool(t.last); }));
}

// A /probe whose caller timed out while its round waited (here for the
// engine's only slot) never starts later: nobody would read its answer.
TEST(ProberServiceEngineFullTest, AnAbandonedProbeRequestNeverStartsLate) {
  // 192.0.2.10 holds the only slot round after round; 192.0.2.20's first
  // scheduled round is 41 s into its hour (its key's phase): none in this test.
  SmallEngineService run(1,
                         "defaults: {jitter: 0s, timeout: 100ms, max_hops: 2, probes_per_hop: 1}\n"
                         "targets:\n"
                         "  - {host: 192.0.2.10, port: 443, interval: 1s}\n"
                         "  - {host: 192.0.2.20, port: 22, interval: 1h}\n");
  SilentNetwork& network = run.network;
  ProberService& service = run.service;
  for (int i = 0; i < 300 && network.sent("192.0.2.10") == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_GT(network.sent("192.0.2.10"), 0);
  auto answer = service.ProbeNow("192.0.2.20:22", 20ms);
  ASSERT_TRUE(std::holds_alternative<ProbeNowError>(answer));
  EXPECT_EQ(std::get<ProbeNowError>(answer), ProbeNowError::kTimedOut);
  // The slot frees and is taken again several times meanwhile.
  std::this_thread::sleep_for(2500ms);
  int to_20 = network.sent("192.0.2.20");
  int to_10 = network.sent("192.0.2.10");
  run.Stop();
  EXPECT_EQ(to_20, 0);
  EXPECT_GT(to_10, 4);  // rounds of 192.0.2.10 did run (the slot did free)
}

namespace refresh {
probe::TraceResult Confirmed(probe::Outcome outcome, int ttl, const char* address) {
  probe::TraceResult r;
  r.outcome = outcome;
  probe::HopRef hop;
  hop.ttl = ttl;
  hop.address = packet::IpAddress::Parse(address);
  r.last_responding_hop = hop;
  if (outcome == probe::Outcome::kOpen || outcome == probe::Outcome::kClosed)
    r.destination_reached = true;
  else
    r.blocked_hop = hop;
  if (outcome == probe::Outcome::kProhibited) r.icmp_code = 13;
  return r;
}
probe::TraceSettings::Round Chosen(const probe::TraceResult* last, int in_a_row = 0,
                                   int allowed = 3, int flows = 1, bool raw = true) {
  probe::TraceSettings s;
  ChooseRefreshRound(last, in_a_row, allowed, flows, raw, s);
  return s.round;
}
}  // namespace refresh

TEST(ProberServiceHelpersTest, ARefreshRoundIsTheKindTheConfirmedVerdictAllows) {
  using refresh::Chosen;
  using refresh::Confirmed;
  using Round = probe::TraceSettings::Round;
  probe::TraceResult open = Confirmed(probe::Outcome::kOpen, 7, "192.0.2.10");
  probe::TraceResult filtered = Confirmed(probe::Outcome::kFiltered, 5, "198.51.100.18");
  probe::TraceResult prohibited = Confirmed(probe::Outcome::kProhibited, 5, "198.51.100.18");
  EXPECT_EQ(Chosen(&open), Round::kRefreshEnd);
  EXPECT_EQ(Chosen(&filtered), Round::kRefreshBlocked);
  EXPECT_EQ(Chosen(&prohibited), Round::kRefreshEnd);
  // What the refresh rests on comes from the verdict.
  probe::TraceSettings s;
  ChooseRefreshRound(&prohibited, 0, 3, 1, true, s);
  EXPECT_EQ(s.known_last_hop, 5);
  EXPECT_EQ(s.known_reply, packet::ReplyType::kUnreachable);
  EXPECT_EQ(s.known_icmp_code, 13);
  EXPECT_EQ(s.known_sender, packet::IpAddress::Parse("198.51.100.18"));
}

TEST(ProberServiceHelpersTest, AFullRoundComesEveryFullRoundEveryAndWhereARefreshCannotConfirm) {
  using refresh::Chosen;
  using refresh::Confirmed;
  using Round = probe::TraceSettings::Round;
  probe::TraceResult open = Confirmed(probe::Outcome::kOpen, 7, "192.0.2.10");
  // full_round_every 4: three refreshes, then a full round.
  EXPECT_EQ(Chosen(&open, 2, 3), Round::kRefreshEnd);
  EXPECT_EQ(Chosen(&open, 3, 3), Round::kFull);
  EXPECT_EQ(Chosen(&open, 0, 0), Round::kFull);  // full_round_every 1
  EXPECT_EQ(Chosen(nullptr), Round::kFull);      // no round yet
  EXPECT_EQ(Chosen(&open, 0, 3, /*flows=*/2), Round::kFull);
  EXPECT_EQ(Chosen(&open, 0, 3, 1, /*raw=*/false), Round::kFull);  // connect mode
  probe::TraceResult unconfirmed = Confirmed(probe::Outcome::kFiltered, 5, "198.51.100.18");
  unconfirmed.blocked_hop_confirmed = false;
  unconfirmed.blocked_hop.reset();
  EXPECT_EQ(Chosen(&unconfirmed), Round::kFull);
  probe::TraceResult middlebox = Confirmed(probe::Outcome::kResetByMiddlebox, 4, "192.0.2.10");
  EXPECT_EQ(Chosen(&middlebox), Round::kFull);
}

TEST(ProberServiceHelpersTest, CompactResultKeepsEverything) {
  probe::TraceResult r;
  r.hops.reserve(16);
  r.hops.resize(2);
  r.hops[0].probes.reserve(8);
  r.hops[0].probes.push_back({1.5, std::nullopt});
  CompactResult(r);
  EXPECT_EQ(r.hops.capacity(), 2u);
  EXPECT_EQ(r.hops[0].probes.capacity(), 1u);
  EXPECT_EQ(*r.hops[0].probes[0].rtt_ms, 1.5);
}

}  // namespace
}  // namespace portpath::exporter
