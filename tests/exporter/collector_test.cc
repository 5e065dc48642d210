#include "exporter/collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "exporter/http_server.h"
#include "probe/packet/reply.h"
#include "test_snapshots.h"

namespace portpath::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using LabelMap = std::map<std::string, std::string>;
using namespace test_data;

LabelMap ToMap(const ClientMetric& m) {
  LabelMap out;
  for (const auto& l : m.label) out[l.name] = l.value;
  return out;
}

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, std::string_view name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

/// Every series of `name` whose labels include all of `match`.
std::vector<LabelMap> Series(const std::vector<MetricFamily>& families, std::string_view name,
                             const LabelMap& match = {}, std::vector<double>* values = nullptr) {
  std::vector<LabelMap> out;
  const MetricFamily* f = FindFamily(families, name);
  if (!f) return out;
  for (const auto& m : f->metric) {
    LabelMap labels = ToMap(m);
    bool ok = true;
    for (const auto& [k, v] : match) ok = ok && labels.count(k) && labels.at(k) == v;
    if (!ok) continue;
    out.push_back(labels);
    if (values) values->push_back(f->type == MetricType::Counter ? m.counter.value : m.gauge.value);
  }
  return out;
}

/// The value of the only series of `name` matching `match`; fails otherwise.
std::optional<double> Value(const std::vector<MetricFamily>& families, std::string_view name,
                            const LabelMap& match = {}) {
  std::vector<double> values;
  auto s = Series(families, name, match, &values);
  if (s.size() != 1) return std::nullopt;
  return values[0];
}

Snapshot Of(std::vector<TargetSnapshot> targets) {
  Snapshot s;
  s.targets = std::move(targets);
  return s;
}

const LabelMap kDb = {{"target", "db.example.com:5432"}};
const LabelMap kWeb = {{"target", "web.example.com:443"}};
const LabelMap kMail = {{"target", "mail.example.com:25"}};
const LabelMap kNope = {{"target", "nope.invalid:80"}};
const LabelMap kNew = {{"target", "new.example.com:22"}};

LabelMap And(LabelMap a, const LabelMap& b) {
  a.insert(b.begin(), b.end());
  return a;
}

TEST(CollectorTest, OpenPortReportsReachedOpenAndHopsToDestination) {
  auto f = RenderSnapshot(Of({OpenTarget()}));
  EXPECT_EQ(Value(f, "portpath_destination_reached", kDb), 1);
  EXPECT_EQ(Value(f, "portpath_port_open", kDb), 1);
  EXPECT_EQ(Value(f, "portpath_hops_to_destination", kDb), 3);
  EXPECT_EQ(Value(f, "portpath_last_responding_hop_ttl", kDb), 3);
  EXPECT_EQ(Value(f, "portpath_trace_duration_seconds", kDb), 1.5);
  EXPECT_EQ(Value(f, "portpath_last_trace_timestamp_seconds", kDb), 1700000000.5);
  EXPECT_EQ(Value(f, "portpath_target_address_info", And(kDb, {{"address", "192.0.2.10"}})), 1);
  EXPECT_EQ(Value(f, "portpath_skipped_rounds_total", kDb), 1);
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_info").empty());
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_ttl").empty());
  // No family is printed without series.
  EXPECT_EQ(FindFamily(f, "portpath_blocked_hop_info"), nullptr);
}

TEST(CollectorTest, OutcomeIsOneHotOverAllValues) {
  auto f = RenderSnapshot(Of({OpenTarget(), FilteredTarget(), ProhibitedTarget(), ErrorTarget()}));
  const std::pair<LabelMap, std::string> cases[] = {
      {kDb, "open"}, {kWeb, "filtered"}, {kMail, "prohibited"}, {kNope, "error"}};
  for (const auto& [target, current] : cases) {
    std::vector<double> values;
    auto series = Series(f, "portpath_outcome", target, &values);
    ASSERT_EQ(series.size(), probe::kOutcomeCount) << target.at("target");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < series.size(); ++i) {
      const std::string& o = series[i].at("outcome");
      seen.insert(o);
      EXPECT_EQ(values[i], o == current ? 1 : 0) << target.at("target") << " outcome=" << o;
    }
    EXPECT_EQ(seen, (std::set<std::string>{"open", "closed", "filtered", "prohibited",
                                           "unreachable", "error", "reset_by_middlebox",
                                           "answered_by_middlebox"}));
  }
}

TEST(CollectorTest, FilteredTargetNamesTheBlockedHopAndItsAddressClass) {
  auto f = RenderSnapshot(Of({FilteredTarget()}));
  auto blocked = Series(f, "portpath_blocked_hop_info", kWeb);
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].at("ttl"), "2");
  EXPECT_EQ(blocked[0].at("hop_address"), "100.64.0.1");
  EXPECT_EQ(blocked[0].at("address_class"), "shared");
  EXPECT_EQ(Value(f, "portpath_blocked_hop_info", kWeb), 1);
  EXPECT_EQ(Value(f, "portpath_blocked_hop_ttl", kWeb), 2);
  EXPECT_EQ(Value(f, "portpath_destination_reached", kWeb), 0);
  EXPECT_EQ(Value(f, "portpath_port_open", kWeb), 0);
  EXPECT_EQ(Value(f, "portpath_last_responding_hop_ttl", kWeb), 2);
  EXPECT_TRUE(Series(f, "portpath_hops_to_destination").empty());
}

TEST(CollectorTest, ProhibitedTargetNamesTheRefusingRouter) {
  auto f = RenderSnapshot(Of({ProhibitedTarget()}));
  auto blocked = Series(f, "portpath_blocked_hop_info", kMail);
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].at("ttl"), "2");
  EXPECT_EQ(blocked[0].at("hop_address"), "93.184.216.34");
  EXPECT_EQ(blocked[0].at("address_class"), "public");
  EXPECT_EQ(Value(f, "portpath_blocked_hop_ttl", kMail), 2);
  EXPECT_EQ(Value(f, "portpath_outcome", And(kMail, {{"outcome", "prohibited"}})), 1);
}

TEST(CollectorTest, BlockedHopIsIgnoredWhenTheOutcomeIsNotABlock) {
  // An alert on portpath_blocked_hop_ttl must not fire for an open port, even
  // if a result ever carried a stale blocked hop.
  TargetSnapshot t = OpenTarget();
  t.last->blocked_hop = Ref(1, "10.0.0.1");
  auto f = RenderSnapshot(Of({t}));
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_ttl").empty());
  EXPECT_TRUE(Series(f, "portpath_blocked_hop_info").empty());
}

TEST(CollectorTest, HopSeriesFollowTheHopsOfTheResult) {
  auto f = RenderSnapshot(Of({OpenTarget()}));
  // One series per hop in the result, for each per-hop family that always exists.
  EXPECT_EQ(Series(f, "portpath_hop_responded", kDb).size(), 3u);
  EXPECT_EQ(Series(f, "portpath_hop_loss_ratio", kDb).size(), 3u);
  EXPECT_EQ(Value(f, "portpath_hop_responded", And(kDb, {{"ttl", "1"}})), 1);
  EXPECT_EQ(Value(f, "portpath_hop_responded", And(kDb, {{"ttl", "2"}})), 0);
  // Mean over the answered probes only: (1 + 3) / 2 ms.
  EXPECT_DOUBLE_EQ(*Value(f, "portpath_hop_rtt_seconds", And(kDb, {{"ttl", "1"}})), 0.002);
  EXPECT_TRUE(Series(f, "portpath_hop_rtt_seconds", And(kDb, {{"ttl", "2"}})).empty());
  EXPECT_DOUBLE_EQ(*Value(f, "portpath_hop_loss_ratio", And(kDb, {{"ttl", "1"}})), 1.0 / 3);
  EXPECT_EQ(Value(f, "portpath_hop_loss_ratio", And(kDb, {{"ttl", "2"}})), 1);
  EXPECT_EQ(Value(f, "portpath_hop_loss_ratio", And(kDb, {{"ttl", "3"}})), 0);
  // hop_info only for hops that answered, with address and class.
  auto info = Series(f, "portpath_hop_info", kDb);
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[0].at("ttl"), "1");
  EXPECT_EQ(info[0].at("hop_address"), "10.0.0.1");
  EXPECT_EQ(info[0].at("address_class"), "private");
  EXPECT_EQ(info[1].at("ttl"), "3");
  EXPECT_EQ(info[1].at("hop_address"), "192.0.2.10");
  EXPECT_EQ(info[1].at("address_class"), "documentation");
}

TEST(CollectorTest, ErrorTargetHasOutcomeButNoPathSeries) {
  auto f = RenderSnapshot(Of({ErrorTarget()}));
  EXPECT_EQ(Value(f, "portpath_outcome", And(kNope, {{"outcome", "error"}})), 1);
  EXPECT_EQ(Value(f, "portpath_destination_reached", kNope), 0);
  for (const char* absent : {"portpath_hop_responded", "portpath_hop_info",
                             "portpath_target_address_info", "portpath_blocked_hop_info",
                             "portpath_last_responding_hop_ttl", "portpath_hops_to_destination"}) {
    EXPECT_TRUE(Series(f, absent, kNope).empty()) << absent;
  }
}

TEST(CollectorTest, TargetWithoutResultExportsOnlyInfoAndCounters) {
  auto f = RenderSnapshot(RichSnapshot());
  std::set<std::string> names;
  for (const auto& family : f) {
    if (!Series(f, family.name, kNew).empty()) names.insert(family.name);
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"portpath_target_info", "portpath_skipped_rounds_total",
                                   "portpath_path_changes_total"}));
  EXPECT_EQ(Value(f, "portpath_skipped_rounds_total", kNew), 3);
  EXPECT_EQ(Value(f, "portpath_target_info", And(kNew, {{"team", "ops"}})), 1);
  // Every configured target has an info series, traced or not.
  EXPECT_EQ(Series(f, "portpath_target_info").size(), 5u);
}

TEST(CollectorTest, EveryTargetSeriesCarriesTargetAndConfigLabels) {
  auto f = RenderSnapshot(RichSnapshot());
  int checked = 0;
  for (const auto& family : f) {
    for (const auto& m : family.metric) {
      LabelMap labels = ToMap(m);
      if (!labels.count("target")) continue;
      ++checked;
      const std::string& target = labels.at("target");
      EXPECT_EQ(labels.at("host") + ":" + labels.at("port"), target) << family.name;
      if (target == "db.example.com:5432") {
        EXPECT_EQ(labels["team"], "storage") << family.name;
        EXPECT_EQ(labels["env"], "prod") << family.name;
      } else if (target == "web.example.com:443") {
        EXPECT_EQ(labels["team"], "web") << family.name;
      }
    }
  }
  EXPECT_GT(checked, 40);
  // The self metrics are the loop's, not a target's.
  EXPECT_TRUE(Series(f, "portpath_probes_sent_total", {{"target", "db.example.com:5432"}}).empty());
}

TEST(CollectorTest, SelfMetricsCoverEveryReasonTypeAndOutcome) {
  auto f = RenderSnapshot(RichSnapshot());
  EXPECT_EQ(Value(f, "portpath_probes_sent_total"), 1234);
  EXPECT_EQ(Value(f, "portpath_send_errors_total"), 2);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "time_exceeded"}}), 100);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "unreachable"}}), 3);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "syn_ack"}}), 40);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "rst"}}), 5);
  EXPECT_EQ(Value(f, "portpath_replies_total", {{"type", "echo_reply"}}), 0);
  EXPECT_EQ(Series(f, "portpath_replies_total").size(), 5u);

  // Zeros included, one series per DropReason.
  EXPECT_EQ(Series(f, "portpath_replies_ignored_total").size(),
            static_cast<std::size_t>(packet::DropReason::kCount));
  EXPECT_EQ(Value(f, "portpath_replies_ignored_total",
                  {{"reason", std::string(packet::ToString(packet::DropReason::kUnrelatedIcmp))}}),
            17);
  EXPECT_EQ(Value(f, "portpath_replies_ignored_total",
                  {{"reason", std::string(packet::ToString(packet::DropReason::kTruncated))}}),
            0);

  EXPECT_EQ(Series(f, "portpath_traces_total").size(), probe::kOutcomeCount);
  EXPECT_EQ(Value(f, "portpath_traces_total", {{"outcome", "open"}}), 10);
  EXPECT_EQ(Value(f, "portpath_traces_total", {{"outcome", "prohibited"}}), 2);
  EXPECT_EQ(Value(f, "portpath_traces_total", {{"outcome", "error"}}), 1);

  EXPECT_EQ(Value(f, "portpath_config_last_reload_successful"), 0);
  EXPECT_EQ(Value(f, "portpath_config_last_reload_success_timestamp_seconds"), 1699999000);
  EXPECT_EQ(Value(f, "portpath_config_reloads_total"), 3);
  EXPECT_EQ(Value(f, "portpath_config_reload_failures_total"), 1);
  EXPECT_EQ(FindFamily(f, "portpath_probes_sent_total")->type, MetricType::Counter);
}

TEST(CollectorTest, TargetRemovedFromSnapshotDisappearsAtNextScrape) {
  auto current =
      std::make_shared<std::atomic<SnapshotPtr>>(std::make_shared<const Snapshot>(RichSnapshot()));
  TraceCollector collector([current] { return current->load(); });

  auto before = collector.Collect();
  EXPECT_FALSE(Series(before, "portpath_outcome", kWeb).empty());
  EXPECT_FALSE(Series(before, "portpath_hop_info", kWeb).empty());

  Snapshot without_web = RichSnapshot();
  std::erase_if(without_web.targets,
                [](const TargetSnapshot& t) { return t.target == "web.example.com:443"; });
  current->store(std::make_shared<const Snapshot>(without_web));

  auto after = collector.Collect();
  for (const auto& family : after) {
    EXPECT_TRUE(Series(after, family.name, kWeb).empty()) << family.name;
  }
  EXPECT_FALSE(Series(after, "portpath_outcome", kDb).empty());
}

TEST(CollectorTest, HopThatLeftThePathDisappears) {
  auto current = std::make_shared<std::atomic<SnapshotPtr>>(
      std::make_shared<const Snapshot>(Of({OpenTarget()})));
  TraceCollector collector([current] { return current->load(); });
  EXPECT_EQ(Series(collector.Collect(), "portpath_hop_responded", kDb).size(), 3u);

  TargetSnapshot shorter = OpenTarget();
  shorter.last->hops.resize(1);
  current->store(std::make_shared<const Snapshot>(Of({shorter})));
  auto after = collector.Collect();
  EXPECT_EQ(Series(after, "portpath_hop_responded", kDb).size(), 1u);
  EXPECT_TRUE(Series(after, "portpath_hop_info", And(kDb, {{"ttl", "3"}})).empty());
}

TEST(CollectorTest, NothingPublishedYetYieldsNoFamilies) {
  TraceCollector collector([] { return SnapshotPtr(); });
  EXPECT_TRUE(collector.Collect().empty());
}

TEST(CollectorTest, RenderTargetsLeavesOutSelfMetrics) {
  auto f = RenderTargets({FilteredTarget()});
  EXPECT_EQ(FindFamily(f, "portpath_probes_sent_total"), nullptr);
  EXPECT_EQ(FindFamily(f, "portpath_traces_total"), nullptr);
  EXPECT_EQ(Value(f, "portpath_blocked_hop_ttl", kWeb), 2);
}

TEST(CollectorTest, TextExpositionShowsTheBlockedHopLine) {
  auto collector = std::make_shared<TraceCollector>(
      [] { return std::make_shared<const Snapshot>(Of({FilteredTarget()})); });
  std::string text = RenderMetrics({collector});
  EXPECT_NE(text.find("# TYPE portpath_blocked_hop_info gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("portpath_blocked_hop_info{target=\"web.example.com:443\",host=\"web."
                      "example.com\",port=\"443\",team=\"web\",ttl=\"2\",hop_address=\"100.64.0."
                      "1\",address_class=\"shared\",asn=\"\",as_org=\"\"} 1\n"),
            std::string::npos)
      << text;
  // Counter names already end in _total; the serializer must not add another.
  EXPECT_NE(text.find("# TYPE portpath_probes_sent_total counter\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("_total_total"), std::string::npos) << text;
}

}  // namespace
}  // namespace portpath::exporter
